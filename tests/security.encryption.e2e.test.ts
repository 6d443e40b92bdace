/**
 * Encrypted bodies: the AES-GCM codec on its own (round trip, fresh IVs, tampering and wrong keys
 * refused), then end to end — the client and the task module both `registerSerializer("aesgcm",
 * …)`, the tasks stream read directly holds only ciphertext, the worker runs the task, and with
 * `argsrepr` the secret stays out of the worker's log. A body sealed with another key is
 * dead-lettered with the reason.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { jetstreamManager } from "@nats-io/jetstream";
import { aesGcmSerializer, App, registerSerializer, TaskError } from "../mod.ts";
import { useTaskd } from "./helpers/env.ts";
import { eventually } from "./helpers/taskd.ts";

const KEY = randomBytes(32).toString("base64");
const SECRET = "correct-horse-battery-staple-" + randomBytes(4).toString("hex");
const has = (bytes: Uint8Array, s: string) => Buffer.from(bytes).includes(Buffer.from(s));


describe("an encrypting body codec (AES-GCM) registered on both sides", () => {
  const t = useTaskd({ module: "encrypted.ts", workers: [], env: { TASKD_TEST_KEY: KEY } });
  let app: App;

  test("the codec round-trips, uses a fresh IV, and refuses tampered bodies and other keys", () => {
    const codec = aesGcmSerializer({ key: KEY });
    const value = [["alice", SECRET], { remember: true }, {}];
    const a = codec.encode(value);
    const b = codec.encode(value);
    assert.deepEqual(codec.decode(a), value);
    assert.notDeepEqual(a, b);
    assert.equal(has(a, SECRET), false);
    const tampered = a.slice();
    tampered[20] ^= 1;
    assert.throws(() => codec.decode(tampered));
    assert.throws(() => aesGcmSerializer({ key: randomBytes(32) }).decode(a));
    assert.throws(() => codec.decode(a.subarray(0, 10)), /not an AES-GCM sealed body/);
    assert.throws(() => aesGcmSerializer({ key: new Uint8Array(16) }), RangeError);
  });

  test("the broker holds only ciphertext; the worker decrypts, runs, and keeps the secret out of its log", { timeout: 60_000 }, async () => {
    registerSerializer("aesgcm", aesGcmSerializer({ key: KEY }));
    app = t.app("enc-client", { taskSerializer: "aesgcm" });
    // Sent before any worker runs, so the message waits in the stream where we can read it.
    const r = await app.sendTask("enc.login", ["alice", SECRET], { argsrepr: "('alice', '<hidden>')" });
    const jsm = await jetstreamManager(t.nc);
    const info = await jsm.streams.info("TASKD_TASKS");
    const stored = (await jsm.streams.getMessage("TASKD_TASKS", { seq: info.state.last_seq }))!;
    assert.equal(stored.header.get("Content-Type"), "application/x-taskd-aesgcm");
    assert.equal(stored.header.get("taskd-task"), "enc.login");
    assert.equal(has(stored.data, SECRET), false, "the secret is in the stored body");
    assert.equal(has(stored.data, "alice"), false, "the user name is in the stored body");
    const worker = await t.startWorker(["-c", "2", "--loglevel", "debug"]);
    assert.deepEqual(await r.get({ timeout: 20 }), { user: "alice", length: SECRET.length });
    await eventually(() => /enc\.login\[[^\]]+\] succeeded/.test(worker.output));
    assert.match(worker.output, /<hidden>/);
    assert.doesNotMatch(worker.output, new RegExp(SECRET));
    // The result is sealed with the same codec: the bucket holds its state, not its value.
    const entry = (await jsm.streams.getMessage("KV_taskd_results", { last_by_subj: `$KV.taskd_results.${r.id}` }))!;
    assert.equal(has(entry.data, "alice"), false, "the result's value is in the results bucket");
    assert.equal(has(entry.data, "SUCCESS"), true, "the state stays readable");
    assert.equal(has(entry.data, "application/x-taskd-aesgcm"), true, "the entry names what sealed it");
    assert.equal(await app.asyncResult(r.id).state, "SUCCESS");
    const plainReader = t.app("enc-reader", {});
    registerSerializer("aesgcm", aesGcmSerializer({ key: randomBytes(32).toString("base64") }));
    try {
      await assert.rejects(plainReader.asyncResult(r.id).get({ timeout: 5 }), /Cannot read|AES-GCM|decrypt|authenticate/i, "another key cannot open it");
    } finally {
      registerSerializer("aesgcm", aesGcmSerializer({ key: KEY }));
    }
  });

  test("a body sealed with another key is dead-lettered with the reason; the worker serves on", { timeout: 60_000 }, async () => {
    registerSerializer("aesgcm", aesGcmSerializer({ key: randomBytes(32) }));
    const stranger = new App("enc-stranger", { broker: t.url, taskSerializer: "aesgcm" });
    try {
      const r = await stranger.sendTask("enc.login", ["mallory", "x"]);
      await assert.rejects(r.get({ timeout: 20 }), (e: unknown) => e instanceof TaskError && e.remoteType === "ProtocolError" && /Cannot decode body as application\/x-taskd-aesgcm/.test(e.remoteMessage));
    } finally {
      await stranger.close();
      registerSerializer("aesgcm", aesGcmSerializer({ key: KEY }));
    }
    const jsm = await jetstreamManager(t.nc);
    // The FAILURE is stored before the copy to the dead-letter stream: wait for the copy.
    const dead = await eventually(() => jsm.streams.getMessage("TASKD_DEAD", { last_by_subj: "taskd.dead.default" }).catch(() => null));
    assert.match(dead.header.get("taskd-dead-reason"), /Cannot decode body as application\/x-taskd-aesgcm/);
    assert.deepEqual(await (await app.sendTask("enc.login", ["bob", "pw"])).get({ timeout: 20 }), { user: "bob", length: 2 });
    assert.equal(t.worker.proc.exitCode, null);
  });
});
