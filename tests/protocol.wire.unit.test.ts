/**
 * Issue 22's pure parts, no broker: header names filed whatever their case (src/worker/headers.ts),
 * kwargs bound as Celery binds them (src/validate/bind.ts) — directly, through `apply()`, in
 * validate mode, and in the `typing` check a client makes before sending.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import type { JsMsg } from "@nats-io/jetstream";
import { App, type TaskError } from "../mod.ts";
import { hasRepeatedHeaders, headerKey, headersOf } from "../src/worker/headers.ts";
import { bindCall, checkCall } from "../src/validate/bind.ts";

// Never connects: every call here is refused, or run in process with apply().
const app = new App("wire", { broker: "nats://127.0.0.1:1" });
const add = app.task(function add(x: number, y: number) {
  return x + y;
});
const scale = app.task(function scale(x: number, o: { factor: number }) {
  return x * o.factor;
});
const opt = app.task(function opt(x: number, y = 1, opts: Record<string, unknown> = {}) {
  return [x, y, opts];
});
const rest = app.task({ typing: false }, function rest(...args: unknown[]) {
  return args;
});
const bound = app.task({ bind: true }, function bound(_self: unknown, a: number, b = 2) {
  return a + b;
});
const destructured = app.task(function destructured(x: number, { factor = 1 } = {}) {
  return x * factor;
});
const vadd = app.task({ validate: true, args: [v.number(), v.optional(v.number(), 100)] }, function vadd(x: number, y: number) {
  return x + y;
});

async function failure(p: Promise<{ get(): Promise<unknown> }>): Promise<TaskError | Error> {
  try {
    await (await p).get();
  } catch (e) {
    return e as Error;
  }
  throw new Error("succeeded");
}

describe("header names whatever their case", () => {
  test("taskd-* in lower case, Content-Type/Content-Encoding canonical, others as sent", () => {
    assert.equal(headerKey("taskd-task"), "taskd-task");
    assert.equal(headerKey("Taskd-Task"), "taskd-task");
    assert.equal(headerKey("TASKD-REPLY-TO"), "taskd-reply-to");
    assert.equal(headerKey("content-type"), "Content-Type");
    assert.equal(headerKey("CONTENT-ENCODING"), "Content-Encoding");
    assert.equal(headerKey("Content-Type"), "Content-Type");
    assert.equal(headerKey("X-Trace"), "X-Trace");
    assert.equal(headerKey("trace"), "trace");
    assert.equal(headerKey("Nats-Msg-Id"), "Nats-Msg-Id");
  });

  test("a message's record (the nats.js fallback path): the first of two spellings counts and is noted as repeated", () => {
    const m = { headers: [["Taskd-Id", ["a"]], ["taskd-id", ["b"]], ["content-type", ["application/json"]], ["X-Mine", ["1"]]] } as unknown as JsMsg;
    const h = headersOf(m);
    assert.deepEqual({ ...h }, { "taskd-id": "a", "Content-Type": "application/json", "X-Mine": "1" });
    assert.ok(hasRepeatedHeaders(m));
  });
});

describe("kwargs bound by name", () => {
  test("a declared parameter takes its kwarg; the rest form the last parameter's object; holes stay undefined", () => {
    assert.deepEqual(bindCall(add, [2], { y: 3 }), [2, 3]);
    assert.deepEqual(bindCall(add, [], { y: 3, x: 1 }), [1, 3]);
    assert.deepEqual(bindCall(scale, [4], { factor: 3 }), [4, { factor: 3 }]);
    assert.deepEqual(bindCall(opt, [4], { verbose: true }), [4, undefined, { verbose: true }]);
    assert.deepEqual(bindCall(opt, [4], { y: 2, verbose: true }), [4, 2, { verbose: true }]);
    assert.deepEqual(bindCall(opt, [4], { opts: { a: 1 } }), [4, undefined, { a: 1 }]);
    assert.deepEqual(bindCall(rest, [4], { k: 1 }), [4, { k: 1 }]);
    assert.deepEqual(bindCall(bound, [], { b: 5, a: 1 }), [1, 5]);
    assert.deepEqual(bindCall(destructured, [3], { factor: 2 }), [3, { factor: 2 }]);
    const args = [1, 2];
    assert.equal(bindCall(add, args, {}), args, "no kwargs: the args as they are");
  });

  test("an unknown keyword, a keyword given twice: TypeError naming it", () => {
    assert.throws(() => bindCall(add, [2, 3], { z: 1 }), { name: "TypeError", message: "Cannot run wire.add: unexpected keyword argument 'z'; it takes x, y" });
    assert.throws(() => bindCall(add, [2, 3], { z: 1, w: 2 }), /unexpected keyword arguments 'z', 'w'/);
    assert.throws(() => bindCall(add, [2], { x: 1 }), { name: "TypeError", message: "Cannot run wire.add: got multiple values for argument 'x'" });
    assert.throws(() => bindCall(bound, [1, 2], { c: 1 }), /unexpected keyword argument 'c'; it takes a, b/);
  });

  test("the typing check: binding, the count, and required parameters left empty", () => {
    checkCall(add, [1], { y: 2 });
    checkCall(opt, [1], { z: 1 });
    assert.throws(() => checkCall(add, [], { y: 3 }), { name: "TypeError", message: "Cannot call wire.add: missing required argument 'x'" });
    assert.throws(() => checkCall(add, [1, 2, 3], {}), /expected 2 arguments, got 3/);
    assert.throws(() => checkCall(add, [1, 2], { z: 3 }), /Cannot call wire\.add: unexpected keyword argument 'z'/);
  });

  test("apply() and the client's check before sending follow the same rule", async () => {
    assert.equal(await (await add.apply([2], { kwargs: { y: 3 } })).get(), 5);
    assert.equal(await (await scale.apply([4], { kwargs: { factor: 3 } })).get(), 12);
    assert.equal(await (await destructured.apply([4], { kwargs: { factor: 3 } })).get(), 12);
    assert.deepEqual(await (await opt.apply([4], { kwargs: { verbose: true } })).get(), [4, 1, { verbose: true }]);
    const e = await failure(add.apply([2, 3], { kwargs: { z: 1 } }));
    assert.match(e.message, /unexpected keyword argument 'z'/);
    await assert.rejects(add.applyAsync([2, 3], { kwargs: { z: 1 } }), { name: "TypeError", message: /Cannot call wire\.add: unexpected keyword argument 'z'/ });
    await assert.rejects(add.applyAsync([], { kwargs: { y: 1 } }), /missing required argument 'x'/);
  });

  test("validate mode binds by name before the args schemas parse the positions", async () => {
    assert.equal(await (await vadd.apply([1], { kwargs: { y: 2 } })).get(), 3);
    assert.equal(await (await vadd.apply([], { kwargs: { x: 1 } })).get(), 101);
    const e = await failure(vadd.apply([1, 2], { kwargs: { z: 3 } }));
    assert.equal((e as TaskError).remoteType, "TaskValidationError");
    assert.match(e.message, /Cannot run wire\.vadd: unexpected keyword argument 'z'/);
    await assert.rejects(vadd.applyAsync([1, 2], { kwargs: { z: 3 } }), /Cannot call wire\.vadd: unexpected keyword argument 'z'/);
    await assert.rejects(vadd.applyAsync([1], { kwargs: { y: "no" } }), /argument 1 \(y\)/);
  });
});
