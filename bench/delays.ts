/**
 * bench/delays.ts — the delay scheduler alone: N tasks (100,000 by default) all due at one
 * instant 30 s ahead, released by one `dist/taskd` worker's scheduler. Lateness is measured
 * where the scheduler's work ends: the server's store time of each released message in
 * `<PREFIX>_TASKS` minus its eta (the queue has no consumer, so task execution does not blur the
 * figure). Worker and nats-server RSS are read from /proc before sending, while all N wait, and
 * after all are released.
 *
 *   node_modules/.bin/bun bench/delays.ts [count] [secondsAhead]
 * @module
 */
import { readFileSync } from "node:fs";
import { AckPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { App } from "../mod.ts";
import { NatsServer } from "../tests/helpers/server.ts";
import { fixture, startWorker } from "../tests/helpers/taskd.ts";

const count = Number(process.argv[2] ?? 100_000);
const ahead = Number(process.argv[3] ?? 30);

function rssMb(pid: number | undefined): number {
  if (!pid) return NaN;
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Math.round(Number(m[1]) / 1024) : NaN;
}

const pct = (s: number[], p: number) => s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];

const server = await NatsServer.start();
const worker = await startWorker(server.url, fixture("failure_tasks.ts"), { args: ["-Q", "idle", "-n", "sched@bench"] });
const nc = await connect({ servers: server.url });
const app = new App("bench", { broker: server.url });
try {
  await new Promise((r) => setTimeout(r, 1000));
  const before = { worker: rssMb(worker.proc.pid), server: rssMb(server.proc?.pid) };
  const due = new Date(Date.now() + ahead * 1000);
  const t0 = Date.now();
  for (let i = 0; i < count; i += 1000) {
    await Promise.all(Array.from({ length: Math.min(1000, count - i) }, (_, j) => app.sendTask("ft.stamp", [i + j], { eta: due, queue: "w3" })));
  }
  const sent = (Date.now() - t0) / 1000;
  if (Date.now() > due.getTime()) throw new Error(`sending took ${sent} s, past the due time; use a later due time`);
  await new Promise((r) => setTimeout(r, Math.max(0, due.getTime() - Date.now() - 2000)));
  const waiting = { worker: rssMb(worker.proc.pid), server: rssMb(server.proc?.pid) };
  const jsm = await jetstreamManager(nc);
  const delayedWaiting = (await jsm.streams.info("TASKD_DELAYED")).state.messages;
  for (;;) {
    const n = (await jsm.streams.info("TASKD_TASKS")).state.messages;
    if (n >= count) break;
    if (Date.now() > due.getTime() + 120_000) throw new Error(`only ${n} of ${count} released after 120 s`);
    await new Promise((r) => setTimeout(r, 250));
  }
  const allReleased = (Date.now() - due.getTime()) / 1000;
  await new Promise((r) => setTimeout(r, 2000));
  const afterAll = { worker: rssMb(worker.proc.pid), server: rssMb(server.proc?.pid) };

  // Read every released message's store time and eta.
  const late: number[] = [];
  console.error(`all ${count} released ${allReleased.toFixed(2)} s after due; RSS MB ${JSON.stringify({ before, waiting, after: afterAll })}`);
  // A work-queue stream takes only explicit-ack pull consumers: a throwaway one on the idle queue.
  await jsm.consumers.add("TASKD_TASKS", { durable_name: "bench-reader", ack_policy: AckPolicy.Explicit, filter_subject: "taskd.tasks.w3", max_ack_pending: -1 });
  const reader = await jetstream(nc).consumers.get("TASKD_TASKS", "bench-reader");
  const it = await reader.consume({ max_messages: 5000 });
  for await (const m of it) {
    late.push(m.info.timestampNanos / 1e6 - Date.parse(m.headers?.get("taskd-eta") ?? ""));
    if (late.length >= count) break;
  }
  late.sort((a, b) => a - b);
  const f = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  const report = {
    count,
    secondsAhead: ahead,
    sendSeconds: Number(sent.toFixed(2)),
    delayedWaiting,
    released: late.length,
    earliestMs: Math.round(late[0]),
    lateness: { p50: f(pct(late, 50)), p99: f(pct(late, 99)), max: f(late.at(-1)!) },
    allReleasedAfterDue: `${allReleased.toFixed(2)} s`,
    rssMb: { before, waiting, after: afterAll },
  };
  console.log(JSON.stringify(report, null, 2));
} finally {
  await app.close();
  await nc.close();
  await worker.stop();
  await server.stop();
}
