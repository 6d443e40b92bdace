/**
 * Failure semantics through dist/taskd: retry, autoretry with backoff, Ignore/Reject, dead
 * letters and `taskd dead`, expected errors, MaxRetriesExceededError, `throw: false`. Runs are
 * counted through a side channel (tests/fixtures/failure_tasks.ts appends one line per run).
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { jetstreamManager } from "@nats-io/jetstream";
import {
  app,
  backoff,
  classRetry,
  defaultDelay,
  expected,
  flaky,
  ignored,
  maxNoExc,
  maxWithExc,
  noThrow,
  picky,
  rejectDead,
  rejectOnce,
  requeueEarly,
  requeueForever,
  requeueForeverEarly,
  requeueLate,
  unexpected,
} from "./fixtures/failure_tasks.ts";
import { useTaskd } from "./helpers/env.ts";
import { eventually, failureOf } from "./helpers/taskd.ts";

describe("failure semantics through dist/taskd", () => {
  const t = useTaskd({ module: "failure_tasks.ts", args: ["-c", "20", "-Q", "default", "-n", "fw1@test"], apps: [app] });

  test("a task retried twice then succeeding runs exactly three times", { timeout: 60_000 }, async () => {
    const r = await flaky.delay(2);
    assert.equal(await r.get({ timeout: 20 }), 2);
    const seen = await t.settled(r.id);
    assert.deepEqual(seen.map((x) => x.retries), [0, 1, 2]);
    assert.equal(await r.state, "SUCCESS");
  });

  test("retry() without countdown waits defaultRetryDelay (180 s); the result shows RETRY with the exception", { timeout: 60_000 }, async () => {
    const r = await defaultDelay.delay();
    await eventually(async () => (await r.state) === "RETRY", 15_000);
    const meta = await r.meta();
    assert.equal((meta?.result as { type: string }).type, "Error");
    assert.equal((meta?.result as { message: string }).message, "later");
    // The next attempt waits in the delayed stream, due in about 180 s, with retries + 1.
    const jsm = await jetstreamManager(t.nc);
    const info = await jsm.streams.info("TASKD_DELAYED");
    let found: Record<string, string> | undefined;
    for (let seq = info.state.first_seq; seq <= info.state.last_seq && !found; seq++) {
      const m = await jsm.streams.getMessage("TASKD_DELAYED", { seq }).catch(() => null);
      if (m?.header.get("taskd-id") === r.id) found = { eta: m.header.get("taskd-eta"), retries: m.header.get("taskd-retries") };
    }
    assert.ok(found, "the retry is in TASKD_DELAYED");
    assert.equal(found.retries, "1");
    const wait = (Date.parse(found.eta) - Date.now()) / 1000;
    assert.ok(wait > 170 && wait <= 180, `due in ${wait} s`);
    await r.revoke();
  });

  test("exponential backoff with jitter off spaces attempts by 1 s then 2 s", { timeout: 60_000 }, async () => {
    const r = await backoff.delay();
    const err = await failureOf(r.get({ timeout: 30 }));
    assert.equal(err.remoteType, "TypeError");
    const seen = await t.settled(r.id);
    assert.deepEqual(seen.map((x) => x.retries), [0, 1, 2]);
    const g1 = seen[1].at - seen[0].at;
    const g2 = seen[2].at - seen[1].at;
    assert.ok(g1 >= 1000 && g1 < 2500, `first gap ${g1} ms`);
    assert.ok(g2 >= 2000 && g2 < 3500, `second gap ${g2} ms`);
  });

  test("dontAutoretryFor wins over autoretryFor: the task runs once and fails", { timeout: 60_000 }, async () => {
    const r = await picky.delay();
    const err = await failureOf(r.get({ timeout: 20 }));
    assert.equal(err.remoteType, "RangeError");
    assert.equal((await t.settled(r.id)).length, 1);
  });

  test("autoretry options work as class fields (autoretryFor, retryKwargs)", { timeout: 60_000 }, async () => {
    const r = await classRetry.delay();
    const err = await failureOf(r.get({ timeout: 20 }));
    assert.equal(err.remoteType, "TypeError");
    assert.deepEqual((await t.settled(r.id)).map((x) => x.retries), [0, 1]);
  });

  test("past maxRetries: MaxRetriesExceededError without exc, the exc itself with one", { timeout: 60_000 }, async () => {
    const a = await maxNoExc.delay();
    const b = await maxWithExc.delay();
    const ea = await failureOf(a.get({ timeout: 20 }));
    const eb = await failureOf(b.get({ timeout: 20 }));
    assert.equal(ea.remoteType, "MaxRetriesExceededError");
    assert.match(ea.remoteMessage, /retried 1 times and maxRetries is 1/);
    assert.equal(eb.remoteType, "TypeError");
    assert.equal(eb.remoteMessage, "the original cause");
    assert.equal((await t.settled(a.id)).length, 2);
    assert.equal((await t.settled(b.id)).length, 2);
  });

  test("retry({ throw: false }) schedules the retry and lets the task go on", { timeout: 60_000 }, async () => {
    const r = await noThrow.delay();
    assert.equal(await r.get({ timeout: 20 }), "first:true");
    await eventually(async () => (await r.result) === "second", 15_000);
    assert.deepEqual((await t.settled(r.id)).map((x) => x.retries), [0, 1]);
  });

  test("Reject(requeue: true) runs twice, under acksLate (redelivered) and under early ack", { timeout: 60_000 }, async () => {
    const late = await requeueLate.delay();
    const early = await requeueEarly.delay();
    assert.equal(await late.get({ timeout: 20 }), "second");
    assert.equal(await early.get({ timeout: 20 }), "second");
    const l = await t.settled(late.id);
    assert.equal(l.length, 2);
    assert.deepEqual(l.map((x) => x.redelivered), [false, true]);
    assert.equal((await t.settled(early.id)).length, 2);
  });

  test("Reject without requeue lands in the dead-letter stream with its reason and original headers", { timeout: 60_000 }, async () => {
    const r = await rejectDead.delay("bad input 42");
    const err = await failureOf(r.get({ timeout: 20 }));
    assert.equal(err.remoteType, "Reject");
    const dead = await eventually(async () => (await t.deadLetters()).find((d) => d.headers["taskd-id"] === r.id));
    assert.equal(dead.subject, "taskd.dead.default");
    assert.equal(dead.headers["taskd-dead-reason"], "bad input 42");
    assert.equal(dead.headers["taskd-task"], "ft.rejectDead");
    assert.equal(dead.headers["taskd-dead-subject"], "taskd.tasks.default");
    assert.equal((await t.settled(r.id)).length, 1);
    // The dead-letter copy is the record: the original left the tasks stream.
    const jsm = await jetstreamManager(t.nc);
    await eventually(async () => (await jsm.streams.info("TASKD_TASKS")).state.messages === 0);
  });

  test("a requeue loop is cut by the delivery bound (10) and dead-lettered, acksLate or not", { timeout: 60_000 }, async () => {
    const late = await requeueForever.delay();
    const early = await requeueForeverEarly.delay();
    for (const r of [late, early]) {
      const err = await failureOf(r.get({ timeout: 30 }));
      assert.match(err.remoteMessage, /delivered 11 times without completing \(limit 10\)/);
      const dead = await eventually(async () => (await t.deadLetters()).find((d) => d.headers["taskd-id"] === r.id));
      assert.match(dead.headers["taskd-dead-reason"], /delivered 11 times/);
      assert.equal((await t.settled(r.id)).length, 10);
    }
  });

  test("Ignore: the message is acked, nothing is stored, the result stays PENDING", { timeout: 60_000 }, async () => {
    const r = await ignored.delay();
    await eventually(() => t.runs(r.id).length === 1);
    assert.equal((await t.settled(r.id)).length, 1);
    assert.equal(await r.state, "PENDING");
    assert.equal(await r.meta(), null);
  });

  test("throws: an expected error is FAILURE, logged at info without a stack; others at error with one", { timeout: 60_000 }, async () => {
    const a = await expected.delay();
    const b = await unexpected.delay();
    assert.equal((await failureOf(a.get({ timeout: 20 }))).remoteType, "RangeError");
    assert.equal((await failureOf(b.get({ timeout: 20 }))).remoteType, "SyntaxError");
    await t.worker.waitFor("unexpected-failure-marker");
    const lines = t.worker.output.split("\n");
    const ea = lines.filter((l) => l.includes("expected-failure-marker") && !l.includes("unexpected"));
    assert.equal(ea.length, 1, ea.join("\n"));
    assert.match(ea[0], /INFO\].*raised expected: RangeError: expected-failure-marker$/);
    const i = lines.findIndex((l) => l.includes("unexpected-failure-marker"));
    assert.match(lines[i], /ERROR\]/);
    assert.match(lines[i + 1] ?? "", /^\s+at /, "an unexpected failure is logged with its stack");
    assert.ok(!/^\s+at /.test(lines[lines.indexOf(ea[0]) + 1] ?? ""), "an expected failure has no stack");
  });

  test("taskd dead list|show|retry|purge: see and replay dead letters", { timeout: 60_000 }, async () => {
    const r = await rejectOnce.delay("first time");
    await failureOf(r.get({ timeout: 20 }));
    const listed = await eventually(async () => {
      const l = await t.cli(["dead", "list", "--json"]);
      assert.equal(l.code, 0, l.stderr);
      return l.stdout.split("\n").filter(Boolean).map((x) => JSON.parse(x)).find((d: { id: string }) => d.id === r.id);
    });
    assert.equal(listed.task, "ft.rejectOnce");
    assert.equal(listed.queue, "default");
    assert.equal(listed.reason, "first time");
    const text = await t.cli(["dead", "list"]);
    assert.match(text.stdout, new RegExp(`^${listed.seq}\\t.*\\tdefault\\tft\\.rejectOnce\\[${r.id}\\]\\tfirst time$`, "m"));

    const shown = await t.cli(["dead", "show", String(listed.seq)]);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /reason:\s+first time/);
    assert.match(shown.stdout, /args:\s+\["first time"\]/);

    const replay = await t.cli(["dead", "retry", String(listed.seq)]);
    assert.equal(replay.code, 0, replay.stderr);
    await eventually(async () => (await r.result) === "replayed", 15_000);
    assert.equal((await t.settled(r.id)).length, 2);
    assert.ok(!(await t.deadLetters()).some((d) => d.seq === listed.seq), "the replayed letter left the dead stream");

    const before = (await t.deadLetters()).length;
    assert.ok(before > 0);
    const purge = await t.cli(["dead", "purge"]);
    assert.equal(purge.code, 0, purge.stderr);
    assert.equal(purge.stdout.trim(), `purged ${before} dead letter${before === 1 ? "" : "s"}`);
    assert.equal((await t.deadLetters()).length, 0);

    const missing = await t.cli(["dead", "show", "999999"]);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /^taskd: Cannot find dead letter 999999/);
    const bad = await t.cli(["dead", "frobnicate"]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /Unknown dead-letter action 'frobnicate'/);
  });
});
