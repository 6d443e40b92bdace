/**
 * A 3-server JetStream cluster (the configs of examples/cluster/ on free loopback ports), streams
 * and the result bucket with replicas 3 (App config `replicas: 3`). The server leading the tasks
 * stream is killed with SIGKILL under load: clients and workers move to the other servers, the
 * stream elects a new leader, and every task runs with no loss and no long stall.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { App, chord, signature } from "../mod.ts";
import { canvasBucket } from "../src/nats/canvas_store.ts";
import { retryTransient } from "../src/nats/retry.ts";
import { ACK_WAIT_MS, losesReplicatedTasks } from "../src/nats/broker.ts";
import { NatsCluster } from "./helpers/cluster.ts";
import { eventually, fixture, startWorker, type WorkerProcess } from "./helpers/taskd.ts";
import { rssKb, RunLog, Sender } from "./helpers/runlog.ts";

const N = 3000;
let cluster: NatsCluster;
let app: App;
const workers: WorkerProcess[] = [];
const log = new RunLog();

describe("3-server JetStream cluster, one server killed under load", () => {
  before(async () => {
    delete process.env.TASKD_BROKER_URL;
  });

  after(async () => {
    await app?.close();
    await Promise.all(workers.map((w) => w.stop(2000)));
    await cluster?.stop();
  });

  test("replicas 3: the stream leader dies, work goes on, nothing is lost", { timeout: 150_000 }, async () => {
    cluster = await NatsCluster.start();
    app = new App("relc", { broker: cluster.urls, replicas: 3 });
    for (const name of ["w1", "w2"]) {
      workers.push(await startWorker(cluster.urls, fixture("reliable.ts"), { args: ["-c", "16", "-n", `${name}@cluster`], env: { TASKD_RUNLOG: log.path, TASKD_REPLICAS: "3" } }));
    }
    // Streams and the bucket exist with 3 replicas.
    const nc = await connect({ servers: cluster.nodes.map((n) => n.url) });
    const jsm = await jetstreamManager(nc);
    const tasks = await jsm.streams.info("TASKD_TASKS");
    assert.equal(tasks.config.num_replicas, 3);
    assert.equal((await jsm.streams.info("KV_taskd_results").catch(async () => {
      await app.backend.kv();
      return jsm.streams.info("KV_taskd_results");
    })).config.num_replicas, 3);
    const leader = tasks.cluster?.leader;
    assert.ok(leader, "the tasks stream has a leader");
    // Replicated streams on a server before 2.10 are warned about (docs/guarantees.md), once.
    const warning = "with replicated streams (replicas 3) can lose acknowledged tasks";
    if (losesReplicatedTasks(nc.info?.version)) {
      for (const w of workers) await w.waitFor(warning, 10_000);
      assert.equal(workers[0].output.split(warning).length, 2, "said once");
    } else for (const w of workers) assert.ok(!w.output.includes(warning), w.output);
    await nc.close();

    const ids: string[] = new Array(N);
    const sender = new Sender(N, async (i) => {
      ids[i] = (await app.sendTask("rel.record", [i, 4])).id;
    }, 16);
    sender.done.catch(() => {});
    await eventually(() => log.runs().length >= 600, 60_000, 5);
    await cluster.node(leader).kill("SIGKILL");
    const killedAt = Date.now();
    await sender.done;
    await eventually(() => log.summary(N).missing.length === 0, 90_000, 200);
    const s = log.summary(N);
    // The longest time in which no task finished, from the kill to the end.
    const times = log.runs().map((r) => r.at).filter((t) => t >= killedAt - 1000).sort((a, b) => a - b);
    let stall = times.length ? times[0] - killedAt : Infinity;
    for (let i = 1; i < times.length; i++) stall = Math.max(stall, times[i] - times[i - 1]);
    const nc2 = await connect({ servers: cluster.nodes.filter((n) => n.alive).map((n) => n.url) });
    // The cluster may still be electing its meta leader: the test's own admin request waits it out.
    const after = await retryTransient(async () => (await jetstreamManager(nc2)).streams.info("TASKD_TASKS"), { deadlineMs: 30_000, maxDelayMs: 1000 });
    await nc2.close();
    console.log(
      `[figures] cluster: killed leader ${leader}, new leader ${after.cluster?.leader}; sent ${N}, completed ${s.distinct}, runs ${s.runs}, ` +
        `duplicates ${s.duplicates}, longest stall after the kill ${stall} ms, worker RSS ${Math.round(Math.max(...workers.map((w) => rssKb(w.proc.pid))) / 1024)} MB`,
    );
    assert.equal(s.distinct, N);
    assert.equal(s.unexpected, 0);
    assert.notEqual(after.cluster?.leader, leader);
    // Usually ~5 s; in 4 of 35 runs here nats-server 2.9.10's surviving servers delivered nothing
    // for ~23 s after the kill while the workers waited on nothing (docs/cluster.md). Recovery must
    // not take a redelivery timeout (ack_wait, 30 s).
    assert.ok(stall < ACK_WAIT_MS, `work stalled for ${stall} ms`);
    // A run is logged by the body, its result stored after it: a store caught by the failover is
    // still being retried by its worker when the last run is logged, so read until all are in.
    const status = new Array<string | undefined>(N);
    const unread = () => ids.map((_, i) => i).filter((i) => status[i] !== "SUCCESS");
    await eventually(async () => {
      const todo = unread();
      for (let k = 0; k < todo.length; k += 200) {
        const part = todo.slice(k, k + 200);
        const metas = await Promise.all(part.map((i) => app.backend.get(ids[i])));
        part.forEach((i, j) => (status[i] = metas[j]?.status));
      }
      return unread().length === 0;
    }, 60_000, 500).catch(() => {});
    status.forEach((st, i) => assert.equal(st, "SUCCESS", `task ${i}`));
    for (const w of workers) assert.equal(w.proc.exitCode, null, w.output);
  });

  test("chords counted on a replicated bucket all fire once, though 2.9 does not serialize compare-and-set", { timeout: 90_000 }, async () => {
    // nats-server 2.9.10 can accept two KV updates made over one revision (nats-server#4320):
    // members finishing together then lose a count. taskd counts the stored member results too.
    // The server killed above comes back first: a new bucket with replicas 3 needs three peers.
    for (const node of cluster.nodes) if (!node.alive) node.start();
    await cluster.ready(60_000);
    // The restarted server takes a moment to be placeable: make the canvas bucket before the chords.
    await retryTransient(() => canvasBucket(app), { deadlineMs: 60_000, maxDelayMs: 1000 });
    const s = (name: string, ...args: unknown[]) => signature(name, { args, app });
    const results = await Promise.all(Array.from({ length: 30 }, (_, n) => chord([0, 1, 2].map((i) => s("rel.record", 10_000 + n * 3 + i, 0)), s("rel.sum")).applyAsync()));
    const sums = await Promise.all(results.map((r) => r.get({ timeout: 60 })));
    sums.forEach((sum, n) => assert.equal(sum, 2 * (3 * (10_000 + n * 3) + 3), `chord ${n}`));
  });
});
