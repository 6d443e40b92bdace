/**
 * bench/beat.ts — one beat (`dist/taskd beat`) firing N schedules (10,000 by default), each
 * every second, for D seconds (20 by default). Lateness is measured where the beat's work ends:
 * the server's store time of each fired message in `<PREFIX>_TASKS` minus its due time
 * (`taskd-scheduled-for`); the queue has no consumer, so task execution does not blur it. The
 * beat's CPU (user + system, from /proc) and RSS are sampled while it fires.
 *
 *   node_modules/.bin/bun bench/beat.ts [schedules] [seconds]
 * @module
 */
import { readFileSync } from "node:fs";
import { spawn } from "node:child_process";
import { AckPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { App } from "../mod.ts";
import { NatsServer } from "../tests/helpers/server.ts";
import { BINARY, ROOT, WorkerProcess } from "../tests/helpers/taskd.ts";

const count = Number(process.argv[2] ?? 10_000);
const seconds = Number(process.argv[3] ?? 20);

function proc(pid: number): { cpuS: number; rssMb: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  const ticks = Number(stat[11]) + Number(stat[12]); // utime + stime, in clock ticks (100/s)
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return { cpuS: ticks / 100, rssMb: m ? Math.round(Number(m[1]) / 1024) : NaN };
}

const pct = (s: number[], p: number) => s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];

const server = await NatsServer.start();
const app = new App("bb", { broker: server.url });
let beat: WorkerProcess | undefined;
try {
  const t0 = Date.now();
  for (let i = 0; i < count; i += 500) {
    await Promise.all(Array.from({ length: Math.min(500, count - i) }, (_, j) => app.schedules.add(`s${i + j}`, { task: "bb.noop", every: 1, options: { queue: "beatbench" } })));
  }
  console.error(`${count} schedules stored in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  beat = new WorkerProcess(spawn(BINARY, ["beat", `${ROOT}/bench/beat_module.ts`, "-l", "warn"], {
    env: { ...process.env, TASKD_BROKER_URL: server.url },
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  }));
  const pid = beat.proc.pid!;
  // Ready when firings arrive.
  const nc = await connect({ servers: server.url });
  const jsm = await jetstreamManager(nc);
  for (let i = 0; ((await jsm.streams.info("TASKD_TASKS").catch(() => null))?.state.messages ?? 0) === 0; i++) {
    if (i > 600) throw new Error(`no firing after 60 s:\n${beat.output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  // Warm-up of 2 s, then the measured window.
  await new Promise((r) => setTimeout(r, 2000));
  const from = Date.now();
  const a = proc(pid);
  const rss: number[] = [];
  while (Date.now() - from < seconds * 1000) {
    await new Promise((r) => setTimeout(r, 1000));
    rss.push(proc(pid).rssMb);
  }
  const b = proc(pid);
  const to = Date.now();
  await beat.stop();
  // Every stored firing whose due time is in the window.
  const late: number[] = [];
  const dues = new Set<string>();
  let dupes = 0;
  // A work-queue stream takes no ordered consumer: a durable one that acks what it read.
  await jsm.consumers.add("TASKD_TASKS", { durable_name: "bench-read", ack_policy: AckPolicy.Explicit, filter_subject: "taskd.tasks.beatbench", max_ack_pending: -1 });
  const oc = await jetstream(nc).consumers.get("TASKD_TASKS", "bench-read");
  const total = (await jsm.streams.info("TASKD_TASKS")).state.messages;
  const iter = await oc.consume();
  let read = 0;
  for await (const m of iter) {
    read++;
    m.ack();
    const due = Date.parse(m.headers?.get("taskd-scheduled-for") ?? "");
    if (due >= from && due < to - 1000) {
      late.push(m.info.timestampNanos / 1e6 - due);
      const key = `${m.headers?.get("taskd-schedule")}@${due}`;
      if (dues.has(key)) dupes++;
      dues.add(key);
    }
    if (read >= total) break;
  }
  late.sort((x, y) => x - y);
  const expected = count * Math.floor((to - 1000 - from) / 1000);
  const result = {
    schedules: count,
    windowS: Math.round((to - from) / 1000),
    firings: late.length,
    expectedAbout: expected,
    duplicates: dupes,
    latenessMs: { p50: Math.round(pct(late, 50)), p99: Math.round(pct(late, 99)), max: Math.round(late[late.length - 1]) },
    beatCpuPercent: Math.round(((b.cpuS - a.cpuS) / ((to - from) / 1000)) * 100),
    beatRssMb: { median: pct([...rss].sort((x, y) => x - y), 50), max: Math.max(...rss) },
  };
  console.log(JSON.stringify(result, null, 2));
  await nc.close();
} finally {
  await beat?.stop();
  await app.close();
  await server.stop();
}
