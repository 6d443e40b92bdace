/**
 * Results through the client's reply inbox (docs/results.md): the worker shares the KV put's
 * stored ack with the client and sends the data alongside; the client settles on both, falls
 * back to the KV entry for ids it did not send or when no reply comes, and a worker sends
 * replies only to `_INBOX.<token>` subjects. Also: a delivered message's headers read once
 * (src/worker/headers.ts) equal what nats.js reads.
 */
import { before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { headers as natsHeaders, type Msg } from "@nats-io/nats-core";
import { AckPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { App } from "../mod.ts";
import { add, app } from "./fixtures/tasks.ts";
import { useTaskd } from "./helpers/env.ts";
import { eventually } from "./helpers/taskd.ts";
import { REPLY_GRACE_MS } from "../src/nats/reply_inbox.ts";
import { isReplySubject } from "../src/protocol/result.ts";
import { headersOf } from "../src/worker/headers.ts";
import { msgpack } from "../src/protocol/codec.ts";
import type { TaskMessage } from "../src/protocol/message.ts";

const seen: { subject: string; data: Uint8Array }[] = [];

function taskMessage(fields: Partial<TaskMessage> & { id: string }): TaskMessage {
  return { task: "tasks.add", retries: 0, queue: "default", args: [20, 22], kwargs: {}, embed: {}, ...fields };
}

describe("results through the reply inbox", () => {
  const t = useTaskd({ module: "tasks.ts", args: ["-c", "10", "-Q", "default"], apps: [app] });

  before(async () => {
    t.nc.subscribe("_INBOX.>", { callback: (_e, m: Msg) => void seen.push({ subject: m.subject, data: m.data }) });
    await t.nc.flush();
  });

  test("the worker sends the data and the put's stored ack under the client's inbox; get() settles, the KV already holds it", async () => {
    const r = await add.delay(2, 3);
    assert.equal(await r.get({ timeout: 20 }), 5);
    // Right after get(): the entry is there (the client settled on the server's stored ack).
    assert.equal(await r.state, "SUCCESS");
    const data = await eventually(() => seen.find((m) => m.subject.endsWith(".d") && (msgpack.decode(m.data) as { taskId?: string }).taskId === r.id));
    const inbox = data.subject.slice(0, -2);
    assert.ok(isReplySubject(inbox), `the reply subject ${inbox} is an _INBOX.<token> subject`);
    const ack = await eventually(() => seen.find((m) => m.subject.startsWith(`${inbox}.s.`) && m.subject.endsWith(`.${r.id}`)));
    assert.match(new TextDecoder().decode(ack.data), /"stream":"KV_taskd_results"/);
    // A second get() answers from the inbox's memory; the same value either way.
    assert.equal(await r.get({ timeout: 5 }), 5);
  });

  test("many results at once, and ids with dots: each get() gets its own value", async () => {
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => add.applyAsync([i, 1], { taskId: `dotted.${i}.${crypto.randomUUID()}` })));
    const values = await Promise.all(results.map((r) => r.get({ timeout: 30 })));
    assert.deepEqual(values, Array.from({ length: 200 }, (_, i) => i + 1));
  });

  test("an App that did not send the task, and resultReplies: false, read the KV entry", async () => {
    const quiet = new App("tasks", { broker: t.url, resultReplies: false });
    const other = new App("tasks", { broker: t.url });
    try {
      const before = seen.length;
      const r = await quiet.sendTask("tasks.add", [40, 2]);
      assert.equal(await r.get({ timeout: 20 }), 42);
      assert.equal(await other.asyncResult(r.id).get({ timeout: 5 }), 42);
      const r2 = await add.delay(1, 1);
      assert.equal(await other.asyncResult(r2.id).get({ timeout: 20 }), 2);
      await r2.get({ timeout: 20 });
      // No reply for the task sent without a reply subject.
      assert.equal(seen.slice(before).filter((m) => m.subject.endsWith(".d") && (msgpack.decode(m.data) as { taskId?: string }).taskId === r.id).length, 0);
    } finally {
      await quiet.close();
      await other.close();
    }
  });

  test("a result stored without a reply (its worker died before replying) reaches get() through the KV after the grace period", async () => {
    // Sent to a queue no worker consumes; then stored by id alone, as a worker that stored it and
    // died before its reply would have left it.
    const r = await app.sendTask("tasks.add", [1, 2], { queue: "nobody" });
    const t0 = performance.now();
    const got = r.get({ timeout: 30 });
    const writer = new App("tasks", { broker: t.url });
    try {
      await writer.backend.markAsDone(r.id, 3, { taskName: "tasks.add" });
      assert.equal(await got, 3);
      const ms = performance.now() - t0;
      assert.ok(ms >= REPLY_GRACE_MS * 0.8, `it waited for the reply first (${Math.round(ms)} ms)`);
      assert.ok(ms < REPLY_GRACE_MS + 10_000, `then read the KV (${Math.round(ms)} ms)`);
    } finally {
      await writer.close();
    }
  });

  test("a worker sends no reply outside _INBOX.<token> (an API subject in taskd-reply-to is ignored)", async () => {
    assert.equal(isReplySubject("_INBOX.abcDEF123_-"), true);
    for (const bad of ["$JS.API.STREAM.DELETE.TASKD_DEAD", "_INBOX.a.b", "_INBOX.*", "_INBOX.>", "_INBOX.", "taskd.tasks.default", "_INBOX.a b", undefined]) {
      assert.equal(isReplySubject(bad), false, String(bad));
    }
    const jsm = await jetstreamManager(t.nc);
    await jsm.streams.add({ name: "VICTIM", subjects: ["victim.>"] });
    const id = crypto.randomUUID();
    await app.publish(taskMessage({ id, replyTo: "$JS.API.STREAM.DELETE.VICTIM" }));
    assert.equal(await app.asyncResult(id).get({ timeout: 20 }), 42);
    assert.equal((await jsm.streams.info("VICTIM")).config.name, "VICTIM");
  });

  test("headers read once per message equal nats.js's reading, odd names and repeated headers included", async () => {
    const jsm = await jetstreamManager(t.nc);
    await jsm.streams.add({ name: "HDRS", subjects: ["hdrs.>"] });
    await jsm.consumers.add("HDRS", { durable_name: "h", ack_policy: AckPolicy.Explicit });
    const js = jetstream(t.nc);
    const h = natsHeaders();
    h.set("taskd-task", "tasks.add");
    h.set("taskd-argsrepr", "  spaced value  ");
    h.append("X-Twice", "first");
    h.append("X-Twice", "second");
    h.set("constructor", "not a function");
    h.set("__proto__", "plain");
    h.set("Empty", "");
    await js.publish("hdrs.one", new Uint8Array([1]), { headers: h, msgID: "m1" });
    await js.publish("hdrs.two", new Uint8Array([2]));
    const c = await js.consumers.get("HDRS", "h");
    for (const subject of ["hdrs.one", "hdrs.two"]) {
      const m = await c.next({ expires: 5000 });
      assert.ok(m, `message on ${subject}`);
      assert.equal(m.subject, subject);
      const record = headersOf(m);
      const names = m.headers ? [...m.headers].map(([k]) => k) : [];
      assert.deepEqual(Object.keys(record).sort(), names.sort());
      for (const k of names) assert.equal(record[k], m.headers!.get(k), k);
      assert.equal(Object.getPrototypeOf(record), null);
      m.ack();
    }
  });
});
