/**
 * Signals, end to end: publish signals in this process; task, worker, logging, app and
 * command signals in a dist/taskd worker running tests/fixtures/signal_tasks.ts, whose
 * handlers record what they received to a file this test reads back.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { signals, TaskError } from "../mod.ts";
import { add, again, app, fail, rejects } from "./fixtures/signal_tasks.ts";
import { readRecords, type Recorded } from "./fixtures/recorder.ts";
import { useTaskd } from "./helpers/env.ts";
import { eventually } from "./helpers/taskd.ts";

const file = join(mkdtempSync(join(tmpdir(), "taskd-signals-")), "records.jsonl");
const HOST = "w-sig@test";

type Sig = Recorded & { signal: string; sender: unknown; args: Record<string, any> };
const fired = (): Sig[] => readRecords(file).filter((r) => r.kind === "signal") as Sig[];
const names = (xs: Sig[]) => xs.map((x) => x.signal);

/** Signals about task `id`, once taskPostrun with `state` was recorded for it. */
async function taskSignals(id: string, state: string): Promise<Sig[]> {
  const about = (s: Sig) => s.args.taskId === id || s.args.request?.request === id || s.args.id === id;
  await eventually(() => fired().some((s) => s.signal === "taskPostrun" && about(s) && s.args.state === state), 20_000);
  return fired().filter(about);
}

/** Bun does not read bunfig's test timeout for node:test files: give each test its own. */
const T = { timeout: 60_000 };

describe("signals through dist/taskd", () => {
  const t = useTaskd({ module: "signal_tasks.ts", args: ["-n", HOST, "--monitoring", "--loglevel", "info"], env: { TASKD_TEST_RECORD: file }, apps: [app] });

  test("worker start: app, command, worker and logging signals fire in order, with Celery's arguments", T, async () => {
    await eventually(() => names(fired()).includes("workerReady"));
    const start = fired().filter((s) => !s.signal.startsWith("task") && !s.signal.endsWith("TaskPublish"));
    assert.deepEqual(names(start), [
      "importModules",
      "userPreloadOptions",
      "celerydInit",
      "setupLogging",
      "afterSetupLogger",
      "afterSetupTaskLogger",
      "celerydAfterSetup",
      "workerInit",
      "workerProcessInit",
      "workerReady",
    ]);
    const by = (n: string) => start.find((s) => s.signal === n)!;
    assert.deepEqual(by("importModules").sender, { app: "sig" });
    assert.match(String(by("importModules").args.module), /signal_tasks\.ts$/);
    assert.equal(by("userPreloadOptions").sender, "worker");
    assert.equal(by("userPreloadOptions").args.options.monitoring, true, "an option taskd does not know reaches the handler");
    assert.deepEqual(by("userPreloadOptions").args.app, { app: "sig" });
    assert.equal(by("celerydInit").sender, HOST);
    assert.deepEqual(Object.keys(by("celerydInit").args).sort(), ["conf", "instance", "options"]);
    assert.deepEqual(by("celerydInit").args.instance, { worker: HOST });
    assert.equal(by("celerydInit").args.options.hostname, HOST);
    assert.deepEqual(by("setupLogging").args, { loglevel: "info", logfile: null, format: by("setupLogging").args.format, colorize: false });
    assert.match(by("setupLogging").args.format, /\{message\}/);
    assert.equal(by("afterSetupLogger").args.logger.name, "taskd");
    assert.equal(by("afterSetupLogger").args.logger.addHandler, "function");
    assert.equal(by("afterSetupTaskLogger").args.logger.name, "taskd.task");
    assert.equal(by("afterSetupTaskLogger").args.loglevel, "info");
    assert.equal(by("celerydAfterSetup").sender, HOST);
    assert.deepEqual(by("workerInit").sender, { worker: HOST });
    assert.deepEqual(by("workerProcessInit").args, { pid: t.worker.proc.pid, pool: "async" });
    assert.deepEqual(by("workerReady").sender, { worker: HOST });
    // Sender filters: by node name, for a string sender and for the Worker sender.
    const kinds = readRecords(file).map((r) => r.kind);
    assert.ok(kinds.includes("filtered.init.mine") && kinds.includes("filtered.ready.mine"));
    assert.ok(!kinds.includes("filtered.init.other") && !kinds.includes("filtered.ready.other"));
  });

  test("publish signals fire in the client, with a sender filter; headers can be changed before sending", T, async () => {
    const seen: string[] = [];
    const before = signals.beforeTaskPublish.connect(({ headers, routingKey, sender }) => {
      seen.push(`before:${sender}:${routingKey}`);
      headers.argsrepr = "(changed by beforeTaskPublish)";
    }, { sender: "sig.add" });
    const afterP = signals.afterTaskPublish.connect(({ headers, sender }) => seen.push(`after:${sender}:${headers.id}`));
    const other = signals.beforeTaskPublish.connect(() => seen.push("wrong sender"), { sender: "sig.fail" });
    try {
      const r = await add.delay(2, 3);
      assert.deepEqual(seen, ["before:sig.add:default", `after:sig.add:${r.id}`]);
      assert.equal(await r.get({ timeout: 20 }), 5);
      const recs = await taskSignals(r.id, "SUCCESS");
      const received = recs.find((s) => s.signal === "taskReceived")!;
      assert.equal(received.args.request.argsrepr, "(changed by beforeTaskPublish)");
    } finally {
      before();
      afterP();
      other();
    }
  });

  test("success: taskReceived, taskPrerun, taskSuccess, taskPostrun, with a task-name filter and a throwing handler", T, async () => {
    const r = await add.delay(20, 22);
    assert.equal(await r.get({ timeout: 20 }), 42, "a throwing taskSuccess handler does not change the result");
    const recs = await taskSignals(r.id, "SUCCESS");
    assert.deepEqual(names(recs), ["taskReceived", "taskPrerun", "taskSuccess", "taskPostrun"]);
    const [received, prerun, success, postrun] = recs;
    assert.equal(received.sender, HOST);
    assert.deepEqual(received.args.request, { request: r.id, taskName: "sig.add", hostname: HOST, args: [20, 22], argsrepr: null });
    assert.deepEqual(prerun.sender, { task: "sig.add" });
    assert.deepEqual([prerun.args.taskId, prerun.args.task, prerun.args.args, prerun.args.kwargs], [r.id, { task: "sig.add" }, [20, 22], {}]);
    assert.equal(success.args.result, 42);
    assert.deepEqual([postrun.args.retval, postrun.args.state], [42, "SUCCESS"]);
    assert.ok(readRecords(file).some((x) => x.kind === "filtered.prerun" && x.taskId === r.id));
    await t.worker.waitFor(/a taskSuccess handler threw; taskd carries on:\s+Error: a handler exploded on purpose/);
    // The filtered prerun handler saw sig.add only.
    const f = await fail.delay();
    await assert.rejects(f.get({ timeout: 20 }), TaskError);
    await taskSignals(f.id, "FAILURE");
    assert.ok(!readRecords(file).some((x) => x.kind === "filtered.prerun" && x.taskId === f.id));
  });

  test("failure: taskFailure with exception, traceback and einfo", T, async () => {
    const r = await fail.delay();
    await assert.rejects(r.get({ timeout: 20 }), TaskError);
    const recs = await taskSignals(r.id, "FAILURE");
    assert.deepEqual(names(recs), ["taskReceived", "taskPrerun", "taskFailure", "taskPostrun"]);
    const failure = recs[2].args;
    assert.deepEqual(failure.exception, { error: "TypeError", message: "failing on purpose", exc: null });
    assert.match(failure.traceback, /TypeError: failing on purpose\n\s+at /);
    assert.deepEqual(failure.einfo, { einfo: "TypeError", stack: true });
    assert.deepEqual([failure.taskId, failure.args, failure.kwargs], [r.id, [], {}]);
  });

  test("retry: taskRetry with request, reason (the Retry, its exc the cause) and einfo", T, async () => {
    const r = await again.delay();
    assert.equal(await r.get({ timeout: 20 }), "second");
    await taskSignals(r.id, "SUCCESS");
    // The next attempt is published from inside the first, so it can end first (tests/classes has
    // the same race): wait for the first attempt's end too, whose handlers send taskRetry.
    const recs = await taskSignals(r.id, "RETRY");
    const retry = recs.find((s) => s.signal === "taskRetry")!;
    assert.deepEqual(retry.sender, { task: "sig.again" });
    assert.equal(retry.args.request.request, r.id);
    assert.equal(retry.args.reason.error, "Retry");
    assert.deepEqual(retry.args.reason.exc, { error: "Error", message: "try again", exc: null });
    assert.deepEqual(retry.args.einfo, { einfo: "Error", stack: true });
    assert.ok(recs.some((s) => s.signal === "taskPostrun" && s.args.state === "RETRY"));
  });

  test("taskRejected, taskUnknown and taskRevoked (expired) fire in the worker", T, async () => {
    const rej = await rejects.delay();
    const recs = await taskSignals(rej.id, "REJECTED");
    assert.ok(names(recs).includes("taskPostrun"));
    await eventually(() => fired().some((s) => s.signal === "taskRejected" && s.args.exc?.error === "Reject"));

    const unknown = await app.sendTask("sig.nobody", [1]);
    await eventually(() => fired().some((s) => s.signal === "taskUnknown" && s.args.id === unknown.id));
    const u = fired().find((s) => s.signal === "taskUnknown" && s.args.id === unknown.id)!;
    assert.equal(u.args.name, "sig.nobody");
    assert.equal(u.args.exc.error, "NotRegistered");

    const expired = await add.applyAsync([1, 1], { expires: new Date(Date.now() - 1000) });
    await eventually(() => fired().some((s) => s.signal === "taskRevoked" && s.args.request?.request === expired.id));
    const rv = fired().find((s) => s.signal === "taskRevoked" && s.args.request?.request === expired.id)!;
    assert.deepEqual(rv.sender, { task: "sig.add" });
    assert.deepEqual([rv.args.terminated, rv.args.signum, rv.args.expired], [false, null, true]);
    assert.equal(await expired.state, "REVOKED");
  });

  test("warm shutdown: workerShuttingDown, workerProcessShutdown, workerShutdown", T, async () => {
    const code = await t.worker.stop();
    assert.equal(code, 0, t.worker.output);
    const end = fired().filter((s) => s.signal.startsWith("worker") && s.signal !== "workerInit" && s.signal !== "workerReady" && s.signal !== "workerProcessInit");
    assert.deepEqual(names(end), ["workerShuttingDown", "workerProcessShutdown", "workerShutdown"]);
    assert.equal(end[0].sender, HOST);
    assert.deepEqual(end[0].args, { sig: "SIGTERM", how: "warm", exitcode: 0 });
    assert.deepEqual(end[1].args, { pid: t.worker.proc.pid, exitcode: 0, pool: "async" });
    assert.deepEqual(end[2].sender, { worker: HOST });
  });
});
