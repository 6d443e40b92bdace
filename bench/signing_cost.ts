// The cost of signed messages on the tiny task (W1: tasks/s with a window in flight; W2: p50
// round trip): the same worker binary serving bench/tasks.ts, once unsigned and once taking only
// signed messages (--signing-key/--trusted) with a client that signs, alternating rounds so
// drift hits both alike. Prints the medians and the ratios signed/unsigned.
// Usage: bun run bench/signing_cost.ts   (starts its own nats-server)
// Environment: SCOST_N (tasks per round, 3000), SCOST_ROUNDS (4), SCOST_WINDOW (200 in flight).
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createUser } from "@nats-io/nkeys";
import { App } from "../mod.ts";
import { NatsServer } from "../tests/helpers/server.ts";
import { startWorker } from "../tests/helpers/taskd.ts";

const TASKS = fileURLToPath(new URL("./tasks.ts", import.meta.url));

async function throughput(app: App, n: number, window: number): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  const lane = async () => {
    while (next < n) {
      const i = next++;
      await (await app.sendTask("bench.add", [i, 1])).get({ timeout: 30 });
    }
  };
  await Promise.all(Array.from({ length: window }, lane));
  return n / ((performance.now() - t0) / 1000);
}

async function p50(app: App, n: number): Promise<number> {
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await (await app.sendTask("bench.add", [i, 1])).get({ timeout: 30 });
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  return ms[Math.floor(ms.length / 2)];
}

async function main(): Promise<void> {
  const n = Number(process.env.SCOST_N ?? 3000);
  const rounds = Number(process.env.SCOST_ROUNDS ?? 4);
  const window = Number(process.env.SCOST_WINDOW ?? 200);
  const dir = mkdtempSync(join(tmpdir(), "taskd-scost-"));
  const client = createUser();
  const workerKey = createUser();
  writeFileSync(join(dir, "worker.nk"), new TextDecoder().decode(workerKey.getSeed()));
  writeFileSync(join(dir, "trusted"), client.getPublicKey());
  const server = await NatsServer.start();
  const plainApp = new App("scost-plain", { broker: server.url });
  const signedApp = new App("scost-signed", { broker: server.url, signing: { key: new TextDecoder().decode(client.getSeed()) } });
  const run = async (signed: boolean, measure: (app: App) => Promise<number>) => {
    const args = ["-c", "50", ...(signed ? ["--signing-key", join(dir, "worker.nk"), "--trusted", join(dir, "trusted")] : [])];
    const worker = await startWorker(server.url, TASKS, { args });
    try {
      const app = signed ? signedApp : plainApp;
      await throughput(app, 300, 50); // warm up
      return await measure(app);
    } finally {
      await worker.stop();
    }
  };
  try {
    const w1 = { plain: [] as number[], signed: [] as number[] };
    for (let r = 0; r < rounds; r++) {
      w1.plain.push(await run(false, (app) => throughput(app, n, window)));
      w1.signed.push(await run(true, (app) => throughput(app, n, window)));
    }
    const w2 = { plain: await run(false, (app) => p50(app, 300)), signed: await run(true, (app) => p50(app, 300)) };
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const out = {
      system: "taskd-signing-cost",
      runtime: process.versions.bun ? `bun ${process.versions.bun}` : `deno`,
      "W1 unsigned tasks/s (median)": Math.round(median(w1.plain)),
      "W1 signed tasks/s (median)": Math.round(median(w1.signed)),
      "W1 ratio signed/unsigned": Number((median(w1.signed) / median(w1.plain)).toFixed(3)),
      "W2 unsigned p50 ms": Number(w2.plain.toFixed(3)),
      "W2 signed p50 ms": Number(w2.signed.toFixed(3)),
      "W2 ratio signed/unsigned": Number((w2.signed / w2.plain).toFixed(3)),
      rounds_unsigned: w1.plain.map(Math.round),
      rounds_signed: w1.signed.map(Math.round),
    };
    for (const [k, val] of Object.entries(out)) console.log(`${k.padEnd(32)} ${Array.isArray(val) ? val.join(" ") : val}`);
    if (process.env.BENCH_OUT) writeFileSync(process.env.BENCH_OUT, JSON.stringify(out) + "\n");
  } finally {
    await plainApp.close();
    await signedApp.close();
    await server.stop();
  }
}

await main();
