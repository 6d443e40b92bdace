// The bounded-resources workload (issue 24; `BENCH_BOUNDED=1 make bench`): one worker with the default
// settings, one client sending `add` tasks in batches of 500 and reading every result, at the
// highest rate the two sustain, for BENCH_BOUNDED_SECONDS (default 600). Every 30 s it prints the
// server's RSS and store size on disk, the results bucket's size against its bounds, and the
// worker's RSS. At the end: no task lost (every result read back and right) and the results of
// the most recent tasks still readable from the bucket.
// Usage (run.sh sets the environment): bun run bench/bounded.ts -- <taskd binary>
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { App, type AsyncResult } from "../mod.ts";
import { brokerRssMiB, log, now, rssMiB, startWorker, writeResult } from "./lib/common.ts";

const argv = process.argv.slice(2);
const binary = argv[argv.indexOf("--") + 1] ?? "dist/taskd";
const broker = process.env.TASKD_BROKER_URL ?? "nats://127.0.0.1:4222";
const seconds = Number(process.env.BENCH_BOUNDED_SECONDS ?? 600);
const every = Number(process.env.BENCH_BOUNDED_EVERY ?? 30);
const store = process.env.BENCH_BOUNDED_STORE;
const batch = 500;
const tasksFile = fileURLToPath(new URL("./tasks.ts", import.meta.url));

const app = new App("bench", { broker });
const add = app.task(function add(x: number, y: number) {
  return x + y;
});

function diskMiB(): number | undefined {
  if (!store) return undefined;
  const kib = Number(execFileSync("du", ["-sk", store], { encoding: "utf8" }).split(/\s/)[0]);
  return Math.round(kib / 102.4) / 10;
}

const w = await startWorker("bounded", { cmd: binary, args: ["worker", tasksFile, "--broker", broker, "-c", "100"] });
const kv = await app.backend.kv();
const jsm = await (await app.broker()).jsm();
const samples: Record<string, number | undefined>[] = [];
let done = 0;
let lost = 0;
let wrong = 0;
let lastIds: string[] = [];
const t0 = now();
let nextSample = every;

async function sample(): Promise<void> {
  const s = await jsm.streams.info(`KV_${app.names.resultsBucket}`);
  const t = await jsm.streams.info(app.names.tasksStream);
  const row = {
    t: Math.round((now() - t0) / 1000),
    done,
    perSecond: Math.round(done / ((now() - t0) / 1000)),
    serverRssMiB: brokerRssMiB(),
    diskMiB: diskMiB(),
    results: s.state.messages,
    resultsMiB: Math.round(s.state.bytes / 104857.6) / 10,
    waiting: t.state.messages,
    workerRssMiB: rssMiB(w.pid),
  };
  samples.push(row);
  log("bounded", Object.entries(row).map(([k, v]) => `${k}=${v}`).join(" "));
}

await sample();
for (let i = 0; (now() - t0) / 1000 < seconds; i++) {
  const sent = await Promise.all(Array.from({ length: batch }, (_, j) => add.delay(i, j) as Promise<AsyncResult>));
  const got = await Promise.allSettled(sent.map((r) => r.get({ timeout: 120 })));
  got.forEach((g, j) => {
    if (g.status === "rejected") lost++;
    else if (g.value !== i + j) wrong++;
  });
  done += batch;
  lastIds = sent.map((r) => r.id);
  if ((now() - t0) / 1000 >= nextSample) {
    nextSample += every;
    await sample();
  }
}
await sample();
// The most recent results must still be in the bucket, read back from the server.
let unreadable = 0;
for (const id of lastIds) if (!(await kv.get(id))) unreadable++;
await w.stop();
await app.close();
const result = { system: "bounded", seconds, batch, done, lost, wrong, recentChecked: lastIds.length, recentUnreadable: unreadable, samples };
log("bounded", `done: ${done} tasks in ${seconds} s, lost ${lost}, wrong ${wrong}, last ${lastIds.length} results unreadable: ${unreadable}`);
writeResult(result);
process.exit(lost || wrong || unreadable ? 1 : 0);
