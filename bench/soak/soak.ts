/**
 * `make soak`: a chaos soak with exact accounting. A 3-server JetStream cluster (replicas 3)
 * and 2 workers (dist/taskd) take a continuous mixed load — early-ack and late-ack tasks,
 * retries, countdowns, chains, groups, chords and Batches — while a chaos loop kills -9 a random
 * worker or server every SOAK_CHAOS_MIN..SOAK_CHAOS_MAX seconds and restarts it. Then the load
 * stops, the system drains, and every task is accounted for from the run log (a side channel the
 * tasks append to), the result store and the workers' logs. Prints one table and writes
 * bench/soak/results/<date>.json. Loopback only; bounded in time (SOAK_SECONDS, default 300).
 *
 *   SOAK_SECONDS=300 SOAK_CHAOS_MIN=10 SOAK_CHAOS_MAX=30 SOAK_RATE=40 [SOAK_TRACE=1] bun bench/soak/soak.ts
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { appendFileSync, createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { App, type AsyncResult, chain, chord, group, signature } from "../../mod.ts";
import { NatsCluster } from "../../tests/helpers/cluster.ts";
import { rssKb } from "../../tests/helpers/runlog.ts";
import { decodeMeta } from "../../src/protocol/result.ts";
import { losesReplicatedTasks } from "../../src/nats/broker.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const SECONDS = Number(process.env.SOAK_SECONDS ?? 300);
const CHAOS_MIN = Number(process.env.SOAK_CHAOS_MIN ?? 10);
const CHAOS_MAX = Number(process.env.SOAK_CHAOS_MAX ?? 30);
const RATE = Number(process.env.SOAK_RATE ?? 40); // load rounds per second; each round sends one of every kind
const DRAIN_SECONDS = Number(process.env.SOAK_DRAIN ?? 120);
// SOAK_TRACE=1: say where each lost task's message went (traceTasks: a wire tap on each server).
const TRACE = process.env.SOAK_TRACE === "1";
const dir = mkdtempSync(join(tmpdir(), "taskd-soak-"));
// The servers are the first nats-server on PATH (PATH=/path/to/other/bin:$PATH make soak compares versions).
const SERVER = spawnSync("nats-server", ["--version"], { encoding: "utf8" }).stdout?.trim().replace(/^nats-server:\s*/, "") || "?";
const RUNLOG = join(dir, "runs.log");
const say = (s: string) => process.stderr.write(`soak: ${s}\n`);
const rand = (min: number, max: number) => min + Math.random() * (max - min);

/** One worker process; each start is a new incarnation with its own log file. */
class SoakWorker {
  proc?: ChildProcess;
  incarnations: { log: string; killed: boolean; pid?: number }[] = [];
  constructor(readonly name: string, readonly urls: string) {}
  get alive(): boolean {
    return !!this.proc && this.proc.exitCode === null && this.proc.signalCode === null;
  }
  start(): void {
    const log = join(dir, `${this.name}-${this.incarnations.length}.log`);
    const out = createWriteStream(log);
    this.proc = spawn(join(ROOT, "dist", "taskd"), ["worker", join(ROOT, "bench", "soak", "tasks.ts"), "-n", `${this.name}@soak`, "-c", "20", ...(TRACE ? ["-l", "debug"] : [])], {
      env: { ...process.env, TASKD_BROKER_URL: this.urls, TASKD_RUNLOG: RUNLOG, TASKD_REPLICAS: "3", NO_COLOR: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.proc.stdout?.pipe(out);
    this.proc.stderr?.pipe(out);
    this.incarnations.push({ log, killed: false, pid: this.proc.pid });
  }
  async kill(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    const p = this.proc;
    if (!p || !this.alive) return;
    const exited = new Promise((r) => p.once("exit", r));
    if (signal === "SIGKILL") this.incarnations[this.incarnations.length - 1].killed = true;
    p.kill(signal);
    await exited;
  }
}

type Kind = "plain" | "late" | "flaky" | "countdown" | "chain" | "group" | "chord" | "batch";
interface Sent {
  kind: Kind;
  key: string;
  result: AsyncResult;
  memberIds?: string[];
}

async function main(): Promise<void> {
  if (!existsSync(join(ROOT, "dist", "taskd"))) throw new Error("dist/taskd is missing: run make build");
  say(`${SECONDS} s of load, chaos every ${CHAOS_MIN}-${CHAOS_MAX} s, ${RATE} rounds/s; logs in ${dir}`);
  const cluster = await NatsCluster.start();
  for (const node of cluster.nodes) node.logFile = join(dir, `${node.name}.log`);
  const workers = [new SoakWorker("w1", cluster.urls), new SoakWorker("w2", cluster.urls)];
  for (const w of workers) w.start();
  const app = new App("soak-client", { broker: cluster.urls, replicas: 3 });
  const sent: Sent[] = [];
  const faults: { at: number; what: string }[] = [];
  const rss: { at: number; w1: number; w2: number }[] = [];
  const started = Date.now();
  let sendErrors = 0;
  const sendErrorsByKind: Record<string, number> = {};
  const erroredKeys = new Set<string>();
  const hungSends: string[] = [];
  let longestSendStall = 0;
  let lastSendOk = Date.now();
  const t0 = Date.now();
  const trace = TRACE ? await traceTasks(cluster, t0) : undefined;
  const elapsed = () => Math.round((Date.now() - t0) / 1000);
  // When the task queue's consumer changed leader (JetStream's advisory): losses of messages a
  // killed worker held line up with these, or not (docs/guarantees.md).
  const leaderElections: { at: number; leader: string }[] = [];
  const advisories = await connect({ servers: cluster.urls.split(","), maxReconnectAttempts: -1 });
  advisories.subscribe("$JS.EVENT.ADVISORY.CONSUMER.LEADER_ELECTED.TASKD_TASKS.>", {
    callback: (_e, m) => void leaderElections.push({ at: Math.round((Date.now() - t0) / 1000), leader: `${m.json<{ leader?: string }>().leader ?? "?"} (${m.subject.split(".").pop()})` }),
  });

  // Chaos: kill -9 a random worker or server, restart it 2-5 s later.
  let stopping = false;
  const chaos = (async () => {
    while (!stopping) {
      const wait = rand(CHAOS_MIN, CHAOS_MAX) * 1000;
      const until = Date.now() + wait;
      while (!stopping && Date.now() < until) await new Promise((r) => setTimeout(r, 200));
      if (stopping) break;
      const targets = [...workers.map((w) => ({ name: w.name, kill: () => w.kill(), start: () => w.start() })), ...cluster.nodes.map((n) => ({ name: n.name, kill: () => n.kill(), start: () => n.start() }))];
      const t = targets[Math.floor(Math.random() * targets.length)];
      faults.push({ at: elapsed(), what: `kill -9 ${t.name}` });
      say(`t=${elapsed()}s chaos: kill -9 ${t.name}`);
      await t.kill();
      await new Promise((r) => setTimeout(r, rand(2, 5) * 1000));
      t.start();
    }
  })();
  const sampler = setInterval(() => rss.push({ at: elapsed(), w1: rssKb(workers[0].proc?.pid), w2: rssKb(workers[1].proc?.pid) }), 5000);
  // A supervisor's job (systemd restarts a worker that exits): a worker that exits when no one
  // killed it is a finding, recorded, and started again.
  const selfExits: { worker: string; at: number }[] = [];
  const supervisor = setInterval(() => {
    for (const w of workers) {
      if (w.alive || w.incarnations.at(-1)?.killed) continue;
      selfExits.push({ worker: w.name, at: elapsed() });
      say(`t=${elapsed()}s ${w.name} exited by itself; starting it again`);
      w.start();
    }
  }, 1000);

  // Load: one of every kind per round, RATE rounds a second, each send retried until stored.
  let n = 0;
  const send = async (kind: Kind, fn: (key: string) => Promise<{ result: AsyncResult; memberIds?: string[] }>) => {
    const key = `${kind}-${n}`;
    for (let attempt = 0;; attempt++) {
      try {
        // A call that neither resolves nor rejects within a minute is a finding, not a stall of the soak.
        const { result, memberIds } = await Promise.race([
          fn(key),
          new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`send of ${key} hung for 60 s`)), 60_000).unref?.()),
        ]);
        sent.push({ kind, key, result, memberIds });
        const now = Date.now();
        longestSendStall = Math.max(longestSendStall, now - lastSendOk);
        lastSendOk = now;
        return;
      } catch (e) {
        sendErrors++;
        sendErrorsByKind[kind] = (sendErrorsByKind[kind] ?? 0) + 1;
        if (/hung for/.test(String((e as Error).message))) hungSends.push(key);
        erroredKeys.add(key);
        if (attempt > 60) throw e;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  };
  const s = (name: string, ...args: unknown[]) => signature(name, { args, app });
  while (Date.now() - started < SECONDS * 1000) {
    const round = Date.now();
    n++;
    await Promise.all([
      send("plain", async (k) => ({ result: await app.sendTask("soak.plain", [k], { taskId: k }) })),
      send("late", async (k) => ({ result: await app.sendTask("soak.late", [k], { taskId: k }) })),
      send("flaky", async (k) => ({ result: await app.sendTask("soak.flaky", [k], { taskId: k }) })),
      send("countdown", async (k) => ({ result: await app.sendTask("soak.late", [k], { taskId: k, countdown: 2 }) })),
      send("batch", async (k) => ({ result: await app.sendTask("soak.batch", [k], { taskId: k }) })),
      ...(n % 4 === 0
        ? [
          send("chain", async (k) => ({ result: await chain(s("soak.step", k, 0).set({ taskId: `${k}.0` }), s("soak.step", 1).set({ taskId: `${k}.1` }), s("soak.step", 2).set({ taskId: k })).applyAsync() })),
          send("group", async (k) => {
            const ids = [0, 1, 2].map((i) => `${k}.${i}`);
            const r = await group(ids.map((id) => s("soak.late", id).set({ taskId: id }))).applyAsync();
            return { result: r, memberIds: ids };
          }),
          send("chord", async (k) => {
            const ids = [0, 1, 2].map((i) => `${k}.${i}`);
            const r = await chord(ids.map((id) => s("soak.late", id).set({ taskId: id })), s("soak.body", k).set({ taskId: k })).applyAsync();
            return { result: r, memberIds: ids };
          }),
        ]
        : []),
    ]);
    const rest = 1000 / RATE - (Date.now() - round);
    if (rest > 0) await new Promise((r) => setTimeout(r, rest));
  }
  stopping = true;
  await chaos;
  // Everything back up, then drain.
  for (const w of workers) if (!w.alive) w.start();
  for (const node of cluster.nodes) if (!node.alive) node.start();
  await cluster.ready(60_000);
  say(`t=${elapsed()}s load stopped: ${sent.length} sends; draining (up to ${DRAIN_SECONDS} s)`);

  // Final states, read until nothing changes or the drain time is over.
  const finalOf = new Map<string, string>();
  const ready = new Set(["SUCCESS", "FAILURE", "REVOKED"]);
  const drainEnd = Date.now() + DRAIN_SECONDS * 1000;
  for (;;) {
    const pending = sent.filter((x) => !ready.has(finalOf.get(x.key) ?? ""));
    for (const x of pending) finalOf.set(x.key, await x.result.state.catch(() => "UNREADABLE"));
    const left = sent.filter((x) => !ready.has(finalOf.get(x.key) ?? "")).length;
    // Early-ack tasks a killed worker had taken stay PENDING for good: stop waiting once only they are left.
    const onlyEarly = sent.filter((x) => !ready.has(finalOf.get(x.key) ?? "")).every((x) => x.kind === "plain");
    if (left === 0 || Date.now() > drainEnd || (onlyEarly && Date.now() > drainEnd - DRAIN_SECONDS * 1000 + 30_000)) break;
    await new Promise((r) => setTimeout(r, 2000));
  }
  clearInterval(sampler);
  clearInterval(supervisor);

  // Stuck messages: nothing pending or un-acked on any consumer once drained.
  const nc = await connect({ servers: cluster.urls.split(",") });
  const jsm = await jetstreamManager(nc);
  let unacked = 0;
  let waiting = 0;
  for (const stream of ["TASKD_TASKS", "TASKD_DELAYED"]) {
    for await (const ci of jsm.consumers.list(stream)) {
      unacked += ci.num_ack_pending;
      waiting += ci.num_pending;
    }
  }
  // Messages still held by the work-queue streams once drained: a copy of a task that finished
  // (acked, but the server did not remove it), or a stranded task (no consumer will deliver it).
  const held: Record<string, { copies: number; stranded: number }> = {};
  for (const stream of ["TASKD_TASKS", "TASKD_DELAYED"]) {
    const h = held[stream] = { copies: 0, stranded: 0 };
    let seq = (await jsm.streams.info(stream)).state.first_seq;
    for (let n = 0; n < 20_000; n++) {
      const m = await jsm.streams.getMessage(stream, { seq, next_by_subj: ">" } as unknown as { seq: number }).catch(() => null);
      if (!m) break;
      seq = m.seq + 1;
      const id = m.header.get("taskd-id");
      if (ready.has(await app.asyncResult(id).state.catch(() => "UNREADABLE"))) h.copies++;
      else h.stranded++;
    }
  }
  await nc.close();
  const notFinal = sent.filter((x) => !ready.has(finalOf.get(x.key) ?? "")).flatMap((x) => x.kind === "chord" ? x.memberIds! : [x.key]);
  const traced = await trace?.finish(notFinal);

  // Accounting from the run log and the workers' logs.
  const runs = new Map<string, number>();
  const order = new Map<string, number[]>();
  for (const line of readFileSync(RUNLOG, "utf8").split("\n")) {
    const [kind, key] = line.split(" ");
    if (!kind) continue;
    const id = `${kind} ${key}`;
    runs.set(id, (runs.get(id) ?? 0) + 1);
    if (kind === "step") {
      const [chainKey, i] = key.split(":");
      order.set(chainKey, [...(order.get(chainKey) ?? []), Number(i)]);
    }
  }
  const killedLogs = workers.flatMap((w) => w.incarnations.filter((i) => i.killed).map((i) => readFileSync(i.log, "utf8")));
  const takenByKilled = (id: string) => killedLogs.some((text) => text.includes(`[${id}] received`) || text.includes(`[${id}] buffered`));
  const byKind = new Map<Kind, Sent[]>();
  for (const x of sent) byKind.set(x.kind, [...(byKind.get(x.kind) ?? []), x]);
  const rows: Record<string, unknown>[] = [];
  let lostOtherwise = 0;
  const lostKeys: string[] = [];
  let lostByDesign = 0;
  let duplicates = 0;
  for (const [kind, list] of byKind) {
    let notFinal = 0, failed = 0, dup = 0, designLost = 0, otherLost = 0, bad = 0;
    for (const x of list) {
      const state = finalOf.get(x.key) ?? "PENDING";
      if (state === "FAILURE" || state === "REVOKED") failed++;
      if (!ready.has(state)) {
        notFinal++;
        if (kind === "plain" && takenByKilled(x.key)) designLost++;
        else {
          otherLost++;
          lostKeys.push(`${x.key} (${state}${erroredKeys.has(x.key) ? ", its send was retried" : ""}${traced?.explain(x.kind === "chord" ? x.memberIds! : [x.key]) ?? ""})`);
        }
      }
      const count = kind === "chain" ? Math.max(...[0, 1, 2].map((i) => runs.get(`step ${x.key}:${i}`) ?? 0))
        : kind === "chord" ? runs.get(`body ${x.key}`) ?? 0
        : kind === "group" ? Math.min(...x.memberIds!.map((id) => runs.get(`late ${id}`) ?? 0))
        : kind === "countdown" ? runs.get(`late ${x.key}`) ?? 0
        : kind === "flaky" ? runs.get(`flaky ${x.key}#1`) ?? 0
        : runs.get(`${kind} ${x.key}`) ?? 0;
      if (count > 1) dup += count - 1;
      if (kind === "chord" && count > 1) bad++; // a chord body must run exactly once
      if (kind === "chain") {
        const seen = order.get(x.key) ?? [];
        const firsts = [0, 1, 2].map((i) => seen.indexOf(i));
        if (ready.has(state) && !(firsts[0] >= 0 && firsts[0] < firsts[1] && firsts[1] < firsts[2])) bad++;
      }
      if (kind === "plain" && count > 1) bad++; // early ack: at most once (Batches ack after the batch: at least once)
    }
    lostByDesign += designLost;
    lostOtherwise += otherLost;
    duplicates += dup;
    rows.push({ kind, sent: list.length, final: list.length - notFinal, failed, duplicates: dup, lostByDesign: designLost, lostOtherwise: otherLost, violations: bad });
  }
  const peak = (k: "w1" | "w2") => Math.max(0, ...rss.map((r) => r[k]));
  const half = rss.slice(Math.floor(rss.length / 2));
  const report = {
    date: new Date().toISOString(),
    machine: `${cpus().length} cores, ${cpus()[0]?.model ?? "?"}`,
    server: SERVER,
    seconds: SECONDS,
    faults: faults.length,
    faultLog: faults,
    leaderElections,
    reusedSequences: traced?.reused,
    sends: sent.length,
    sendErrors,
    sendErrorsByKind,
    hungSends,
    lostKeys,
    longestSendStallMs: longestSendStall,
    unacked,
    waiting,
    held,
    selfExits,
    lostByDesign,
    lostOtherwise,
    duplicates,
    rows,
    rssKb: { w1Peak: peak("w1"), w2Peak: peak("w2"), secondHalfMax: Math.max(0, ...half.map((r) => Math.max(r.w1, r.w2))), samples: rss },
  };
  mkdirSync(join(ROOT, "bench", "soak", "results"), { recursive: true });
  const file = join(ROOT, "bench", "soak", "results", `${report.date.slice(0, 16).replace(/[:T]/g, "-")}.json`);
  writeFileSync(file, JSON.stringify(report, null, 2) + "\n");
  console.log(`\nsoak ${report.date} — ${report.machine}, nats-server ${SERVER}; ${SECONDS} s of load, ${faults.length} faults (${faults.map((f) => f.what.replace("kill -9 ", "")).join(" ")})`);
  if (losesReplicatedTasks(SERVER)) {
    console.log(`nats-server ${SERVER}: its replicated streams lose acknowledged tasks under these faults (docs/guarantees.md, "Replicated streams need nats-server 2.10");`);
    console.log("  the same soak on 2.10 or later shows what taskd itself loses: PATH=/path/to/nats-server-2.10/bin:$PATH make soak");
  }
  console.log("kind        sent   final  failed  dup  lost(by design)  lost(other)  violations");
  for (const r of rows) {
    console.log(`${String(r.kind).padEnd(10)} ${String(r.sent).padStart(5)} ${String(r.final).padStart(7)} ${String(r.failed).padStart(7)} ${String(r.duplicates).padStart(4)} ${String(r.lostByDesign).padStart(16)} ${String(r.lostOtherwise).padStart(12)} ${String(r.violations).padStart(11)}`);
  }
  if (traced) console.log(`stream sequences delivered with two task ids (replicas that disagreed): ${JSON.stringify(traced.reused)}`);
  console.log(`task consumer leader elections at: ${leaderElections.map((e) => `${e.at} s`).join(", ") || "none"}`);
  if (selfExits.length) console.log(`workers that exited without being killed (restarted): ${selfExits.map((e) => `${e.worker} at ${e.at} s`).join(", ")}`);
  const heldText = (k: string) => `${held[k].stranded} stranded, ${held[k].copies} copies of finished tasks`;
  console.log(`held in the task stream: ${heldText("TASKD_TASKS")}; in the delayed stream: ${heldText("TASKD_DELAYED")}`);
  console.log(`stuck: ${unacked} un-acked, ${waiting} waiting; longest send stall ${(longestSendStall / 1000).toFixed(1)} s; send errors retried ${sendErrors} ${JSON.stringify(sendErrorsByKind)}`);
  if (hungSends.length) console.log(`sends that hung 60 s (then retried): ${hungSends.join(", ")}`);
  if (lostKeys.length) console.log(`lost (other): ${lostKeys.slice(0, 40).join(", ")}${lostKeys.length > 40 ? " …" : ""}`);
  console.log(`worker RSS peak ${Math.round(peak("w1") / 1024)} / ${Math.round(peak("w2") / 1024)} MiB; max in the second half ${Math.round(report.rssKb.secondHalfMax / 1024)} MiB`);
  console.log(`written to ${file}`);
  await app.close();
  await advisories.close();
  for (const w of workers) await w.kill("SIGTERM");
  await cluster.stop();
  appendFileSync(join(dir, "done"), "");
  const violations = rows.reduce((a, r) => a + Number(r.violations), 0);
  process.exit(lostOtherwise + violations + unacked + held.TASKD_TASKS.stranded + held.TASKD_DELAYED.stranded > 0 ? 1 : 0);
}

/**
 * Where a lost task's message went. A wire tap on every server (one connection pinned to each,
 * so a killed server leaves the other two listening) copies what the consumers of the task and
 * delayed streams deliver (every pull inbox, `_INBOX.>`: the reply subject `$JS.ACK.…` carries the
 * stream, the delivery count and the stream sequence) and every ack, nak and in-progress sent
 * back on those subjects. The task consumer's ack samples (`sample_freq` 100 %) say which acks
 * the server took. At the end, each lost task gets a timeline, and its state as the results
 * stream's leader holds it (a KV read may be answered by any replica: `allow_direct`); a stream
 * sequence delivered with two different task ids is counted as reused (the replicas disagreed on
 * what it holds: docs/guarantees.md). Everything is also written to trace.json in the run's
 * directory, and the workers log each delivery and decision (`-l debug`).
 */
async function traceTasks(cluster: NatsCluster, t0: number) {
  const at = () => ((Date.now() - t0) / 1000).toFixed(2);
  const urls = cluster.urls.split(",");
  const nc = await connect({ servers: urls, maxReconnectAttempts: -1 });
  const jsm = await jetstreamManager(nc);
  const STREAMS: Record<string, string> = { TASKD_TASKS: "tasks", TASKD_DELAYED: "delayed" };
  const sampled = new Map<string, number[]>();
  const sub = nc.subscribe("$JS.EVENT.METRIC.CONSUMER.ACK.TASKD_TASKS.>", {
    callback: (_e, m) => {
      const a = m.json<{ stream_seq: number; deliveries: number }>();
      const key = `tasks:${a.stream_seq}`;
      sampled.set(key, [...(sampled.get(key) ?? []), a.deliveries]);
    },
  });
  // Per task id its sequences ("tasks:42443"); per sequence its events, each once (three taps
  // see each) and the task ids delivered under it.
  const seqOf = new Map<string, Set<string>>();
  const idsAt = new Map<string, Set<string>>();
  const events = new Map<string, string[]>();
  const seen = new Set<string>();
  const note = (key: string, seq: string, text: string) => {
    if (seen.has(key)) return;
    seen.add(key);
    events.set(seq, [...(events.get(seq) ?? []), text]);
  };
  // $JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<ms>.<pending>
  const ackParts = (subject: string) => {
    const t = subject.split(".");
    return { stream: STREAMS[t[2]], consumer: t[3], dc: Number(t[4]), seq: `${STREAMS[t[2]]}:${t[5]}` };
  };
  const taps = await Promise.all(urls.map(async (url, i) => {
    const tap = await connect({ servers: url, maxReconnectAttempts: -1, reconnectTimeWait: 250, ignoreClusterUpdates: true, name: `tap-n${i + 1}` });
    tap.subscribe("_INBOX.>", {
      callback: (_e, m) => {
        if (!m.reply?.startsWith("$JS.ACK.")) return;
        const { stream, consumer, dc, seq } = ackParts(m.reply);
        if (!stream) return;
        const id = m.headers?.get("taskd-id") ?? "";
        if (!seqOf.has(id)) seqOf.set(id, new Set());
        seqOf.get(id)!.add(seq);
        if (!idsAt.has(seq)) idsAt.set(seq, new Set());
        idsAt.get(seq)!.add(id);
        note(m.reply, seq, `${at()}s delivery ${dc} of ${id} (${consumer}) [n${i + 1}]`);
      },
    });
    for (const stream of Object.keys(STREAMS)) {
      tap.subscribe(`$JS.ACK.${stream}.>`, {
        callback: (_e, m) => {
          const { dc, seq } = ackParts(m.subject);
          const what = m.data.length ? new TextDecoder().decode(m.data).split(" ")[0] : "(empty)";
          // In-progress notes repeat every few seconds: the first of each delivery is enough.
          note(what === "+WPI" ? `${m.subject} ${what}` : `${m.subject} ${what} ${Date.now()}`, seq, `${at()}s ${what} of delivery ${dc} [n${i + 1}]`);
        },
      });
    }
    return tap;
  }));
  for (let i = 0; i < 300; i++) {
    try {
      await jsm.consumers.update("TASKD_TASKS", "queue-default", { sample_freq: "100%" });
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 200)); // the workers have not created it yet
    }
  }
  const leaderState = async (id: string) => {
    try {
      const m = await jsm.streams.getMessage("KV_taskd_results", { last_by_subj: `$KV.taskd_results.${id}` });
      if (!m) return "none";
      return m.data.length ? decodeMeta(m.data).status : "deleted";
    } catch (e) {
      return `none (${(e as Error).message})`;
    }
  };
  return {
    /** Stops listening, reads the lost ids' states from the results leader, writes trace.json. */
    async finish(lost: string[]) {
      sub.unsubscribe();
      await Promise.all(taps.map((t) => t.close()));
      const leader = new Map<string, string>();
      for (const id of lost) leader.set(id, await leaderState(id));
      await nc.close();
      const reused = [...idsAt].filter(([, ids]) => ids.size > 1).map(([seq]) => seq);
      const list = (m: Map<unknown, unknown>, f = (v: unknown) => v) => Object.fromEntries([...m].map(([k, v]) => [String(k), f(v)]));
      writeFileSync(join(dir, "trace.json"), JSON.stringify({ t0, seqOf: list(seqOf, (v) => [...(v as Set<string>)]), events: list(events), sampled: list(sampled), leader: list(leader), reused }));
      const reusedSet = new Set(reused);
      return {
        /** The sequences delivered with two task ids, per stream. */
        reused: Object.fromEntries(Object.values(STREAMS).map((st) => [st, reused.filter((q) => q.startsWith(`${st}:`)).length])),
        explain: (ids: string[]) =>
          "; " + ids.map((id) => {
            const seqs = [...(seqOf.get(id) ?? [])];
            const where = seqs.length
              ? seqs.map((q) => `${q}${reusedSet.has(q) ? " (reused by another task)" : ""}: ${(events.get(q) ?? []).join(", ")}${q.startsWith("tasks:") ? `; the server took acks of deliveries ${sampled.get(q)?.join("/") ?? "none"}` : ""}`).join(" | ")
              : "never delivered";
            return `${id}: ${where}; on the results leader: ${leader.get(id) ?? "not read"}`;
          }).join("; "),
      };
    },
  };
}

main().catch((e) => {
  console.error(`soak: failed: ${(e as Error).stack ?? e}`);
  process.exit(2);
});
