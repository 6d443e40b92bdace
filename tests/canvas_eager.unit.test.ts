/**
 * Eager canvas (`apply()`, and `applyAsync()` under `taskAlwaysEager`): link and linkError,
 * chains, groups and chords run in process as Celery's task_always_eager runs them; a group
 * nested in a chord header is refused; a Batches task refuses workflow messages. No broker.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { App, chain, ChainError, chord, ChordError, EagerResult, group, Ignore, type TaskError } from "../mod.ts";
import { batchWorkflowRefusal } from "../src/app/batches.ts";

const app = new App("eagercanvas", { taskAlwaysEager: true });
const seen: unknown[] = [];
const add = app.task(function add(x: number, y: number) {
  return x + y;
});
const mul = app.task(function mul(x: number, y: number) {
  return x * y;
});
const tsum = app.task(function tsum(xs: number[]) {
  return xs.reduce((a, b) => a + b, 0);
});
const fail = app.task(function fail(m: unknown) {
  throw new TypeError(`boom: ${m}`);
});
const ignoring = app.task(function ignoring(..._args: unknown[]) {
  throw new Ignore();
});
const record = app.task({ typing: false }, function record(...args: unknown[]) {
  seen.push(args);
  return args;
});

describe("eager canvas", () => {
  test("apply() runs link with the result and linkError with (id, error), in process", async () => {
    seen.length = 0;
    const r = await add.apply([2, 3], { link: record.s("linked") });
    assert.equal(await r.get(), 5);
    assert.deepEqual(seen, [[5, "linked"]]);
    seen.length = 0;
    const f = await fail.apply(["x"], { linkError: record.s(), link: record.s("never") });
    assert.equal(await f.state, "FAILURE");
    assert.equal(seen.length, 1);
    const [id, err] = seen[0] as [string, { type: string; message: string }];
    assert.equal(id, f.id);
    assert.equal(err.type, "TypeError");
  });

  test("a chain runs step by step in process (apply and applyAsync under taskAlwaysEager)", async () => {
    const c = chain(add.s(2, 2), mul.s(4), add.s(1));
    const r = await c.apply();
    assert.ok(r instanceof EagerResult);
    assert.equal(await r.get(), 17);
    assert.equal(await (await chain(add.s(2, 2), mul.s(4), add.s(1)).applyAsync()).get(), 17);
    const p = await add.s(1, 1).pipe(mul.s(10)).applyAsync();
    assert.equal(await p.get(), 20);
  });

  test("a chain stopped by a failing step fails with a ChainError naming it; later steps do not run", async () => {
    seen.length = 0;
    const r = await chain(add.s(1, 1), fail.s(), record.s("after")).apply();
    assert.equal(await r.state, "FAILURE");
    await assert.rejects(r.get(), (e: TaskError) => {
      assert.equal(e.remoteType, "ChainError");
      assert.match(e.message, /Chain stopped: eagercanvas\.fail\[.+\] failed with TypeError: boom: 2; later steps did not run/);
      return true;
    });
    assert.deepEqual(seen, []);
    assert.equal(new ChainError("x").name, "ChainError");
  });

  test("a group runs every member; its GroupResult gives the values in order", async () => {
    const g = await group([add.s(1, 1), mul.s(2, 3)]).applyAsync();
    assert.deepEqual(await g.get(), [2, 6]);
    assert.deepEqual(await (await group([add.s(1, 1), mul.s(2, 3)]).apply()).get(), [2, 6]);
  });

  test("a chord runs its header, then its body with the results; a chord in a chain feeds the next step", async () => {
    const r = await chord([add.s(1, 1), add.s(2, 2), mul.s(3, 3)], tsum.s()).applyAsync();
    assert.equal(await r.get(), 15);
    const c = await chain(group([add.s(1, 1), add.s(2, 2)]), tsum.s(), mul.s(10)).apply();
    assert.equal(await c.get(), 60);
  });

  test("a chord whose members fail or raise Ignore fails with a ChordError naming each; the body's linkError runs", async () => {
    seen.length = 0;
    const r = await chord([add.s(1, 1), fail.si("h"), ignoring.s()], tsum.s()).apply([], { linkError: record.s() });
    assert.equal(await r.state, "FAILURE");
    await assert.rejects(r.get(), (e: TaskError) => {
      assert.equal(e.remoteType, "ChordError");
      assert.match(e.message, /2 of 3 header tasks did not succeed: header task eagercanvas\.fail\[.+\] raised TypeError: boom: h; header task eagercanvas\.ignoring\[.+\] raised Ignore; the body eagercanvas\.tsum did not run/);
      return true;
    });
    assert.equal(seen.length, 1);
    assert.equal((seen[0] as [string, { type: string }])[0], r.id);
    assert.equal((seen[0] as [string, { type: string }])[1].type, "ChordError");
    assert.equal(new ChordError("x", "id").chordId, "id");
  });

  test("a group nested in a chord header is refused with a clear error", () => {
    assert.throws(() => chord([add.s(1, 1), group([add.s(2, 2), add.s(3, 3)])], tsum.s()), (e: Error) => {
      assert.ok(e instanceof TypeError);
      assert.match(e.message, /header member 2 is a group; a group nested in a chord header is not supported/);
      return true;
    });
  });

  test("a Batches task refuses a message that takes part in a workflow, naming what it carries", () => {
    assert.equal(batchWorkflowRefusal("t.batch", {}), undefined);
    assert.equal(batchWorkflowRefusal("t.batch", { callbacks: [], chain: null }), undefined);
    const why = batchWorkflowRefusal("t.batch", { callbacks: [{}], chord: { id: "c", index: 0, size: 2 } });
    assert.match(why!, /^Cannot run t\.batch: it is a Batches task, .* cannot take part in link, a chord;/);
  });
});
