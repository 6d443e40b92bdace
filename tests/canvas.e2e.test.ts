/**
 * The canvas end to end: link/linkError, chain, group, chord through dist/taskd workers, the
 * library as client, a real nats-server.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chain, chord, group, GroupResult, signature, TaskError } from "../mod.ts";
import { add, app, collect, fail, flakyAdd, mul, onError, sleepy, tagged, tsum, whoami } from "./fixtures/canvas_tasks.ts";
import { useTaskd } from "./helpers/env.ts";
import { completeLines } from "./helpers/taskd.ts";

const log = join(mkdtempSync(join(tmpdir(), "taskd-canvas-")), "log.jsonl");

function notes(): Record<string, unknown>[] {
  if (!existsSync(log)) return [];
  return completeLines(readFileSync(log, "utf8")).map((l) => JSON.parse(l));
}

describe("canvas through dist/taskd", () => {
  const t = useTaskd({ module: "canvas_tasks.ts", workers: [["-c", "10", "-n", "w1@canvas"], ["-c", "10", "-n", "w2@canvas"]], env: { CANVAS_LOG: log }, apps: [app] });

  test("link runs with the parent's result first; linkError gets the failed task's id and error", async () => {
    const cb = tagged.s("link");
    const cbResult = cb.freeze();
    const r = await add.applyAsync([2, 3], { link: cb });
    assert.equal(await r.get({ timeout: 20 }), 5);
    assert.deepEqual(await cbResult.get({ timeout: 20 }), { value: 5, tag: "link" });

    const eb = onError.s();
    const ebResult = eb.freeze();
    const f = await fail.applyAsync(["x"], { linkError: eb, link: tagged.s("never") });
    await assert.rejects(f.get({ timeout: 20 }), TaskError);
    assert.deepEqual(await ebResult.get({ timeout: 20 }), { taskId: f.id, type: "TypeError", message: "boom: x" });
  });

  test("an immutable callback (si) ignores the parent's result; a signature called by name works", async () => {
    const cb = tagged.si("fixed", "tag");
    const res = cb.freeze();
    await add.applyAsync([1, 1], { link: cb });
    assert.deepEqual(await res.get({ timeout: 20 }), { value: "fixed", tag: "tag" });
    const byName = signature(JSON.parse(JSON.stringify(signature("canvas.mul", { args: [6], app }))), { app });
    assert.equal(await (await byName.delay(7)).get({ timeout: 20 }), 42);
  });

  test("a 3-step chain computes ((2+2)*4)+1; pipe() does the same", async () => {
    const r = await chain(add.s(2, 2), mul.s(4), add.s(1)).applyAsync();
    assert.equal(await r.get({ timeout: 20 }), 17);
    const p = await add.s(2, 2).pipe(mul.s(4), add.s(1)).applyAsync();
    assert.equal(await p.get({ timeout: 20 }), 17);
  });

  test("chain steps carry rootId, parentId and the rest of the chain", async () => {
    const first = add.s(1, 1);
    const firstId = first.freeze().id;
    const r = await chain(first, whoami.s(), whoami.s()).applyAsync();
    const last = (await r.get({ timeout: 20 })) as { parentId: string; rootId: string; chain: number };
    assert.equal(last.rootId, firstId);
    assert.notEqual(last.parentId, firstId); // its parent is the middle step
    assert.equal(last.chain, 0);
    const middle = (await app.asyncResult(last.parentId).get({ timeout: 20 })) as { parentId: string; rootId: string; chain: number };
    assert.equal(middle.parentId, firstId);
    assert.equal(middle.rootId, firstId);
    assert.equal(middle.chain, 1);
  });

  test("a failing step stops the chain and the chain's result fails naming it", async () => {
    const r = await chain(add.s(1, 1), fail.s(), add.s(1)).applyAsync();
    await assert.rejects(r.get({ timeout: 20 }), (e: TaskError) => {
      assert.equal(e.remoteType, "ChainError");
      assert.match(e.message, /canvas\.fail\[.+\] failed with TypeError: boom: 2/);
      return true;
    });
  });

  test("a group returns results in order, whatever order they finish in; it can be restored by id", async () => {
    const g = await group([sleepy.s(600, "a"), sleepy.s(10, "b"), sleepy.s(300, "c"), add.s(20, 22)]).applyAsync();
    assert.ok(g instanceof GroupResult);
    assert.deepEqual(await g.get({ timeout: 20 }), ["a", "b", "c", 42]);
    const again = await app.groupResult(g.id);
    assert.ok(again);
    assert.deepEqual(await again.get({ timeout: 20 }), ["a", "b", "c", 42]);
    assert.equal(await again.state, "SUCCESS");
    const members = (await group([whoami.s(), whoami.s()]).applyAsync());
    const fields = (await members.get({ timeout: 20 })) as { group: string; rootId: string; id: string }[];
    assert.deepEqual(fields.map((f) => f.group), [members.id, members.id]);
    assert.equal(fields[1].rootId, fields[0].id);
  });

  test("a chord sums its header; header tasks carry the chord", async () => {
    const r = await chord([add.s(1, 1), add.s(2, 2), sleepy.s(200, 10)], tsum.s()).applyAsync();
    assert.equal(await r.get({ timeout: 20 }), 16);
    const member = whoami.s();
    const memberResult = member.freeze();
    const c = await chord([member, add.s(0, 0)], tsum.si([1])).applyAsync();
    assert.equal(await c.get({ timeout: 20 }), 1);
    const fields = (await memberResult.get({ timeout: 20 })) as { group: string; chord: { id: string; index: number; size: number } };
    assert.deepEqual(fields.chord, { id: fields.group, index: 0, size: 2 });
  });

  test("a group followed by a step in a chain becomes a chord", async () => {
    const r = await chain(group([add.s(1, 2), add.s(3, 4)]), tsum.s(), mul.s(10)).applyAsync();
    assert.equal(await r.get({ timeout: 20 }), 100);
  });

  test("the same chord applied twice (a retried call with the same ids) completes once", async () => {
    const make = () => chord([1, 2, 3].map((i) => add.s(i, i).set({ taskId: `retried-chord-m${i}` })), tsum.s().set({ taskId: "retried-chord-body" }));
    const first = await make().applyAsync();
    const again = await make().applyAsync();
    assert.equal(again.id, first.id);
    assert.equal(await again.get({ timeout: 20 }), 12);
  });

  test("a chord whose header tasks are retried counts each once", async () => {
    const r = await chord([flakyAdd.s(1, 1), flakyAdd.s(2, 2), add.s(3, 3)], collect.s("retried")).applyAsync();
    assert.deepEqual(await r.get({ timeout: 30 }), { count: 3, sum: 12 });
    assert.equal(notes().filter((n) => n.tag === "retried").length, 1);
    assert.equal(t.workers.map((w) => w.output.match(/canvas\.flakyAdd\[[^\]]+\] retry/g)?.length ?? 0).reduce((a, b) => a + b), 2);
  });

  test("a chord of 500 completes exactly once with two workers", async () => {
    const header = Array.from({ length: 500 }, (_, i) => add.s(i, i));
    const started = performance.now();
    const r = await chord(header, collect.s("c500")).applyAsync();
    assert.deepEqual(await r.get({ timeout: 50 }), { count: 500, sum: 249_500 });
    const ms = performance.now() - started;
    // A second body run would land right after the first: give it a moment to show up.
    await new Promise((res) => setTimeout(res, 1000));
    const runs = notes().filter((n) => n.tag === "c500");
    assert.equal(runs.length, 1, JSON.stringify(runs));
    for (const w of t.workers) assert.match(w.output, /canvas\.add\[/, "both workers ran header tasks");
    console.log(`chord of 500 on two workers: ${ms.toFixed(0)} ms`);
  });

  test("a failing chord header fails the chord with an error naming the task", async () => {
    const r = await chord([add.s(1, 1), fail.si("header"), add.s(2, 2)], collect.s("failed-chord")).applyAsync();
    await assert.rejects(r.get({ timeout: 20 }), (e: TaskError) => {
      assert.equal(e.remoteType, "ChordError");
      assert.match(e.message, /header task canvas\.fail\[[0-9a-f-]+\] raised TypeError: boom: header/);
      return true;
    });
    assert.equal(notes().filter((n) => n.tag === "failed-chord").length, 0);
  });
});
