/**
 * Bounded streams and buckets with one owner for their settings (docs/limits.md): a worker
 * brings a bucket a client made with other settings to its own; a worker restarted with a new
 * `resultExpires` or `dedupWindow` changes the running system; a setting the server cannot
 * change is refused by name; the byte and count bounds drop the oldest results first; a client
 * whose settings differ from the server's warns and keeps the server's; `taskd status`.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/nats-core";
import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { addLogHandler, App, QueueFullError } from "../mod.ts";
import { NatsServer } from "./helpers/server.ts";
import { fixture, runCli, startWorker, type WorkerProcess } from "./helpers/taskd.ts";
import { states } from "../src/protocol/states.ts";

let server: NatsServer;
let nc: NatsConnection;
let jsm: JetStreamManager;
const workers: WorkerProcess[] = [];
const apps: App[] = [];

const seconds = (ns: number | undefined) => Math.round((ns ?? 0) / 1e9);

function worker(env: Record<string, string>): Promise<WorkerProcess> {
  return startWorker(server.url, fixture("limits_tasks.ts"), { env, args: ["-c", "4"] }).then((w) => {
    workers.push(w);
    return w;
  });
}

function app(config: ConstructorParameters<typeof App>[1] = {}): App {
  const a = new App("limits-client", { broker: server.url, prefix: "limits", ...config });
  apps.push(a);
  return a;
}

describe("bounded streams and buckets", () => {
  before(async () => {
    server = await NatsServer.start();
    nc = await connect({ servers: server.url });
    jsm = await jetstreamManager(nc);
  });
  after(async () => {
    for (const w of workers) await w.stop();
    for (const a of apps) await a.close();
    await nc?.close();
    await server?.stop();
  });

  test("a worker brings a bucket a client created with other settings to its own, and a restart with a new resultExpires changes it", async () => {
    // A client sends first, with the defaults: it creates the streams and the results bucket.
    const client = app();
    const id = (await client.sendTask("limits.echo", [1])).id;
    await client.backend.kv();
    let si = await jsm.streams.info("KV_limits_results");
    assert.equal(seconds(si.config.max_age), 86_400);
    assert.equal(si.config.max_bytes, 512 * 1024 ** 2);
    assert.equal(si.config.max_msgs, 1_000_000);
    assert.equal(si.config.discard, "old");

    const w1 = await worker({ LIMITS_RESULT_EXPIRES: "30", LIMITS_RESULT_MAX_BYTES: "1048576", LIMITS_DEDUP_WINDOW: "20" });
    si = await jsm.streams.info("KV_limits_results");
    assert.equal(seconds(si.config.max_age), 30);
    assert.equal(si.config.max_bytes, 1_048_576);
    assert.equal(si.config.max_msgs, 1_000_000);
    assert.equal(seconds((await jsm.streams.info("LIMITS_TASKS")).config.duplicate_window), 20);
    assert.match(w1.output, /KV_limits_results: applied resultExpires 30 \(server: 86400\), resultMaxBytes 1048576 \(server: 536870912\)/);
    assert.equal(await client.asyncResult(id).get({ timeout: 10 }), 1);

    // The running system takes a new resultExpires when its worker restarts with it.
    await w1.stop();
    await worker({ LIMITS_RESULT_EXPIRES: "120", LIMITS_DEDUP_WINDOW: "45" });
    si = await jsm.streams.info("KV_limits_results");
    assert.equal(seconds(si.config.max_age), 120);
    assert.equal(si.config.max_bytes, 512 * 1024 ** 2);
    assert.equal(seconds((await jsm.streams.info("LIMITS_TASKS")).config.duplicate_window), 45);
    assert.equal(seconds((await jsm.streams.info("KV_limits_canvas")).config.max_age), 120);
    const r = await client.sendTask("limits.echo", [2]);
    assert.equal(await r.get({ timeout: 10 }), 2);
  });

  test("a client whose settings differ from the server's warns once and keeps the server's", async () => {
    const lines: string[] = [];
    const stop = addLogHandler((rec) => void lines.push(`${rec.level} ${rec.message}`));
    try {
      const other = app({ resultExpires: 10 });
      await other.backend.kv();
      await other.backend.kv();
    } finally {
      stop();
    }
    assert.equal(seconds((await jsm.streams.info("KV_limits_results")).config.max_age), 120);
    const warnings = lines.filter((l) => l.startsWith("warn KV_limits_results"));
    assert.equal(warnings.length, 1, lines.join("\n"));
    assert.match(warnings[0], /resultExpires 10 \(server: 120\).*workers apply their settings/);
  });

  test("a setting the server refuses stops the worker with an error naming it; the others are applied", async () => {
    await workers.pop()!.stop();
    const w = await startWorker(server.url, fixture("limits_tasks.ts"), {
      env: { LIMITS_RESULT_EXPIRES: "120", LIMITS_RESULT_MAX_BYTES: String(2 ** 50), LIMITS_RESULT_MAX_COUNT: "5000" },
      waitReady: false,
    });
    workers.push(w);
    const code = await Promise.race([w.exited, new Promise((r) => setTimeout(() => r("running"), 30_000))]);
    assert.notEqual(code, "running", w.output);
    assert.notEqual(code, 0);
    assert.match(
      w.output,
      /Cannot apply resultMaxBytes 1125899906842624 to KV_limits_results, which has resultMaxBytes 536870912: the server refused \(insufficient storage resources available\)/,
    );
    const si = await jsm.streams.info("KV_limits_results");
    assert.equal(si.config.max_msgs, 5000);
    assert.equal(si.config.max_bytes, 512 * 1024 ** 2);
    // Back to the defaults for the tests below.
    await worker({ LIMITS_RESULT_EXPIRES: "120", LIMITS_DEDUP_WINDOW: "45" });
  });

  test("the byte bound drops the oldest results first", async () => {
    const small = app({ prefix: "bytes", resultMaxBytes: 16 * 1024 });
    const ids: string[] = [];
    for (let i = 0; i < 200; i++) {
      const id = crypto.randomUUID();
      ids.push(id);
      await small.backend.store({ taskId: id, status: states.SUCCESS, result: "x".repeat(100), dateDone: new Date().toISOString() });
    }
    const si = await jsm.streams.info("KV_bytes_results");
    assert.ok(si.state.bytes <= 16 * 1024, `${si.state.bytes} bytes`);
    assert.ok(si.state.messages > 20 && si.state.messages < 200, `${si.state.messages} results`);
    const kv = await small.backend.kv();
    const kept = ids.slice(-si.state.messages);
    const gone = ids.slice(0, ids.length - si.state.messages);
    for (const id of [kept[0], kept.at(-1)!]) assert.ok(await kv.get(id), `${id} kept`);
    for (const id of [gone[0], gone.at(-1)!]) assert.equal(await kv.get(id), null, `${id} dropped`);
    assert.equal(await small.asyncResult(ids.at(-1)!).get({ timeout: 5 }), "x".repeat(100));
  });

  test("the count bound drops the oldest results first", async () => {
    const few = app({ prefix: "count", resultMaxCount: 10 });
    const ids: string[] = [];
    for (let i = 0; i < 25; i++) {
      ids.push(crypto.randomUUID());
      await few.backend.store({ taskId: ids[i], status: states.SUCCESS, result: i, dateDone: new Date().toISOString() });
    }
    const kv = await few.backend.kv();
    assert.equal((await kv.status()).values, 10);
    assert.equal(await kv.get(ids[14]), null);
    assert.ok(await kv.get(ids[15]));
  });

  test("a full queue refuses a send with QueueFullError and keeps what it holds", async () => {
    const small = app({ prefix: "full", queueMaxBytes: 4096 });
    let sent = 0;
    const err = await (async () => {
      for (; sent < 100; sent++) await small.sendTask("x.y", [sent]);
    })().then(() => undefined, (e) => e);
    assert.ok(err instanceof QueueFullError, String(err));
    assert.equal(err.code, "QUEUE_FULL");
    assert.match(
      err.message,
      /^Cannot send x\.y: FULL_TASKS is full \(maximum bytes exceeded; bounds queueMaxCount 10000000, queueMaxBytes 4096\); start workers or raise the bound/,
    );
    assert.ok(sent > 3 && sent < 100, `${sent} sent`);
    assert.equal((await jsm.streams.info("FULL_TASKS")).state.messages, sent);
    // Refused at once: waiting for a full queue to drain is no transient outage to ride out.
    const t0 = Date.now();
    await assert.rejects(small.sendTask("x.y", [0]), QueueFullError);
    assert.ok(Date.now() - t0 < 2000, `${Date.now() - t0} ms`);
    // The default bound is a count (a byte bound reserves storage on the server).
    const few = app({ prefix: "fullcount", queueMaxCount: 5 });
    for (let i = 0; i < 5; i++) await few.sendTask("x.y", [i]);
    await assert.rejects(few.sendTask("x.y", [5]), /FULLCOUNT_TASKS is full \(maximum messages exceeded; bounds queueMaxCount 5, queueMaxBytes -1\)/);
  });

  test("a byte bound the server cannot reserve is refused at creation, naming the setting", async () => {
    const huge = app({ prefix: "huge", resultMaxBytes: 2 ** 50 });
    await assert.rejects(huge.backend.kv(), (e: Error) => {
      assert.equal(e.name, "StreamSettingsError");
      assert.match(e.message, /^Cannot create KV_huge_results with resultMaxBytes 1125899906842624: the server cannot reserve that much storage \(insufficient storage resources available\); lower resultMaxBytes or raise the server's max_file_store/);
      return true;
    });
  });

  test("taskd status shows each stream and bucket against its bounds", async () => {
    const json = await runCli(server.url, ["status", "--prefix", "limits", "--json"]);
    assert.equal(json.code, 0, json.stderr);
    const out = JSON.parse(json.stdout) as { prefix: string; stores: Record<string, unknown>[] };
    assert.equal(out.prefix, "limits");
    const byName = Object.fromEntries(out.stores.map((s) => [s.name, s]));
    assert.deepEqual(Object.keys(byName), [
      "LIMITS_TASKS",
      "LIMITS_DELAYED",
      "LIMITS_DEAD",
      "KV_limits_results",
      "KV_limits_canvas",
      "KV_limits_revoked",
      "KV_limits_ratelimits",
      "LIMITS_WAITING",
      "KV_limits_leases",
      "KV_limits_unique",
      "KV_limits_paused",
      "KV_limits_schedules",
      "KV_limits_events",
      "LIMITS_HISTORY",
    ]);
    assert.deepEqual(
      { ...byName.KV_limits_results, messages: undefined, bytes: undefined },
      {
        name: "KV_limits_results",
        role: "results",
        exists: true,
        messages: undefined,
        maxMessages: 1_000_000,
        bytes: undefined,
        maxBytes: 512 * 1024 ** 2,
        maxAgeSeconds: 120,
        discard: "old",
        duplicateWindowSeconds: 30, // clamped to max_age when resultExpires was 30
        replicas: 1,
      },
    );
    assert.equal(byName.KV_limits_results.messages, 2);
    assert.equal(byName.LIMITS_TASKS.duplicateWindowSeconds, 45);
    assert.equal(byName.LIMITS_TASKS.discard, "new");
    assert.equal(byName.KV_limits_ratelimits.exists, false);
    const table = await runCli(server.url, ["status", "--prefix", "limits"]);
    assert.equal(table.code, 0, table.stderr);
    const lines = table.stdout.trim().split("\n");
    assert.match(lines[0], /^NAME\s+HOLDS\s+MESSAGES\s+BYTES\s+MAX AGE\s+AT BOUND\s+DEDUP$/);
    assert.match(table.stdout, /\nKV_limits_results\s+results\s+2 \/ 1,000,000 \(0%\)\s+\d+ B \/ 512 MiB \(0%\)\s+2m\s+drop oldest\n/);
    assert.match(table.stdout, /\nLIMITS_TASKS\s+tasks\s+0 \/ 10,000,000 \(0%\)\s+0 B \/ no bound\s+forever\s+refuse new\s+45s\n/);
    assert.match(table.stdout, /\nKV_limits_ratelimits\s+global rate limits\s+\(not created yet\)\n/);
  });
});
