// The scale workloads (`BENCH_SCALE=1 make bench`; bench/README.md "Scale workloads"): how taskd's
// cost grows with the work. run.sh starts a fresh nats-server for each workload and size and
// calls this driver once per workload; a last call prints one table from their JSON files.
//
//   bun run bench/scale.ts run <workload> <n> -- <taskd binary>   (run.sh sets the environment)
//   bun run bench/scale.ts report <dir with the JSON files> <bench/results>
//
// Workloads: w1 (reference: n `add` sent with the worker running, every result read back),
// w5 (backlog: n `add` enqueued with no worker, then one worker drains them), w6one / w6many
// (n `stamp` on one queue / round-robin over 100 queues, one worker), w7 (n results with
// resultExpires 60: bucket bounded, then expired), w3a-taskd / w3a-raw (n `stamp` due at one
// instant; raw = bench/raw's delay scheduler), w3b / w3b-raw (n `stamp` due uniformly over 60 s).
// Environment from run.sh: TASKD_BROKER_URL / NATS_URL, BENCH_BROKER_PID, BENCH_PIDFILE,
// BENCH_SCALE_STORE (the server's store directory), BENCH_OUT (where the JSON goes).
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { connect, headers, type NatsConnection } from "@nats-io/transport-node";
import { jetstream, jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { Packr } from "msgpackr";
import { App } from "../mod.ts";
import { log, percentile, round, rssMiB, sleep, startWorker, type RunningWorker, writeResult } from "./lib/common.ts";
import { DELAYED_SUBJECT, packr as rawPackr, resetStreams, RESULTS_BUCKET as RAW_BUCKET } from "./raw/shared.ts";

const msgpack = new Packr({ useRecords: false, moreTypes: false });
const broker = process.env.TASKD_BROKER_URL ?? process.env.NATS_URL ?? "nats://127.0.0.1:4222";
const store = process.env.BENCH_SCALE_STORE;
const serverPid = Number(process.env.BENCH_BROKER_PID) || 0;
const WINDOW = 1000; // sends in flight, as W1 of bench/lib/workloads.ts
const QUEUES = 100;
const EXPIRES = Number(process.env.BENCH_SCALE_RESULT_EXPIRES || 60);
const tasksFile = fileURLToPath(new URL("./tasks.ts", import.meta.url));
const scaleTasksFile = fileURLToPath(new URL("./scale_tasks.ts", import.meta.url));
const rawWorkerFile = fileURLToPath(new URL("./raw/worker.ts", import.meta.url));
const RESULTS_STREAM = "KV_taskd_results"; // App "bench" with the default prefix "taskd"
const RAW_RESULTS_STREAM = `KV_${RAW_BUCKET}`;

// ---- measuring ---------------------------------------------------------------------------------
/** CPU seconds (user + system, all threads) of one process; NaN once it is gone. */
function cpuS(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in clock ticks (USER_HZ 100)
  } catch {
    return NaN;
  }
}
const serverRss = (): number => (serverPid ? rssMiB(serverPid) : NaN);
const serverCpu = (): number => (serverPid ? cpuS(serverPid) : NaN);
/** The server's store directory on disk, MiB (du). */
function diskMiB(): number {
  if (!store) return NaN;
  try {
    return round(Number(execFileSync("du", ["-sk", store], { encoding: "utf8" }).split(/\s/)[0]) / 1024, 1);
  } catch {
    return NaN;
  }
}
const secs = (ms: number): number => round(ms / 1000, 2);

/** Samples worker and server RSS (and optionally more) every `everyMs`; keeps peaks and the series. */
class Sampler {
  series: { t: number; worker?: number; server: number }[] = [];
  peakServer = 0;
  peakWorker = 0;
  #timer?: ReturnType<typeof setInterval>;
  constructor(readonly t0: number, public workerPid = 0) {}
  sample(): void {
    const worker = this.workerPid ? rssMiB(this.workerPid) : undefined;
    const server = serverRss();
    if (worker !== undefined) this.peakWorker = Math.max(this.peakWorker, worker);
    this.peakServer = Math.max(this.peakServer, server);
    this.series.push({ t: secs(Date.now() - this.t0), worker, server });
  }
  start(everyMs = 1000): this {
    this.sample();
    this.#timer = setInterval(() => this.sample(), everyMs);
    return this;
  }
  stop(): void {
    clearInterval(this.#timer);
    this.sample();
  }
}

/** Run fn(i) for i in [0, count) with at most `window` calls in flight. */
async function pool(count: number, window: number, fn: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < count) await fn(next++);
  };
  await Promise.all(Array.from({ length: Math.min(window, count) }, lane));
}

async function streamState(jsm: JetStreamManager, name: string) {
  try {
    const s = (await jsm.streams.info(name)).state;
    return { messages: s.messages, bytes: s.bytes, lastSeq: s.last_seq, lastTs: Date.parse(s.last_ts), firstTs: Date.parse(s.first_ts) };
  } catch {
    return { messages: 0, bytes: 0, lastSeq: 0, lastTs: NaN, firstTs: NaN };
  }
}

/** Until the stream has had `n` puts (last_seq: expiry does not lower it), polling every `everyMs`. */
async function waitPuts(jsm: JetStreamManager, stream: string, n: number, deadlineMs: number, everyMs = 1000, onPoll?: () => void) {
  for (;;) {
    const s = await streamState(jsm, stream);
    onPoll?.();
    if (s.lastSeq >= n) return s;
    if (Date.now() > deadlineMs) throw new Error(`${stream}: only ${s.lastSeq} of ${n} results stored by the deadline`);
    await sleep(everyMs);
  }
}

/** Read every message of a stream (an ordered consumer): fn(subject, data, stored ms). */
async function readStream(nc: NatsConnection, stream: string, count: number, fn: (subject: string, data: Uint8Array, storedMs: number) => void): Promise<number> {
  if (count === 0) return 0;
  const c = await jetstream(nc).consumers.get(stream, {});
  const msgs = await c.consume({ max_messages: 5000 });
  let n = 0;
  for await (const m of msgs) {
    fn(m.subject, m.data, m.info.timestampNanos / 1e6);
    if (++n >= count || m.info.pending === 0) break;
  }
  await msgs.close().catch(() => {});
  return n;
}

function pcts(xs: number[]): Record<string, number> {
  xs.sort((a, b) => a - b);
  return {
    min: round(xs[0] / 1000, 3), p50: round(percentile(xs, 50) / 1000, 3), p99: round(percentile(xs, 99) / 1000, 3),
    max: round(xs[xs.length - 1] / 1000, 3), early: xs.filter((x) => x < -10).length,
  };
}

// BENCH_SCALE_WORKER_ARGS: more `taskd worker` options for every taskd worker (e.g. "--prefetch 10").
const workerArgs = (process.env.BENCH_SCALE_WORKER_ARGS ?? "").split(/\s+/).filter(Boolean);
const taskdWorker = (bin: string, module: string, extra: string[] = []) =>
  ({ cmd: bin, args: ["worker", module, "--broker", broker, "-c", "100", ...extra, ...workerArgs] });

function clientApp(extra: Record<string, unknown> = {}) {
  // replies off: these clients only enqueue and never call get(), so the worker stores results
  // without sending them back (docs/results.md); the client would otherwise decode every one
  const app = new App("bench", { broker, resultReplies: false, ...extra });
  return {
    app,
    add: app.task(function add(x: number, y: number) { return x + y; }),
    stamp: app.task(function stamp() { return Date.now(); }),
  };
}

// ---- the workloads -------------------------------------------------------------------------------
type Out = Record<string, unknown>;

/** W1 reference: n `add` with the worker running, every result read back (as bench W1). */
async function w1(n: number, bin: string): Promise<Out> {
  const w = await startWorker("scale-w1", taskdWorker(bin, tasksFile));
  try {
    await sleep(1000);
    const app = new App("bench", { broker });
    const add = app.task(function add(x: number, y: number) { return x + y; });
    const c0 = { w: cpuS(w.pid), s: serverCpu() };
    const waits: Promise<unknown>[] = [];
    const t = performance.now();
    await pool(n, WINDOW, async (i) => {
      const r = await add.delay(i, 1);
      waits.push(r.get({ timeout: 300 }));
    });
    const values = await Promise.all(waits);
    const s = (performance.now() - t) / 1000;
    const bad = values.filter((v) => typeof v !== "number").length;
    await app.close();
    return { n, perS: round(n / s, 0), seconds: round(s, 2), bad, workerCpuS: round(cpuS(w.pid) - c0.w, 1), serverCpuS: round(serverCpu() - c0.s, 1), workerRssEnd: rssMiB(w.pid), serverRssEnd: serverRss() };
  } finally {
    await w.stop();
  }
}

/** W5 backlog: enqueue n with no worker, then one worker (-c 100) drains them. */
async function w5(n: number, bin: string): Promise<Out> {
  const nc = await connect({ servers: broker });
  const jsm = await jetstreamManager(nc);
  const { app, add } = clientApp();
  const t0 = Date.now();
  const samp = new Sampler(t0).start(1000);
  const s0 = serverCpu();
  const cl0 = process.cpuUsage();
  await pool(n, WINDOW, (i) => add.delay(i, 1));
  const enqS = (Date.now() - t0) / 1000;
  const clientCpuS = round((process.cpuUsage(cl0).user + process.cpuUsage(cl0).system) / 1e6, 1);
  await app.close();
  const queued = (await streamState(jsm, "TASKD_TASKS")).messages;
  samp.stop();
  const enqueue = {
    perS: round(n / enqS, 0), seconds: round(enqS, 2), queued, serverCpuS: round(serverCpu() - s0, 1), clientCpuS,
    serverRss: serverRss(), serverRssPeak: samp.peakServer, diskMiB: diskMiB(),
  };
  log("w5", `enqueued ${n}: ${JSON.stringify(enqueue)}`);

  const w = await startWorker("scale-w5", taskdWorker(bin, tasksFile));
  const ready = Date.now();
  const ws = new Sampler(ready, w.pid).start(1000);
  const c0 = { w: cpuS(w.pid), s: serverCpu() };
  let done;
  try {
    done = await waitPuts(jsm, RESULTS_STREAM, n, ready + Math.max(300, n / 200) * 1000, 1000);
  } finally {
    ws.stop();
  }
  const drainS = (done.lastTs - ready) / 1000; // the last result's store time, not the poll's
  const cpu = { workerCpuS: round(cpuS(w.pid) - c0.w, 1), serverCpuS: round(serverCpu() - c0.s, 1) };
  // worker RSS while draining: the samples between ready and the last result, halves compared
  const during = ws.series.filter((x) => x.t <= drainS + 1 && x.worker !== undefined).map((x) => x.worker!);
  const half = Math.floor(during.length / 2);
  const firstMax = Math.max(...during.slice(0, Math.max(1, half)));
  const secondMax = Math.max(...during.slice(half));
  await sleep(2000);
  const drain = {
    perS: round(n / drainS, 0), seconds: round(drainS, 2), readyMs: w.readyMs, ...cpu,
    workerRssStart: during[0], workerRssPeak: ws.peakWorker, workerRssEnd: rssMiB(w.pid),
    workerRssFirstHalfMax: firstMax, workerRssSecondHalfMax: secondMax, workerRssGrowth: round(secondMax / firstMax, 3),
    workerRssSamples: during.length, flat: secondMax <= firstMax * 1.1 || secondMax - firstMax < 10,
    serverRssPeak: ws.peakServer, serverRssEnd: serverRss(), diskMiB: diskMiB(), left: (await streamState(jsm, "TASKD_TASKS")).messages,
    completion: "KV_taskd_results last_seq reached n (polled every 1 s); drain time = its last_ts minus the worker's ready line",
  };
  log("w5", `drained ${n}: ${JSON.stringify(drain)}`);
  await w.stop();
  await nc.close();
  return { n, enqueue, drain, rssSeries: ws.series };
}

/** W6: n `stamp` on `queues` queues (round-robin) with one worker consuming all of them. */
async function w6(n: number, bin: string, queues: number): Promise<Out> {
  const names = Array.from({ length: queues }, (_, q) => `q${q}`);
  const nc = await connect({ servers: broker });
  const jsm = await jetstreamManager(nc);
  const w = await startWorker(`scale-w6-${queues}`, taskdWorker(bin, tasksFile, ["-Q", names.join(",")]));
  const samp = new Sampler(Date.now(), w.pid).start(1000);
  let sendS = 0;
  let t0 = 0;
  let c0 = { w: 0, s: 0 };
  let done;
  try {
    await sleep(1000);
    const { app, stamp } = clientApp();
    c0 = { w: cpuS(w.pid), s: serverCpu() };
    t0 = Date.now();
    // the id carries the queue and the index, so the stored results say which queue ran when
    await pool(n, WINDOW, (i) => stamp.applyAsync([], { queue: names[i % queues], taskId: `q${i % queues}-${i}` }));
    sendS = (Date.now() - t0) / 1000;
    await app.close();
    done = await waitPuts(jsm, RESULTS_STREAM, n, Date.now() + Math.max(300, n / 200) * 1000, 1000);
  } finally {
    samp.stop();
  }
  const cpu = { workerCpuS: round(cpuS(w.pid) - c0.w, 1), serverCpuS: round(serverCpu() - c0.s, 1) };
  const workerRssEnd = rssMiB(w.pid);
  await w.stop();
  // when each task ran (its stamp), per queue
  const first = new Array(queues).fill(Infinity);
  const last = new Array(queues).fill(0);
  const ran: number[][] = names.map(() => []);
  let read = 0;
  let bad = 0;
  const prefix = `$KV.taskd_results.`.length;
  read = await readStream(nc, RESULTS_STREAM, n, (subject, data) => {
    const id = subject.slice(prefix);
    const q = Number(id.slice(1, id.indexOf("-")));
    const at = (msgpack.unpack(data) as { result: unknown }).result;
    if (typeof at !== "number" || !(q >= 0 && q < queues)) { bad++; return; }
    ran[q].push(at - t0);
    first[q] = Math.min(first[q], at - t0);
    last[q] = Math.max(last[q], at - t0);
  });
  const endMs = Math.max(...last);
  const perS = round(n / (endMs / 1000), 0);
  const out: Out = {
    n, queues, readyMs: w.readyMs, perS, seconds: secs(endMs), sendPerS: round(n / sendS, 0), sendS: round(sendS, 2), read, bad, ...cpu,
    workerRssStart: samp.series[0]?.worker, workerRssPeak: samp.peakWorker, workerRssEnd,
    serverRssPeak: samp.peakServer, serverRssEnd: serverRss(), diskMiB: diskMiB(),
    completion: "KV_taskd_results last_seq reached n; rate = n / (latest stamp - first send)",
    rssSeries: samp.series.map((x) => [x.t, x.worker, x.server]), // [s, worker MiB, server MiB] every second
  };
  if (queues > 1) {
    // fairness: when each queue's last task ran, and how even the queues' progress was midway
    const mid = endMs / 2;
    const atMid = ran.map((xs) => xs.filter((x) => x <= mid).length);
    const mean = atMid.reduce((a, b) => a + b, 0) / queues;
    const cv = Math.sqrt(atMid.reduce((a, b) => a + (b - mean) ** 2, 0) / queues) / mean;
    const finishes = [...last].sort((a, b) => a - b);
    out.fairness = {
      lastFinishMinS: secs(finishes[0]), lastFinishMaxS: secs(finishes[queues - 1]),
      lastFinishP50S: secs(percentile(finishes, 50)), spreadS: secs(finishes[queues - 1] - finishes[0]),
      spreadOfRun: round((finishes[queues - 1] - finishes[0]) / endMs, 3),
      firstStartMaxS: secs(Math.max(...first)), doneAtMidMin: Math.min(...atMid), doneAtMidMax: Math.max(...atMid),
      doneAtMidCv: round(cv, 3), slowestQueue: names[last.indexOf(finishes[queues - 1])], fastestQueue: names[last.indexOf(finishes[0])],
    };
  }
  await nc.close();
  return out;
}

/** W7: n results with resultExpires EXPIRES: bucket size and server RSS while stored, then expiry. */
async function w7(n: number, bin: string): Promise<Out> {
  const nc = await connect({ servers: broker });
  const jsm = await jetstreamManager(nc);
  const w = await startWorker("scale-w7", { ...taskdWorker(bin, scaleTasksFile), env: { BENCH_SCALE_RESULT_EXPIRES: String(EXPIRES) } });
  const t0 = Date.now();
  const samp = new Sampler(t0, w.pid).start(1000);
  const every5: Out[] = [];
  let peakMsgs = 0, peakBytes = 0, peakDisk = 0;
  const fiveS = async () => {
    const s = await streamState(jsm, RESULTS_STREAM);
    const row = { t: secs(Date.now() - t0), results: s.messages, stored: s.lastSeq, resultsMiB: round(s.bytes / 1048576, 1), diskMiB: diskMiB(), serverRss: serverRss(), workerRss: rssMiB(w.pid) };
    peakMsgs = Math.max(peakMsgs, s.messages);
    peakBytes = Math.max(peakBytes, row.resultsMiB);
    peakDisk = Math.max(peakDisk, row.diskMiB);
    every5.push(row);
    log("w7", JSON.stringify(row));
    return s;
  };
  let ticker: ReturnType<typeof setInterval> | undefined;
  try {
    const ttl = (await jsm.streams.info(RESULTS_STREAM)).config.max_age / 1e9;
    const { app, add } = clientApp({ resultExpires: EXPIRES });
    ticker = setInterval(() => void fiveS(), 5000);
    const c0 = { w: cpuS(w.pid), s: serverCpu() };
    const ts = Date.now();
    await pool(n, WINDOW, (i) => add.delay(i, 1));
    const sendS = (Date.now() - ts) / 1000;
    await app.close();
    const done = await waitPuts(jsm, RESULTS_STREAM, n, Date.now() + Math.max(300, n / 200) * 1000, 1000);
    const storeS = (done.lastTs - ts) / 1000;
    const cpu = { workerCpuS: round(cpuS(w.pid) - c0.w, 1), serverCpuS: round(serverCpu() - c0.s, 1) };
    const atLastPut = { results: done.messages, serverRss: serverRss(), diskMiB: diskMiB() };
    await w.stop(); // nothing else is stored from here: only expiry changes the bucket
    // until the bucket is ~empty, bounded by EXPIRES + 30 s after the last put
    clearInterval(ticker);
    let expiredAfterS: number | undefined;
    for (;;) {
      const s = await fiveS();
      if (s.messages <= Math.max(0, Math.floor(n * 0.001))) { expiredAfterS = secs(Date.now() - done.lastTs); break; }
      if (Date.now() > done.lastTs + (EXPIRES + 30) * 1000) break;
      await sleep(5000);
    }
    const end = every5[every5.length - 1];
    return {
      n, resultExpires: EXPIRES, bucketTtlS: ttl, perS: round(n / storeS, 0), seconds: round(storeS, 2), sendPerS: round(n / sendS, 0), ...cpu,
      peakResults: peakMsgs, peakResultsMiB: peakBytes, peakDiskMiB: peakDisk, atLastPut,
      expiredAfterS: expiredAfterS ?? null, resultsLeft: end.results, resultsLeftMiB: end.resultsMiB, diskEndMiB: end.diskMiB,
      workerRssStart: samp.series[0]?.worker, workerRssPeak: samp.peakWorker,
      serverRssPeak: Math.max(samp.peakServer, ...every5.map((r) => r.serverRss as number)), serverRssEnd: serverRss(),
      samples: every5,
    };
  } finally {
    clearInterval(ticker);
    samp.stop();
    await w.stop();
    await nc.close();
  }
}

/**
 * W3 on taskd: `stamp` tasks through `applyAsync({ eta })`, one worker (its scheduler runs them):
 * W3a when spanS is 0 (all due aheadS from now), else W3b's spread (task i due at start + 2 s +
 * spanS × i / n). The same shape as {@link w3Raw}.
 */
async function w3Taskd(n: number, bin: string, aheadS: number, spanS = 0): Promise<Out> {
  const nc = await connect({ servers: broker });
  const jsm = await jetstreamManager(nc);
  const w = await startWorker(spanS ? "scale-w3b" : "scale-w3a", taskdWorker(bin, tasksFile));
  const samp = new Sampler(Date.now(), w.pid).start(1000);
  try {
    await sleep(1000);
    const { app, stamp } = clientApp();
    const due = Date.now() + (spanS ? 2 : aheadS) * 1000;
    const etaOf = (i: number) => (spanS ? due + (spanS * 1000 * i) / n : due);
    const c0 = { w: cpuS(w.pid), s: serverCpu() };
    let sentLate = 0;
    const t = Date.now();
    await pool(n, WINDOW, async (i) => {
      await stamp.applyAsync([], { eta: new Date(etaOf(i)), taskId: `u-${i}` });
      if (Date.now() > etaOf(i)) sentLate++;
    });
    const sendS = (Date.now() - t) / 1000;
    await app.close();
    const rssWaiting = { worker: rssMiB(w.pid), server: serverRss() };
    await waitPuts(jsm, RESULTS_STREAM, n, due + (spanS + Math.max(300, n / 200)) * 1000, 1000);
    samp.stop();
    const cpu = { workerCpuS: round(cpuS(w.pid) - c0.w, 1), serverCpuS: round(serverCpu() - c0.s, 1) };
    const late: number[] = [];
    const prefix = `$KV.taskd_results.u-`.length;
    await readStream(nc, RESULTS_STREAM, n, (subject, data) => {
      late.push(Number((msgpack.unpack(data) as { result: unknown }).result) - etaOf(Number(subject.slice(prefix))));
    });
    return {
      n, system: "taskd", ...(spanS ? { spanS, sentAfterEta: sentLate } : { aheadS, sentAfterDue: t + sendS * 1000 > due }), sendS: round(sendS, 2), late: pcts(late), ...cpu,
      workerRssStart: samp.series[0]?.worker, workerRssWaiting: rssWaiting.worker, workerRssPeak: samp.peakWorker, workerRssEnd: rssMiB(w.pid),
      serverRssWaiting: rssWaiting.server, serverRssPeak: samp.peakServer, serverRssEnd: serverRss(), diskMiB: diskMiB(),
    };
  } finally {
    samp.stop();
    await w.stop();
    await nc.close();
  }
}

/**
 * W3 on bench/raw's pipeline and delay scheduler (nak until due, republish): W3a when spanS is 0
 * (all due aheadS from now), else W3b's spread (task i due at start + 2 s + spanS × i / n).
 */
async function w3Raw(n: number, aheadS: number, spanS = 0): Promise<Out> {
  const nc = await connect({ servers: broker });
  const jsm = await jetstreamManager(nc);
  await resetStreams(jsm);
  await new Kvm(jetstream(nc)).create(RAW_BUCKET, { history: 1 }).catch(() => {});
  const runtime = process.versions.bun ? [process.execPath, "run"] : [process.execPath, "run", "-A"];
  const w = await startWorker("scale-w3-raw", { cmd: runtime[0], args: [...runtime.slice(1), rawWorkerFile, "100"], env: { NATS_URL: broker } });
  const samp = new Sampler(Date.now(), w.pid).start(1000);
  try {
    await sleep(1000);
    const js = jetstream(nc);
    const due = Date.now() + (spanS ? 2 : aheadS) * 1000;
    const etaOf = (i: number) => (spanS ? due + (spanS * 1000 * i) / n : due);
    const c0 = { w: cpuS(w.pid), s: serverCpu() };
    const body = rawPackr.pack([[], {}, {}]);
    let sentLate = 0;
    const t = Date.now();
    await pool(n, WINDOW, async (i) => {
      const id = `u-${i}`;
      const h = headers();
      h.set("task", "stamp");
      h.set("id", id);
      h.set("eta", String(Math.round(etaOf(i))));
      await js.publish(DELAYED_SUBJECT, body, { headers: h, msgID: id });
      if (Date.now() > etaOf(i)) sentLate++;
    });
    const sendS = (Date.now() - t) / 1000;
    const rssWaiting = { worker: rssMiB(w.pid), server: serverRss() };
    await waitPuts(jsm, RAW_RESULTS_STREAM, n, due + (spanS + Math.max(300, n / 200)) * 1000, 1000);
    samp.stop();
    const cpu = { workerCpuS: round(cpuS(w.pid) - c0.w, 1), serverCpuS: round(serverCpu() - c0.s, 1) };
    const late: number[] = [];
    const prefix = `$KV.${RAW_BUCKET}.u-`.length;
    await readStream(nc, RAW_RESULTS_STREAM, n, (subject, data) => {
      late.push(Number((rawPackr.unpack(data) as { result: unknown }).result) - Math.round(etaOf(Number(subject.slice(prefix)))));
    });
    return {
      n, system: "raw", ...(spanS ? { spanS, sentAfterEta: sentLate } : { aheadS, sentAfterDue: t + sendS * 1000 > due }), sendS: round(sendS, 2), late: pcts(late), ...cpu,
      workerRssStart: samp.series[0]?.worker, workerRssWaiting: rssWaiting.worker, workerRssPeak: samp.peakWorker, workerRssEnd: rssMiB(w.pid),
      serverRssWaiting: rssWaiting.server, serverRssPeak: samp.peakServer, serverRssEnd: serverRss(),
    };
  } finally {
    samp.stop();
    await w.stop();
    await nc.close();
  }
}

// ---- the report ----------------------------------------------------------------------------------
const fmt = (x: unknown): string => (typeof x === "number" && Number.isFinite(x) ? x.toLocaleString("en-US") : x === undefined || x === null ? "-" : String(x));
const mib = (...xs: unknown[]): string => xs.map((x) => (typeof x === "number" ? Math.round(x) : "-")).join("/");

function report(dir: string, resultsDir: string): void {
  const runs: Out[] = [];
  for (const f of readdirSync(dir).filter((f) => f.endsWith(".json") && f !== "machine.json").sort()) {
    try { runs.push(JSON.parse(readFileSync(join(dir, f), "utf8"))); } catch { /* unreadable: skipped */ }
  }
  const order = ["w1", "w5", "w6one", "w6many", "w7", "w3a-taskd", "w3a-raw", "w3b", "w3b-raw"];
  runs.sort((a, b) => order.indexOf(String(a.workload)) - order.indexOf(String(b.workload)) || Number(a.n) - Number(b.n));
  const machine = JSON.parse(readFileSync(join(dir, "machine.json"), "utf8"));
  const get = (wl: string, n?: number) => runs.find((r) => r.workload === wl && (n === undefined || r.n === n) && !r.error);
  const w1r = get("w1");
  const w1perS = (w1r?.result as Out | undefined)?.perS as number | undefined;
  const rows: string[][] = [];
  const notes: string[] = [];
  for (const r of runs) {
    const n = r.n as number;
    const x = (r.result ?? {}) as Out;
    const id = String(r.workload);
    if (r.error) { rows.push([id, fmt(n), `error: ${r.error}`, "", "", "", "", ""]); continue; }
    if (id === "w1") {
      rows.push(["W1 ref", fmt(n), `${fmt(x.perS)}/s end to end`, mib(undefined, undefined, x.workerRssEnd), mib(undefined, x.serverRssEnd), "-", `${x.workerCpuS}/${x.serverCpuS}`, "worker -c 100, every result read back"]);
    } else if (id === "w5") {
      const e = x.enqueue as Out, d = x.drain as Out;
      const ratio = w1perS ? `, ${round((d.perS as number) / w1perS, 2)}× W1` : "";
      rows.push(["W5 backlog", fmt(n), `enqueue ${fmt(e.perS)}/s; drain ${fmt(d.perS)}/s${ratio}`,
        mib(d.workerRssStart, d.workerRssPeak, d.workerRssEnd), `${mib(e.serverRssPeak, e.serverRss)} → ${mib(d.serverRssPeak, d.serverRssEnd)}`,
        `${mib(e.diskMiB)} → ${mib(d.diskMiB)}`, `${d.workerCpuS}/${d.serverCpuS}`,
        `worker RSS ${d.flat ? "flat" : "GROWS"} (2nd-half max / 1st-half max ${d.workerRssGrowth}: ${mib(d.workerRssSecondHalfMax)} vs ${mib(d.workerRssFirstHalfMax)} MiB); left ${d.left}`]);
    } else if (id === "w6one" || id === "w6many") {
      const one = get("w6one", n)?.result as Out | undefined;
      const f = x.fairness as Out | undefined;
      const ratio = id === "w6many" && one ? `, ${round((x.perS as number) / (one.perS as number), 2)}× 1 queue` : "";
      rows.push([id === "w6one" ? "W6 1 queue" : `W6 ${x.queues} queues`, fmt(n), `${fmt(x.perS)}/s${ratio}`,
        mib(x.workerRssStart, x.workerRssPeak, x.workerRssEnd), mib(x.serverRssPeak, x.serverRssEnd), mib(x.diskMiB), `${x.workerCpuS}/${x.serverCpuS}`,
        f ? `queues' last task ${f.lastFinishMinS}–${f.lastFinishMaxS} s of ${x.seconds} s (spread ${f.spreadS} s); done at mid-run ${f.doneAtMidMin}–${f.doneAtMidMax} per queue, CV ${f.doneAtMidCv}; a queue's first task as late as ${f.firstStartMaxS} s` : `${x.seconds} s`]);
    } else if (id === "w7") {
      rows.push(["W7 results", fmt(n), `${fmt(x.perS)}/s stored`, mib(x.workerRssStart, x.workerRssPeak), mib(x.serverRssPeak, x.serverRssEnd),
        `peak ${mib(x.peakDiskMiB)} → ${mib(x.diskEndMiB)}`, `${x.workerCpuS}/${x.serverCpuS}`,
        `TTL ${x.bucketTtlS} s; peak ${fmt(x.peakResults)} results (${x.peakResultsMiB} MiB); ${x.expiredAfterS !== null ? `~0 left ${x.expiredAfterS} s after the last put` : `NOT EXPIRED: ${fmt(x.resultsLeft)} left ${(x.resultExpires as number) + 30} s after the last put`}`]);
    } else if (id === "w3a-taskd" || id === "w3a-raw") {
      const l = x.late as Out;
      const raw = get("w3a-raw", n)?.result as Out | undefined;
      const ratio = id === "w3a-taskd" && raw ? `, p99 ${round((l.p99 as number) / ((raw.late as Out).p99 as number), 2)}× raw (target ≤ 1.5)` : "";
      rows.push([id === "w3a-taskd" ? "W3a one instant" : "W3a raw", fmt(n), `late p50/p99/max ${l.p50}/${l.p99}/${l.max} s${ratio}`,
        mib(x.workerRssStart, x.workerRssPeak, x.workerRssEnd), mib(x.serverRssPeak, x.serverRssEnd), mib(x.diskMiB), `${x.workerCpuS}/${x.serverCpuS}`,
        `due ${x.aheadS} s ahead, sent in ${x.sendS} s${x.sentAfterDue ? " (AFTER the due time: invalid)" : ""}; early ${l.early}; worker RSS while waiting ${mib(x.workerRssWaiting)}`]);
    } else if (id === "w3b" || id === "w3b-raw") {
      const l = x.late as Out;
      rows.push([id === "w3b" ? `W3b over ${x.spanS} s` : "W3b raw", fmt(n), `late p50/p99/max ${l.p50}/${l.p99}/${l.max} s${id === "w3b" ? " (target p99 ≤ 0.5)" : ""}`,
        mib(x.workerRssStart, x.workerRssPeak, x.workerRssEnd), mib(x.serverRssPeak, x.serverRssEnd), mib(x.diskMiB), `${x.workerCpuS}/${x.serverCpuS}`,
        `sent in ${x.sendS} s, ${x.sentAfterEta} sent after their eta; early ${l.early}`]);
    }
  }
  const head = ["workload", "N", "rate / lateness", "worker MiB start/peak/end", "server MiB peak/end", "store MiB", "CPU s wkr/srv", "notes"];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : (c ?? "").padEnd(widths[i]))).join("  ");
  const text = [
    `taskd scale benchmark, ${machine.date}: ${machine.cores} cores (${machine.cpu}), ${machine.memGiB} GiB, ${machine.versions}`,
    `load average at each workload's start: ${runs.map((r) => `${r.workload}/${fmt(r.n)} ${r.load}`).join(", ")}`,
    "",
    line(head),
    line(widths.map((w) => "-".repeat(w))),
    ...rows.map(line),
    "",
    "W5: enqueue with no worker; drain = one worker -c 100, finished when the results stream's last_seq reaches N (drain time = its last_ts minus the worker's ready line);",
    "    the server columns are after-enqueue → after-drain. W6: rate = N / (latest stamp − first send); fairness from each task's stamp and queue (its id).",
    "W7: resultExpires " + (runs.find((r) => r.workload === "w7")?.result as Out | undefined)?.resultExpires + " s; bucket sampled every 5 s until ~empty or TTL + 30 s after the last put.",
    "W3a: lateness = stamp − due (execution included), taskd and bench/raw's scheduler in the same run. CPU s: /proc/<pid>/stat of the worker and nats-server over the phase.",
    ...notes,
  ].join("\n");
  process.stdout.write(text + "\n");
  const date = String(machine.date).replace(/:/g, "-");
  writeFileSync(join(resultsDir, `scale-${date}.json`), JSON.stringify({ machine, runs }, null, 2) + "\n");
  writeFileSync(join(resultsDir, "scale-latest.txt"), text + "\n");
}

// ---- main ----------------------------------------------------------------------------------------
const argv = process.argv.slice(2);
const [mode, a1, a2] = argv;
if (mode === "report") {
  report(a1, a2);
  process.exit(0);
}
const workload = a1;
const n = Number(a2);
const dashes = argv.indexOf("--");
const bin = (dashes >= 0 ? argv[dashes + 1] : argv[3]) ?? "dist/taskd";
const load = readFileSync("/proc/loadavg", "utf8").split(" ")[0];
log("scale", `${workload} n=${n} (load ${load})`);
const t0 = Date.now();
let result: Out | undefined;
let error: string | undefined;
try {
  const ahead = Number(process.env.BENCH_SCALE_W3_AHEAD || Math.ceil(10 + n / 4000));
  switch (workload) {
    case "w1": result = await w1(n, bin); break;
    case "w5": result = await w5(n, bin); break;
    case "w6one": result = await w6(n, bin, 1); break;
    case "w6many": result = await w6(n, bin, QUEUES); break;
    case "w7": result = await w7(n, bin); break;
    case "w3a-taskd": result = await w3Taskd(n, bin, ahead); break;
    case "w3a-raw": result = await w3Raw(n, ahead); break;
    case "w3b-raw": result = await w3Raw(n, 0, Number(process.env.BENCH_SCALE_W3B_SPAN || 60)); break;
    case "w3b": result = await w3Taskd(n, bin, 0, Number(process.env.BENCH_SCALE_W3B_SPAN || 60)); break;
    default: throw new Error(`unknown workload ${workload}`);
  }
} catch (e) {
  error = String((e as Error)?.message ?? e).split("\n")[0];
  log("scale", `${workload} n=${n} failed: ${(e as Error)?.stack ?? e}`);
}
const totalS = secs(Date.now() - t0);
log("scale", `${workload} n=${n} done in ${totalS} s: ${JSON.stringify(result ?? { error })?.slice(0, 600)}`);
writeResult({ workload, n, load, totalS, cores: cpus().length, result, error });
process.exit(error ? 1 : 0);
