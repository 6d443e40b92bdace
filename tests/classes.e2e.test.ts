/**
 * Task classes, handlers, the request context, states and result options, end to end: the
 * compiled binary runs tests/fixtures/class_tasks.ts, whose handlers record what they saw to
 * a file this test reads back.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type AsyncResult, TaskError } from "../mod.ts";
import { app, Counter, ctx, flaky, ignApp, ignErrors, ignKept, ignPlain, ok, parent, progress, broken, rejects, rows, started, sturdy } from "./fixtures/class_tasks.ts";
import { readRecords, type Recorded } from "./fixtures/recorder.ts";
import { useTaskd } from "./helpers/env.ts";
import { eventually } from "./helpers/taskd.ts";

const file = join(mkdtempSync(join(tmpdir(), "taskd-classes-")), "records.jsonl");
const HOST = "w-cls@test";

/** The records about one task id, once its run with `state` has finished. */
async function recordsOf(id: string, state = "SUCCESS"): Promise<Recorded[]> {
  await eventually(() => readRecords(file).some((r) => r.kind === "postrun" && r.taskId === id && r.state === state), 20_000);
  return readRecords(file).filter((r) => r.taskId === id);
}

async function stateWhenRun(r: AsyncResult): Promise<string> {
  await eventually(() => readRecords(file).some((x) => x.kind === "postrun" && x.taskId === r.id), 20_000);
  return await r.state;
}

/** Bun does not read bunfig's test timeout for node:test files: give each test its own. */
const T = { timeout: 60_000 };

describe("task classes, handlers, request, states through dist/taskd", () => {
  const t = useTaskd({ module: "class_tasks.ts", args: ["-n", HOST, "-c", "8"], env: { TASKD_TEST_RECORD: file }, apps: [app, ignApp] });

  test("a base-class resource is created once per process and reused", T, async () => {
    const seen = [];
    for (let i = 0; i < 3; i++) seen.push(await (await rows.delay()).get({ timeout: 20 }));
    assert.deepEqual(seen, [{ db: 1, queries: 1, connects: 1 }, { db: 1, queries: 2, connects: 1 }, { db: 1, queries: 3, connects: 1 }]);
    assert.equal(readRecords(file).filter((r) => r.kind === "db.connect").length, 1);
  });

  test("a class task keeps its state across three calls (one instance per process)", T, async () => {
    const totals = [];
    for (const step of [1, 2, 3]) totals.push(await (await Counter.delay(step)).get({ timeout: 20 }));
    assert.deepEqual(totals, [1, 3, 6]);
  });

  test("success: beforeStart, onSuccess, afterReturn fire in Celery's order with their arguments", T, async () => {
    const r = await ok.delay(2, 3);
    assert.equal(await r.get({ timeout: 20 }), 5);
    const recs = await recordsOf(r.id);
    assert.deepEqual(recs.map((x) => x.kind), ["beforeStart", "onSuccess", "afterReturn", "postrun"]);
    assert.deepEqual(recs[0], { kind: "beforeStart", pid: t.worker.proc.pid, task: "cls.ok", retries: 0, taskId: r.id, args: [2, 3], kwargs: {} });
    assert.deepEqual(recs[1], { kind: "onSuccess", pid: t.worker.proc.pid, task: "cls.ok", retries: 0, retval: 5, taskId: r.id, args: [2, 3], kwargs: {} });
    assert.deepEqual(recs[2], { kind: "afterReturn", pid: t.worker.proc.pid, task: "cls.ok", retries: 0, status: "SUCCESS", retval: 5, taskId: r.id, args: [2, 3], kwargs: {}, einfoType: null });
  });

  test("retry then failure: onRetry with einfo, then onFailure and afterReturn with the stack", T, async () => {
    const r = await flaky.delay("t1");
    await assert.rejects(r.get({ timeout: 20 }), (e: unknown) => e instanceof TaskError && e.remoteType === "RangeError");
    await recordsOf(r.id, "FAILURE");
    // The next attempt is published from inside the body, so it may start — and end — while the
    // first attempt still stores its RETRY (which then yields to the later FAILURE) and runs its
    // handlers: wait for the first attempt's end too; the order is asserted per attempt.
    const recs = await recordsOf(r.id, "RETRY");
    const attempt = (n: number) => recs.filter((x) => x.retries === n);
    const kinds = (xs: Recorded[]) => xs.map((x) => x.kind === "postrun" ? `postrun:${x.state}` : x.kind);
    assert.deepEqual(kinds(attempt(0)), ["beforeStart", "onRetry", "postrun:RETRY"]);
    assert.deepEqual(kinds(attempt(1)), ["beforeStart", "onFailure", "afterReturn", "postrun:FAILURE"]);
    const retry = attempt(0)[1];
    assert.deepEqual(retry.exc, { name: "TypeError", message: "first attempt of t1" });
    assert.equal(retry.einfoType, "TypeError");
    assert.match(String(retry.einfoStack), /TypeError: first attempt of t1\n\s+at /);
    assert.deepEqual([retry.taskId, retry.args, retry.kwargs], [r.id, ["t1"], {}]);
    const failure = attempt(1)[1];
    assert.deepEqual(failure.exc, { name: "RangeError", message: "second attempt of t1" });
    assert.equal(failure.einfoType, "RangeError");
    assert.match(String(failure.einfoStack), /RangeError: second attempt of t1\n\s+at /);
    const afterReturn = attempt(1)[2];
    assert.deepEqual(afterReturn.status, "FAILURE");
    assert.deepEqual(afterReturn.einfoType, "RangeError");
    assert.deepEqual(afterReturn.retval, { name: "RangeError", message: "second attempt of t1" });
  });

  test("handlers that throw are logged; the stored result and the worker are unchanged", T, async () => {
    const r = await sturdy.delay(4);
    assert.equal(await r.get({ timeout: 20 }), 8);
    await t.worker.waitFor("cls.sturdy.afterReturn threw");
    assert.match(t.worker.output, /cls\.sturdy\.beforeStart threw; the task's outcome is unchanged:\s+Error: beforeStart exploded/);
    assert.match(t.worker.output, /cls\.sturdy\.onSuccess threw/);
    assert.equal(await r.state, "SUCCESS");
    assert.equal(await (await ok.delay(1, 1)).get({ timeout: 20 }), 2);
  });

  test("a custom Request's onFailure is called by the worker, after the task's handlers", T, async () => {
    const r = await broken.delay("bad input");
    await assert.rejects(r.get({ timeout: 20 }), (e: unknown) => e instanceof TaskError && e.remoteType === "SyntaxError");
    const recs = await recordsOf(r.id, "FAILURE");
    await eventually(() => readRecords(file).some((x) => x.kind === "Request.onFailure" && x.taskId === r.id));
    const all = readRecords(file).filter((x) => x.taskId === r.id).map((x) => x.kind);
    assert.deepEqual(all, ["beforeStart", "onFailure", "afterReturn", "postrun", "Request.onFailure"]);
    const hook = readRecords(file).find((x) => x.kind === "Request.onFailure" && x.taskId === r.id)!;
    assert.deepEqual([hook.isMine, hook.task, hook.einfoType], [true, "cls.broken", "SyntaxError"]);
    assert.deepEqual(hook.exc, { name: "SyntaxError", message: "bad input" });
    assert.ok(recs.length >= 4);
  });

  test("Reject: no success/failure handler, no afterReturn; taskPostrun says REJECTED", T, async () => {
    const r = await rejects.delay();
    const recs = await recordsOf(r.id, "REJECTED");
    assert.deepEqual(recs.map((x) => x.kind), ["beforeStart", "postrun"]);
  });

  test("request fields in a worker run", T, async () => {
    const r = await ctx.applyAsync([1, "a"], { kwargs: { k: 1 }, headers: { "x-trace": "t-1" }, argsrepr: "(hidden)", expires: 60 });
    const req = await r.get({ timeout: 20 }) as Record<string, unknown>;
    assert.equal(req.id, r.id);
    assert.equal(req.taskName, "cls.ctx");
    assert.deepEqual(req.args, [1, "a"]);
    assert.deepEqual(req.kwargs, { k: 1 });
    assert.equal(req.retries, 0);
    assert.equal(req.isEager, false);
    assert.equal(req.calledDirectly, false);
    assert.equal(req.hostname, HOST);
    assert.deepEqual(req.deliveryInfo, { queue: "default", subject: "taskd.tasks.default", redelivered: false, deliveryCount: 1 });
    assert.equal(req.userHeader, "t-1");
    assert.equal(req.rootId, r.id);
    assert.equal(req.parentId, null);
    assert.equal(req.correlationId, r.id);
    assert.match(String(req.origin), /\/\d+$/);
    assert.ok(Date.parse(String(req.expires)) > Date.now());
    assert.equal(req.eta, null);
    assert.deepEqual(req.timelimit, [null, null]);
    assert.equal(req.argsrepr, "(hidden)");
    assert.equal(req.ignoreResult, false);
    assert.equal(req.signalIsAbortSignal, true);
    assert.equal(req.sameTask, true);
    assert.equal(req.replacedTaskNesting, 0);
  });

  test("apply() runs in this process with isEager; calling the body directly sets calledDirectly", T, async () => {
    const eager = await (await ctx.apply([7])).get() as Record<string, unknown>;
    assert.equal(eager.isEager, true);
    assert.equal(eager.calledDirectly, false);
    assert.deepEqual(eager.args, [7]);
    assert.equal(eager.rootId, eager.id);
    assert.equal(eager.hostname, null);
    assert.equal(eager.deliveryInfo, null);
    const direct = await ctx.run(8) as Record<string, unknown>;
    assert.equal(direct.calledDirectly, true);
    assert.equal(direct.isEager, false);
    assert.equal(direct.id, "");
  });

  test("waiting on a subtask inside a task throws SyncSubtaskError unless disableSyncSubtasks: false", T, async () => {
    const refused = await (await parent.delay(false)).get({ timeout: 30 }) as Record<string, unknown>;
    assert.equal(refused.ok, false);
    assert.equal(refused.error, "SyncSubtaskError");
    assert.match(String(refused.message), /disableSyncSubtasks: false/);
    const p = await parent.delay(true);
    const allowed = await p.get({ timeout: 30 }) as { ok: boolean; me: string; child: Record<string, unknown> };
    assert.equal(allowed.ok, true);
    assert.equal(allowed.me, p.id);
    assert.deepEqual(allowed.child.args, ["from-parent"]);
    assert.equal(allowed.child.parentId, p.id);
    assert.equal(allowed.child.rootId, p.id);
  });

  test("PROGRESS from updateState is readable through state and info while the task runs", T, async () => {
    const r = await progress.delay(2);
    await eventually(async () => (await r.state) === "PROGRESS", 20_000);
    assert.deepEqual(await r.info, { current: 1, total: 2 });
    assert.equal(await r.ready(), false);
    t.nc.publish(`test.release.${r.id}`);
    assert.equal(await r.get({ timeout: 20 }), 2);
  });

  test("STARTED carries the worker's pid and hostname under trackStarted", T, async () => {
    const r = await started.delay();
    await eventually(async () => (await r.state) === "STARTED", 20_000);
    assert.deepEqual(await r.info, { pid: t.worker.proc.pid, hostname: HOST });
    await eventually(() => readRecords(file).some((x) => x.kind === "waiting" && x.taskId === r.id));
    t.nc.publish(`test.release.${r.id}`);
    assert.equal(await r.get({ timeout: 20 }), "done");
  });

  test("ignoreResult: app default < task option < call option; storeErrorsEvenIfIgnored keeps failures", T, async () => {
    assert.equal(await stateWhenRun(await ignPlain.delay(1)), "PENDING", "app default ignores");
    assert.equal(await (await ignKept.delay(2)).get({ timeout: 20 }), 2, "task option beats the app");
    assert.equal(await stateWhenRun(await ignKept.applyAsync([3], { ignoreResult: true })), "PENDING", "call option beats the task");
    assert.equal(await (await ignPlain.applyAsync([4], { ignoreResult: false })).get({ timeout: 20 }), 4, "call option beats the app");
    const failed = await ignErrors.delay(true);
    await assert.rejects(failed.get({ timeout: 20 }), /stored although ignored/);
    assert.equal(await stateWhenRun(await ignErrors.delay(false)), "PENDING");
  });
});
