/**
 * Signatures as data (no server): their plain form, set/clone/immutable, rebuilding chains,
 * groups and chords from data, and clear errors for bad input.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Batches, Chain, chain, Chord, chord, Group, group, Signature, signature, SimpleRequest } from "../mod.ts";
import { buildMessage } from "../src/app/call.ts";
import { batchPrefetch } from "../src/worker/batch_buffer.ts";
import { add, app, clicks, mul, tsum } from "./fixtures/canvas_tasks.ts";

describe("signatures as data", () => {
  test("task.s() serializes to { task, args, kwargs, options, immutable, subtaskType }", () => {
    const s = add.s(2).set({ countdown: 5 });
    assert.ok(s instanceof Signature);
    assert.deepEqual(JSON.parse(JSON.stringify(s)), {
      task: "canvas.add",
      args: [2],
      kwargs: {},
      options: { countdown: 5 },
      immutable: false,
      subtaskType: null,
    });
    assert.equal(add.si(1, 2).toJSON().immutable, true);
    assert.equal(String(add.si(1, 2)), "%canvas.add(1, 2)");
  });

  test("set() merges options and returns the same signature; clone() puts args first unless immutable", () => {
    const s = mul.s(4);
    assert.equal(s.set({ queue: "math" }).set({ immutable: true }), s);
    assert.deepEqual(s.options, { queue: "math" });
    assert.deepEqual(s.clone([9]).args, [4]);
    s.immutable = false;
    const c = s.clone([9], { z: 1 }, { countdown: 1 });
    assert.deepEqual([c.args, c.kwargs, c.options], [[9, 4], { z: 1 }, { queue: "math", countdown: 1 }]);
    assert.deepEqual(s.args, [4], "the original is unchanged");
  });

  test("chain, group and chord round-trip through JSON to the same kinds", () => {
    const wf = chain(add.s(1, 1), group([mul.s(2), mul.s(3)]), chord([add.s(1)], tsum.s()));
    const back = signature(JSON.parse(JSON.stringify(wf)), { app });
    assert.ok(back instanceof Chain);
    assert.ok(back.tasks[1] instanceof Group);
    assert.ok(back.tasks[2] instanceof Chord);
    assert.deepEqual(back.toJSON(), wf.toJSON());
    assert.ok(add.s(1, 1).pipe(mul.s(2)) instanceof Chain);
  });

  test("freeze() gives ids ahead of time: a chain's result is its last step's", () => {
    const last = add.s(1);
    const r = chain(add.s(1, 1), last).freeze();
    assert.equal(r.id, last.id);
    const g = group([add.s(1, 1), add.s(2, 2)]).freeze();
    assert.equal(g.results.length, 2);
    assert.notEqual(g.results[0].id, g.results[1].id);
  });

  test("callbacks travel as frozen data in the message", () => {
    const msg = buildMessage("canvas.add", "default", [1, 2], { link: add.s(1), linkError: [mul.s(2), { task: "canvas.tsum" }] });
    assert.equal(msg.embed.callbacks?.length, 1);
    assert.equal(msg.embed.errbacks?.length, 2);
    const cb = msg.embed.callbacks![0] as { task: string; options: { taskId?: string } };
    assert.equal(cb.task, "canvas.add");
    assert.match(cb.options.taskId ?? "", /^[0-9a-f-]{36}$/);
  });

  test("bad input gets a clear TypeError", () => {
    assert.throws(() => buildMessage("canvas.add", "default", [1, 2], { link: "canvas.mul" }), /Cannot use link: expected a signature/);
    assert.throws(() => signature(42 as unknown as string), /Cannot create a signature: give a task or a task name/);
    assert.throws(() => chord([add.s(1)], "tsum" as unknown as Signature), /body must be a signature/);
  });
});

describe("Batches (no server)", () => {
  test("defaults follow Celery; calls are not checked against the batch function's arity", () => {
    assert.ok(clicks instanceof Batches);
    assert.equal(clicks.flushEvery, 5);
    assert.equal(clicks.flushInterval, 10);
    assert.equal(clicks.effective("typing"), false);
    const plain = new Batches();
    assert.equal(plain.flushEvery, 10);
    assert.equal(plain.flushInterval, 30);
  });

  test("SimpleRequest carries id, name, args, kwargs, deliveryInfo, hostname", () => {
    const info = { queue: "default", subject: "taskd.tasks.default", redelivered: false, deliveryCount: 1 };
    const r = new SimpleRequest("id1", "canvas.clicks", ["u"], { k: 1 }, info, "w@h");
    assert.deepEqual({ ...r }, { id: "id1", name: "canvas.clicks", args: ["u"], kwargs: { k: 1 }, deliveryInfo: info, hostname: "w@h", retries: 0 });
  });

  test("prefetch is raised to flushEvery on the batch task's queue only", () => {
    assert.equal(batchPrefetch(app.tasks, "default", 2), 100);
    assert.equal(batchPrefetch(app.tasks, "default", 400), 400);
    assert.equal(batchPrefetch(app.tasks, "other", 2), 2);
  });
});
