/**
 * Flow-control options checked where they are written (docs/flow.md): bad values are refused
 * when the task is defined; a key function that throws fails the call before anything is sent
 * (no server runs here: a send would fail to connect instead).
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { App, FlowKeyError } from "../mod.ts";
import { keyToken, nameFromToken, nameToken, priorityOf } from "../src/protocol/flow.ts";
import { Slots } from "../src/worker/slots.ts";
import { PriorityTurns } from "../src/worker/priority.ts";

describe("flow options", () => {
  const app = new App("flowunit", { broker: "nats://127.0.0.1:1", connectTimeout: 0.2 });

  test("concurrency: 0, a fraction or a string is refused when the task is defined", () => {
    for (const concurrency of [0, -1, 1.5, "2" as unknown as number]) {
      assert.throws(() => app.task({ name: `bad.c${concurrency}`, concurrency }, () => 1), RangeError);
    }
    assert.throws(() => app.task({ name: "bad.key", concurrencyKey: () => "k" }, () => 1), /needs 'concurrency'/);
    assert.throws(() => app.task({ name: "bad.rate", rateLimitKey: () => "k" }, () => 1), /needs 'globalRateLimit'/);
    assert.throws(() => app.task({ name: "bad.prio", priority: 10 }, () => 1), RangeError);
    assert.throws(() => app.task({ name: "bad.unique", unique: { ttl: 0 } }, () => 1), RangeError);
    assert.ok(app.task({ name: "ok.c", concurrency: 3, priority: 0 }, () => 1));
  });

  test("a key function that throws fails the call with a clear error, before sending", async () => {
    const t = app.task({ name: "keyed.throws", concurrency: 1, concurrencyKey: (args) => (args[0] as { id: string }).id }, (_c: unknown) => 1);
    const err = await t.delay(undefined).then(() => undefined, (e) => e);
    assert.ok(err instanceof FlowKeyError, String(err));
    assert.match(err.message, /^Cannot call keyed\.throws: its concurrencyKey function threw: .*; nothing was sent$/);
    const u = app.task({ name: "unique.throws", unique: { ttl: 5, key: () => { throw new Error("no"); } } }, () => 1);
    await assert.rejects(u.delay(), FlowKeyError);
    const bad = app.task({ name: "prio.call" }, () => 1);
    await assert.rejects(bad.applyAsync([], { priority: 3.5 }), RangeError);
  });

  test("keys become safe tokens; priorities read from headers", () => {
    assert.equal(keyToken("customer-42"), "customer-42");
    assert.match(keyToken("a.b c*>"), /^h[0-9a-f]{16}$/);
    assert.equal(keyToken("a.b c*>"), keyToken("a.b c*>"));
    assert.notEqual(keyToken("a.b"), keyToken("a.c"));
    assert.notEqual(nameToken("a.b"), nameToken("a_b"));
    assert.equal(nameToken("tasks.add"), "tasks_dadd");
    assert.match(nameToken("ö.x y"), /^[A-Za-z0-9_-]+$/);
    for (const n of ["tasks.add", "a_b.c__d", "ö.x y_d", "_x41_"]) assert.equal(nameFromToken(nameToken(n)), n);
    assert.equal(priorityOf(undefined), 5);
    assert.equal(priorityOf("9"), 9);
    assert.equal(priorityOf("x"), 5);
  });

  test("a freed slot goes to the highest priority waiting", async () => {
    const slots = new Slots(1);
    assert.ok(slots.tryAcquire());
    const order: number[] = [];
    const wait = (p: number) => slots.acquire(p).then(() => order.push(p));
    const all = [wait(1), wait(9), wait(5), wait(9)];
    for (let i = 0; i < 4; i++) {
      slots.release();
      await new Promise((r) => setTimeout(r, 0));
    }
    await Promise.all(all);
    assert.deepEqual(order, [9, 9, 5, 1]);
  });

  test("a level waits while a higher level has messages here or on the server", async () => {
    const turns = new PriorityTurns(() => Promise.resolve(0));
    turns.setPending(9, 2);
    let low = false;
    const p = turns.turn(1).then(() => (low = true));
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(low, false);
    turns.delivered(9, 0);
    turns.ready(9);
    turns.ready(9);
    turns.started(9);
    assert.equal(low, false);
    turns.started(9);
    await p;
    assert.equal(low, true);
  });

  test("a higher level whose received messages all wait for a rate limit does not hold lower ones up", async () => {
    let room = true;
    const turns = new PriorityTurns(() => Promise.resolve(5), () => room);
    turns.setPending(9, 5);
    let low = false;
    const p = turns.turn(0).then(() => (low = true));
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(low, false, "the worker could still receive level 9");
    room = false; // its reserve for level 9 filled up with rate-limited messages
    turns.changed();
    await p;
    assert.equal(low, true);
  });
});
