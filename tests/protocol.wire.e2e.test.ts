/**
 * The wire protocol as another client speaks it, through dist/taskd (issue 22): header names in
 * any case (`Taskd-Task`, `content-type`), a FAILURE with the reason for every dead-lettered
 * message whose task id is a valid key (protocol version 2, no protocol header, no task header,
 * a bad retries value, an undecodable body, an unknown task) and a reply to its
 * `taskd-reply-to`; silence only without a usable id. And kwargs bound by name (docs/tasks.md
 * "Keyword arguments"), from a client and from `taskd call --kwargs`. With signed messages
 * required, a signed message verifies whatever its header names' case, and an unverified one
 * stores no FAILURE even with a valid id.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createUser } from "@nats-io/nkeys";
import { MessageSigner } from "../src/protocol/signing.ts";
import { connect } from "@nats-io/transport-node";
import { headers, type NatsConnection } from "@nats-io/nats-core";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { TaskError } from "../mod.ts";
import { msgpack } from "../src/protocol/codec.ts";
import { decodeMeta } from "../src/protocol/result.ts";
import { add, app, echo, scale } from "./fixtures/tasks.ts";
import { NatsServer } from "./helpers/server.ts";
import { eventually, fixture, runCli, startWorker, type WorkerProcess } from "./helpers/taskd.ts";

let server: NatsServer;
let worker: WorkerProcess;
let nc: NatsConnection;
let n = 0;

/** Publishes a raw task message with exactly these headers (names as given). */
async function publishRaw(hdrs: Record<string, string>, body: Uint8Array = msgpack.encode([[2, 3], {}, {}])): Promise<void> {
  const h = headers();
  for (const [k, v] of Object.entries(hdrs)) h.set(k, v);
  await jetstream(nc).publish("taskd.tasks.default", body, { headers: h });
}

/** The stored FAILURE of `id` (waits for it). */
async function failureOf(id: string): Promise<TaskError> {
  try {
    await app.asyncResult(id).get({ timeout: 20 });
  } catch (e) {
    assert.ok(e instanceof TaskError, String(e));
    return e;
  }
  throw new Error(`${id} succeeded`);
}

/** The dead letter whose id header (any case) is `id`. */
async function deadLetterOf(id: string): Promise<Record<string, string>> {
  const jsm = await jetstreamManager(nc);
  return eventually(async () => {
    const info = await jsm.streams.info("TASKD_DEAD").catch(() => undefined);
    if (!info) return undefined;
    for (let seq = info.state.last_seq; seq >= info.state.first_seq && seq > 0; seq--) {
      const m = await jsm.streams.getMessage("TASKD_DEAD", { seq }).catch(() => null);
      if (!m) continue;
      const h: Record<string, string> = {};
      for (const [k, v] of m.header) h[k.toLowerCase()] = v[0];
      if (h["taskd-id"] === id) return h;
    }
    return undefined;
  }, 20_000);
}

const id = (what: string) => `wire-${what}-${++n}-${Date.now()}`;

describe("the wire protocol as another client speaks it, through dist/taskd", () => {
  before(async () => {
    server = await NatsServer.start();
    // The fixture's app is shared with other files run in this process: point it at this server.
    await app.close();
    app.useBroker(server.url);
    nc = await connect({ servers: server.url });
    worker = await startWorker(server.url, fixture("tasks.ts"));
  });

  after(async () => {
    await app.close();
    await nc?.close();
    await worker?.stop(2000);
    await server?.stop();
    delete process.env.TASKD_BROKER_URL;
  });

  test("Title-Case and lower-case header names: the task runs, its reply comes to Taskd-Reply-To", { timeout: 60_000 }, async () => {
    const t = id("title");
    const inbox = `_INBOX.wiretest${n}`;
    const sub = nc.subscribe(`${inbox}.>`);
    const replies: { subject: string; status?: string; result?: unknown }[] = [];
    (async () => {
      for await (const m of sub) {
        if (m.subject.endsWith(".d") || m.subject.endsWith(".r")) {
          const meta = decodeMeta(m.data);
          replies.push({ subject: m.subject, status: meta.status, result: meta.result });
        }
      }
    })();
    await publishRaw({
      "Taskd-Protocol": "1",
      "Taskd-Task": "tasks.add",
      "Taskd-Id": t,
      "Taskd-Retries": "0",
      "Taskd-Queue": "default",
      "TASKD-REPLY-TO": inbox,
      "content-type": "application/x-msgpack",
    }, msgpack.encode([[40, 2], {}, null]));
    assert.equal(await app.asyncResult(t).get({ timeout: 20 }), 42);
    const reply = await eventually(() => replies[0]);
    assert.deepEqual(reply, { subject: `${inbox}.d`, status: "SUCCESS", result: 42 });
    // A JSON body under a lower-case content type, with Content-Encoding in another case.
    const j = id("json");
    await publishRaw({ "taskd-protocol": "1", "TASKD-TASK": "tasks.add", "taskd-ID": j, "CONTENT-TYPE": "application/json" }, new TextEncoder().encode("[[1,2],{},null]"));
    assert.equal(await app.asyncResult(j).get({ timeout: 20 }), 3);
    sub.unsubscribe();
  });

  test("every dead-lettered message with a valid id leaves a FAILURE with the reason", { timeout: 90_000 }, async () => {
    const cases: { what: string; hdrs: (id: string) => Record<string, string>; body?: Uint8Array; reason: RegExp; type: string }[] = [
      { what: "v2", hdrs: (i) => ({ "taskd-protocol": "2", "taskd-task": "tasks.add", "taskd-id": i }), reason: /protocol version '2' is not supported/, type: "ProtocolError" },
      { what: "noproto", hdrs: (i) => ({ "taskd-task": "tasks.add", "taskd-id": i }), reason: /no taskd-protocol header/, type: "ProtocolError" },
      { what: "notask", hdrs: (i) => ({ "Taskd-Protocol": "1", "Taskd-Id": i }), reason: /the taskd-task header is missing/, type: "ProtocolError" },
      { what: "retries", hdrs: (i) => ({ "taskd-protocol": "1", "taskd-task": "tasks.add", "taskd-id": i, "taskd-retries": "-1" }), reason: /taskd-retries must be a whole number/, type: "ProtocolError" },
      {
        what: "body",
        hdrs: (i) => ({ "taskd-protocol": "1", "taskd-task": "tasks.add", "taskd-id": i }),
        body: new Uint8Array([0xc1, 0xff, 0x00]),
        reason: /Cannot decode body/,
        type: "ProtocolError",
      },
      { what: "unknown", hdrs: (i) => ({ "Taskd-Protocol": "1", "Taskd-Task": "tasks.nope", "Taskd-Id": i }), reason: /not registered|tasks\.nope/, type: "NotRegistered" },
      { what: "arity", hdrs: (i) => ({ "taskd-protocol": "1", "taskd-task": "tasks.add", "taskd-id": i }), body: msgpack.encode([[1, 2, 3], {}, null]), reason: /expected 2 arguments, got 3/, type: "TypeError" },
    ];
    const ids = cases.map((c) => id(c.what));
    for (const [i, c] of cases.entries()) await publishRaw(c.hdrs(ids[i]), c.body);
    // A delayed message the scheduler cannot release: its queue is no subject token.
    const delayed = id("delayed");
    const h = headers();
    for (const [k, v] of Object.entries({ "Taskd-Protocol": "1", "Taskd-Task": "tasks.add", "Taskd-Id": delayed, "Taskd-Queue": "no.such queue" })) h.set(k, v);
    await jetstream(nc).publish("taskd.delayed.default", msgpack.encode([[1, 2], {}, null]), { headers: h });
    const d = await failureOf(delayed);
    assert.equal(d.remoteType, "ProtocolError");
    assert.match(d.remoteMessage, /Cannot release delayed task tasks\.add\[wire-delayed-[^\]]+\]: Cannot use queue 'no\.such queue'/);
    for (const [i, c] of cases.entries()) {
      const e = await failureOf(ids[i]);
      assert.equal(e.remoteType, c.type, `${c.what}: ${e.remoteMessage}`);
      assert.match(e.remoteMessage, c.reason, c.what);
      const dead = await deadLetterOf(ids[i]);
      assert.equal(dead["taskd-dead-reason"], e.remoteMessage, c.what);
    }
  });

  test("a failure before the envelope is read is replied to Taskd-Reply-To too; no usable id: dead letter only", { timeout: 60_000 }, async () => {
    const t = id("v2reply");
    const inbox = `_INBOX.wirefail${n}`;
    const sub = nc.subscribe(`${inbox}.d`, { max: 1 });
    const got = (async () => {
      for await (const m of sub) return decodeMeta(m.data);
    })();
    await publishRaw({ "Taskd-Protocol": "2", "Taskd-Task": "tasks.add", "Taskd-Id": t, "Taskd-Reply-To": inbox });
    const meta = await got;
    assert.equal(meta?.status, "FAILURE");
    assert.equal(meta?.taskId, t);
    assert.match((meta?.result as { message: string }).message, /protocol version '2'/);
    // An id that is no KV key: dead-lettered, nothing stored, the worker serves on.
    const bad = `bad id ${n}`;
    await publishRaw({ "taskd-protocol": "2", "taskd-task": "tasks.add", "taskd-id": bad });
    const dead = await deadLetterOf(bad);
    assert.match(dead["taskd-dead-reason"], /protocol version '2'/);
    assert.equal(await (await add.delay(1, 1)).get({ timeout: 20 }), 2);
    assert.equal(worker.proc.exitCode, null);
  });

  test("kwargs bind by name; the others form the last parameter's options object; an unknown one is a TypeError", { timeout: 60_000 }, async () => {
    assert.equal(await (await add.applyAsync([2], { kwargs: { y: 3 } })).get({ timeout: 20 }), 5);
    assert.equal(await (await add.applyAsync([], { kwargs: { y: 3, x: 10 } })).get({ timeout: 20 }), 13);
    assert.equal(await (await scale.applyAsync([4], { kwargs: { factor: 3 } })).get({ timeout: 20 }), 12);
    assert.deepEqual(await (await echo.applyAsync([4], { kwargs: { k: 1 } })).get({ timeout: 20 }), [4, { k: 1 }]);
    // The client checks before sending (typing) …
    await assert.rejects(add.applyAsync([2, 3], { kwargs: { z: 1 } }), /Cannot call tasks\.add: unexpected keyword argument 'z'; it takes x, y/);
    await assert.rejects(add.applyAsync([2], { kwargs: { x: 1 } }), /got multiple values for argument 'x'/);
    // … and the worker, for a sender that did not (another language): FAILURE and a dead letter.
    const t = id("kw");
    await publishRaw({ "taskd-protocol": "1", "taskd-task": "tasks.add", "taskd-id": t }, msgpack.encode([[2, 3], { z: 1 }, null]));
    const e = await failureOf(t);
    assert.equal(e.remoteType, "TypeError");
    assert.match(e.remoteMessage, /unexpected keyword argument 'z'/);
    await deadLetterOf(t);
    // taskd call --kwargs follows the same rule.
    const cli = await runCli(server.url, ["call", "tasks.add", "2", "--kwargs", '{"y": 40}', "--wait", "--timeout", "20"]);
    assert.equal(cli.code, 0, cli.stdout + cli.stderr);
    assert.match(cli.stdout, /42/);
  });
});

describe("header case and dead-letter FAILUREs when workers take only signed messages", () => {
  let signedServer: NatsServer;
  let signedWorker: WorkerProcess;
  let snc: NatsConnection;
  const clientKey = createUser();
  const dir = mkdtempSync(join(tmpdir(), "taskd-wire-signing-"));
  const workerSeed = join(dir, "worker.nk");
  const trusted = join(dir, "trusted.txt");
  const seedOf = (kp: ReturnType<typeof createUser>) => new TextDecoder().decode(kp.getSeed());

  before(async () => {
    signedServer = await NatsServer.start();
    writeFileSync(workerSeed, seedOf(createUser()));
    writeFileSync(trusted, `${clientKey.getPublicKey()}\n`);
    signedWorker = await startWorker(signedServer.url, fixture("tasks.ts"), { args: ["-n", "wire-signed@test", "--signing-key", workerSeed, "--trusted", trusted] });
    snc = await connect({ servers: signedServer.url });
  });

  after(async () => {
    await snc?.close();
    await signedWorker?.stop(2000);
    await signedServer?.stop();
  });

  /** Publishes with the header names Title-Cased (`taskd-task` → `Taskd-Task`). */
  async function publishTitleCase(hdrs: Record<string, string>, body: Uint8Array): Promise<void> {
    const h = headers();
    for (const [k, v] of Object.entries(hdrs)) h.set(k.replace(/(^|-)([a-z])/g, (_m, d, c) => d + c.toUpperCase()), v);
    await jetstream(snc).publish("taskd.tasks.default", body, { headers: h });
  }

  /** The stored entry of `id`, or null (nothing stored yet, or no bucket yet). */
  async function entryOf(id: string) {
    try {
      const m = await snc.request(`$JS.API.DIRECT.GET.KV_taskd_results`, new TextEncoder().encode(JSON.stringify({ last_by_subj: `$KV.taskd_results.${id}` })), { timeout: 2000 });
      return m.data.length ? decodeMeta(m.data) : null;
    } catch {
      return null;
    }
  }

  test("a signed message runs (and fails) whatever the case of its header names; an unsigned one stores nothing", { timeout: 60_000 }, async () => {
    const signer = new MessageSigner(seedOf(clientKey));
    const sign = (h: Record<string, string>, body: Uint8Array) => {
      signer.sign(h, body);
      return h;
    };
    const ok = id("signed-ok");
    const okBody = msgpack.encode([[20, 22], {}, null]);
    await publishTitleCase(sign({ "taskd-protocol": "1", "taskd-task": "tasks.add", "taskd-id": ok, "Content-Type": "application/x-msgpack" }, okBody), okBody);
    const v2 = id("signed-v2");
    const v2Body = msgpack.encode([[1, 1], {}, null]);
    await publishTitleCase(sign({ "taskd-protocol": "2", "taskd-task": "tasks.add", "taskd-id": v2 }, v2Body), v2Body);
    const unsignedV2 = id("unsigned-v2");
    await publishTitleCase({ "taskd-protocol": "2", "taskd-task": "tasks.add", "taskd-id": unsignedV2 }, v2Body);
    assert.deepEqual(await eventually(async () => (await entryOf(ok))?.result), 42);
    const failure = await eventually(() => entryOf(v2));
    assert.equal(failure.status, "FAILURE");
    assert.match((failure.result as { message: string }).message, /protocol version '2' is not supported/);
    await signedWorker.waitFor(/dead-lettered message \d+ from taskd\.tasks\.default: unsigned message/);
    assert.equal(await entryOf(unsignedV2), null, "an unverified message writes no result");
  });
});
