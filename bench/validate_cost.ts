// The cost of validate mode on the tiny task: `add(x, y)` against the same body with
// `validate: true, args: [v.number(), v.number()], returns: v.number()`, in one run against one
// worker (dist/taskd serving this very file), alternating rounds so drift hits both alike.
// Prints throughput and p50 round trip for each, and the ratios; plus the in-process cost of
// checkCall / parseArgs / parseReturn per call.
// Usage: bun run bench/validate_cost.ts            (starts its own nats-server)
//        TASKD_BROKER_URL=nats://… bun run bench/validate_cost.ts
// Environment: VCOST_N (tasks per round, 3000), VCOST_ROUNDS (5), VCOST_WINDOW (200 in flight).
import { App } from "taskd";
import * as v from "valibot";
import { fileURLToPath } from "node:url";

export const app = new App("vcost", { broker: process.env.TASKD_BROKER_URL });

/** The tiny task, plain. */
export const add = app.task(function add(x: number, y: number) {
  return x + y;
});

/** The tiny task in validate mode. */
export const vadd = app.task({ validate: true, args: [v.number(), v.number()], returns: v.number() }, function vadd(x, y) {
  return x + y;
});

/** A model in, a model out (Celery's Pydantic example), for scale. */
export const vmodel = app.task(
  { validate: true, args: [v.object({ value: v.pipe(v.number(), v.integer()) })], returns: v.object({ value: v.string() }) },
  function vmodel(arg) {
    return { value: `example: ${arg.value}` };
  },
);

type Sendable = { delay(x: number, y: number): Promise<Waitable> };
type Waitable = { get(o: { timeout: number }): Promise<unknown>; meta(): Promise<{ status: string } | null> };

/**
 * Missed result notifications: get() timed out although the result was stored. The skeleton's
 * ResultBackend.wait() can miss a result that lands between the subscription and its one
 * kv.get(); counted and reported, so such a stall is visible rather than a hang.
 */
let missed = 0;
async function settle(r: Waitable): Promise<void> {
  try {
    await r.get({ timeout: 3 });
  } catch (e) {
    const meta = await r.meta();
    if (meta?.status !== "SUCCESS") throw e;
    missed++;
  }
}

async function throughput(task: Sendable, n: number, window: number): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  const lane = async () => {
    while (next < n) {
      const i = next++;
      await settle(await task.delay(i, 1));
    }
  };
  await Promise.all(Array.from({ length: window }, lane));
  return n / ((performance.now() - t0) / 1000);
}

async function p50(task: Sendable, n: number): Promise<number> {
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await settle(await task.delay(i, 1));
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  return ms[Math.floor(ms.length / 2)];
}

async function inProcess(): Promise<Record<string, number>> {
  const { validationOf } = await import("../src/validate/validate.ts");
  const spec = validationOf(vadd)!;
  const model = validationOf(vmodel)!;
  const n = 200_000;
  const time = async (fn: (i: number) => Promise<unknown>) => {
    for (let i = 0; i < 10_000; i++) await fn(i); // warm up
    const t0 = performance.now();
    for (let i = 0; i < n; i++) await fn(i);
    return Number((((performance.now() - t0) * 1000) / n).toFixed(3));
  };
  return {
    "checkCall add (µs)": await time((i) => spec.checkCall([i, 1], {})),
    "parseArgs+parseReturn add (µs)": await time(async (i) => spec.parseReturn((await spec.parseArgs([i, 1], {}))[0])),
    "parseArgs+parseReturn model (µs)": await time(async (i) => model.parseReturn({ value: String((await model.parseArgs([{ value: i }], {}))[0]) })),
  };
}

async function main(): Promise<void> {
  const n = Number(process.env.VCOST_N ?? 3000);
  const rounds = Number(process.env.VCOST_ROUNDS ?? 5);
  const window = Number(process.env.VCOST_WINDOW ?? 200);
  const { NatsServer } = await import("../tests/helpers/server.ts");
  const { startWorker } = await import("../tests/helpers/taskd.ts");
  const server = process.env.TASKD_BROKER_URL ? undefined : await NatsServer.start();
  const url = process.env.TASKD_BROKER_URL ?? server!.url;
  process.env.TASKD_BROKER_URL = url;
  const worker = await startWorker(url, fileURLToPath(import.meta.url), { args: ["-c", "50"] });
  try {
    await throughput(add, 500, 50); // warm up both paths
    await throughput(vadd, 500, 50);
    const plain: number[] = [];
    const validated: number[] = [];
    for (let r = 0; r < rounds; r++) {
      plain.push(await throughput(add, n, window));
      validated.push(await throughput(vadd, n, window));
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const lat = { add: await p50(add, 300), vadd: await p50(vadd, 300) };
    const out = {
      system: "taskd-validate-cost",
      runtime: process.versions.bun ? `bun ${process.versions.bun}` : `deno ${(globalThis as { Deno?: { version: { deno: string } } }).Deno?.version.deno}`,
      tasksPerRound: n,
      rounds,
      window,
      "add tasks/s (median)": Math.round(median(plain)),
      "validated add tasks/s (median)": Math.round(median(validated)),
      "throughput ratio validated/plain": Number((median(validated) / median(plain)).toFixed(3)),
      "add p50 ms": Number(lat.add.toFixed(3)),
      "validated add p50 ms": Number(lat.vadd.toFixed(3)),
      "p50 ratio validated/plain": Number((lat.vadd / lat.add).toFixed(3)),
      "missed result notifications": missed,
      rounds_add: plain.map(Math.round),
      rounds_validated: validated.map(Math.round),
      ...(await inProcess()),
    };
    for (const [k, val] of Object.entries(out)) console.log(`${k.padEnd(36)} ${Array.isArray(val) ? val.join(" ") : val}`);
    if (process.env.BENCH_OUT) (await import("node:fs")).writeFileSync(process.env.BENCH_OUT, JSON.stringify(out) + "\n");
  } finally {
    await app.close();
    await worker.stop();
    await server?.stop();
  }
}

if (import.meta.main) {
  await main();
  process.exit(0);
}
