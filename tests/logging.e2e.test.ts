/**
 * Logging, end to end through dist/taskd: task log lines name the task and id, arguments
 * appear only through argsrepr, `--loglevel` filters, `--logfile` writes to a file, and a
 * setupLogging handler that returns true takes logging over.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TaskError } from "../mod.ts";
import { app, chatty, fail } from "./fixtures/signal_tasks.ts";
import { readRecords } from "./fixtures/recorder.ts";
import { useTaskd } from "./helpers/env.ts";
import { eventually, fixture, type WorkerProcess } from "./helpers/taskd.ts";

/** Bun does not read bunfig's test timeout for node:test files: give each test its own. */
const T = { timeout: 60_000 };
const dir = mkdtempSync(join(tmpdir(), "taskd-logging-"));
describe("logging through dist/taskd", () => {
  const t = useTaskd({ module: "signal_tasks.ts", workers: [], apps: [app] });

  /** Starts a worker on the shared queue, after stopping the previous one (it would take the tasks). */
  async function start(name: string, args: string[], env: Record<string, string> = {}, waitReady = true): Promise<WorkerProcess> {
    for (const old of t.workers) await old.stop();
    return await t.startWorker(["-n", name, ...args], { env, waitReady });
  }

  test("a task's log lines name the task and its id; arguments appear only through argsrepr", T, async () => {
    const records = join(dir, "records.jsonl");
    const w = await start("w-log@test", ["--loglevel", "info"], { TASKD_TEST_RECORD: records });
    const hidden = await chatty.applyAsync(["hunter2-secret"], { argsrepr: "('<secret>',)" });
    assert.equal(await hidden.get({ timeout: 20 }), 14);
    const plain = await chatty.delay("another-secret");
    assert.equal(await plain.get({ timeout: 20 }), 14);
    const failed = await fail.delay();
    await assert.rejects(failed.get({ timeout: 20 }), TaskError);
    await w.waitFor(`Task sig.fail[${failed.id}] failed`);
    await w.waitFor(`Task sig.chatty[${plain.id}] succeeded`);
    const out = w.output;
    assert.match(out, new RegExp(`\\] sig\\.chatty\\[${hidden.id}\\]: working on it`));
    assert.match(out, new RegExp(`WARN\\] sig\\.chatty\\[${hidden.id}\\]: a warning from the task`));
    assert.match(out, new RegExp(`INFO\\] taskd\\.worker: Task sig\\.chatty\\[${hidden.id}\\] received args=\\('<secret>',\\)\\n`));
    assert.match(out, new RegExp(`INFO\\] taskd\\.worker: Task sig\\.chatty\\[${plain.id}\\] received\\n`));
    assert.match(out, new RegExp(`ERROR\\] taskd\\.worker: Task sig\\.fail\\[${failed.id}\\] failed in [0-9.]+s: TypeError: failing on purpose`));
    assert.doesNotMatch(out, /hunter2|another-secret/, "raw arguments never reach the log");
    // afterSetupTaskLogger's handler got the same lines as structured records.
    const recs = readRecords(records).filter((r) => r.kind === "taskLogRecord" && r.taskId === hidden.id);
    assert.deepEqual(recs.map((r) => [r.level, r.taskName, r.message]), [["info", "sig.chatty", "working on it"], ["warn", "sig.chatty", "a warning from the task"]]);
  });

  test("--loglevel warn drops info lines; --logfile writes the lines to a file instead of stderr", T, async () => {
    const logfile = join(dir, "worker.log");
    const w = await start("w-warn@test", ["-l", "WARN", "--logfile", logfile], {}, false);
    const r = await chatty.delay("quiet");
    assert.equal(await r.get({ timeout: 30 }), 5);
    await eventually(() => existsSync(logfile) && readFileSync(logfile, "utf8").includes(r.id));
    const text = readFileSync(logfile, "utf8");
    assert.match(text, new RegExp(`WARN\\] sig\\.chatty\\[${r.id}\\]: a warning from the task`));
    assert.doesNotMatch(text, /INFO\]/, "no info line passes --loglevel warn");
    assert.doesNotMatch(text, /working on it|received|succeeded|ready: consuming/);
    assert.doesNotMatch(w.output, /a warning from the task/, "lines go to the file, not stderr");
  });

  test("an unknown --loglevel is refused with the valid names", T, async () => {
    const r = await t.cli(["worker", fixture("signal_tasks.ts"), "--loglevel", "loud"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Cannot set log level 'loud': use one of debug, info, warn, error/);
  });

  test("a setupLogging handler that returns true takes logging over", T, async () => {
    const custom = join(dir, "custom.log");
    const records = join(dir, "takeover.jsonl");
    const w = await start("w-custom@test", [], { TASKD_TEST_TAKEOVER: custom, TASKD_TEST_RECORD: records }, false);
    const r = await chatty.delay("mine");
    assert.equal(await r.get({ timeout: 30 }), 4);
    await eventually(() => existsSync(custom) && readFileSync(custom, "utf8").includes(`sig.chatty[${r.id}]: working on it`));
    assert.match(readFileSync(custom, "utf8"), /custom\| .*w-custom@test ready: consuming/);
    assert.doesNotMatch(w.output, /working on it|ready: consuming/);
    const fired = readRecords(records).filter((x) => x.kind === "signal").map((x) => x.signal);
    assert.ok(fired.includes("setupLogging"));
    assert.ok(!fired.includes("afterSetupLogger") && !fired.includes("afterSetupTaskLogger"), "taskd configured nothing, so it sends no afterSetup signal");
  });

  test("an option nobody declared is refused when no userPreloadOptions handler listens", T, async () => {
    const r = await t.cli(["worker", fixture("tasks.ts"), "--bogus-flag", "-n", "w-bad@test"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Unknown option --bogus-flag for taskd worker/);
  });
});
