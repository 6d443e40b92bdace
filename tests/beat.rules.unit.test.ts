/**
 * Schedule rules and the firing plan, with an injected clock: every/cron/at arithmetic, DST on
 * America/New_York, Europe/Berlin and Australia/Lord_Howe (a 30-minute shift), catch-up
 * policies, jitter, and bad definitions refused with a clear error.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { dueBetween, nextDue, parseEvery } from "../src/app/schedule/rules.ts";
import { contentHash, firingMsgId, firingTaskId, jitterMs, normalize, type ScheduleDefinition } from "../src/app/schedule/definition.ts";
import { nextFiring, planFirings, type ScheduleState } from "../src/beat/plan.ts";

const T = (iso: string) => Date.parse(iso);
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** Every due time in [from, to) of a definition, walking with nextDue as the beat does. */
function walk(def: ScheduleDefinition, from: string, to: string): string[] {
  const s = normalize("x", def, "api");
  const out: string[] = [];
  let t = T(from);
  for (;;) {
    const n = nextDue(s.rule, t, s);
    if (n === null || n >= T(to)) return out;
    out.push(iso(n)!);
    t = n;
  }
}

describe("schedule rules and plans", () => {
  test("every: seconds or a duration; at least 1 s", () => {
    assert.equal(parseEvery(1), 1);
    assert.equal(parseEvery("15m"), 900);
    assert.equal(parseEvery("2h"), 7200);
    assert.equal(parseEvery("90s"), 90);
    assert.throws(() => parseEvery(0), /at least 1 second/);
    assert.throws(() => parseEvery("soon"), /seconds or a duration/);
  });

  test("every is aligned to the epoch (or to start), the same for every beat", () => {
    const s = normalize("e", { task: "t", every: 30 }, "api");
    assert.equal(iso(nextDue(s.rule, T("2026-01-01T00:00:10Z"))), "2026-01-01T00:00:30.000Z");
    assert.equal(iso(nextDue(s.rule, T("2026-01-01T00:00:30Z"))), "2026-01-01T00:01:00.000Z");
    const started = normalize("e", { task: "t", every: 30, start: "2026-01-01T00:00:07Z" }, "api");
    assert.equal(iso(nextDue(started.rule, T("2026-01-01T00:00:00Z"), started)), "2026-01-01T00:00:07.000Z");
    assert.equal(iso(nextDue(started.rule, T("2026-01-01T00:00:08Z"), started)), "2026-01-01T00:00:37.000Z");
    const ended = normalize("e", { task: "t", every: 30, end: "2026-01-01T00:01:00Z" }, "api");
    assert.equal(nextDue(ended.rule, T("2026-01-01T00:00:30Z"), ended), null);
    const d = dueBetween(s.rule, T("2026-01-01T00:00:00Z"), T("2026-01-01T01:00:00Z"), 3);
    assert.deepEqual(d.times.map(iso), ["2026-01-01T00:59:00.000Z", "2026-01-01T00:59:30.000Z", "2026-01-01T01:00:00.000Z"]);
    assert.equal(d.more, true);
  });

  test("cron with leading seconds; at fires once", () => {
    assert.deepEqual(walk({ task: "t", cron: "*/20 * * * * *" }, "2026-01-01T00:00:00Z", "2026-01-01T00:01:00Z"), [
      "2026-01-01T00:00:20.000Z",
      "2026-01-01T00:00:40.000Z",
    ]);
    assert.deepEqual(walk({ task: "t", at: new Date("2026-05-01T12:00:00Z") }, "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z"), ["2026-05-01T12:00:00.000Z"]);
  });

  test("America/New_York: 02:30 daily fires at 03:00 on the spring-forward day and once on the fall-back day", () => {
    // 2026-03-08 02:00 EST -> 03:00 EDT: 02:30 does not exist.
    assert.deepEqual(walk({ task: "t", cron: "30 2 * * *", tz: "America/New_York" }, "2026-03-07T00:00:00Z", "2026-03-10T00:00:00Z"), [
      "2026-03-07T07:30:00.000Z", // 02:30 EST
      "2026-03-08T07:00:00.000Z", // the first valid instant after the gap: 03:00 EDT
      "2026-03-09T06:30:00.000Z", // 02:30 EDT
    ]);
    // 2026-11-01 02:00 EDT -> 01:00 EST: 01:30 happens twice, fires once (the first).
    assert.deepEqual(walk({ task: "t", cron: "30 1 * * *", tz: "America/New_York" }, "2026-10-31T00:00:00Z", "2026-11-03T00:00:00Z"), [
      "2026-10-31T05:30:00.000Z",
      "2026-11-01T05:30:00.000Z",
      "2026-11-02T06:30:00.000Z",
    ]);
  });

  test("Europe/Berlin: 02:30 daily across both 2026 transitions, one run a day", () => {
    assert.deepEqual(walk({ task: "t", cron: "30 2 * * *", tz: "Europe/Berlin" }, "2026-03-28T00:00:00Z", "2026-03-31T00:00:00Z"), [
      "2026-03-28T01:30:00.000Z", // 02:30 CET
      "2026-03-29T01:00:00.000Z", // skipped 02:30 -> 03:00 CEST
      "2026-03-30T00:30:00.000Z", // 02:30 CEST
    ]);
    assert.deepEqual(walk({ task: "t", cron: "30 2 * * *", tz: "Europe/Berlin" }, "2026-10-24T00:00:00Z", "2026-10-27T00:00:00Z"), [
      "2026-10-24T00:30:00.000Z",
      "2026-10-25T00:30:00.000Z", // the first 02:30 (CEST); the repeated one does not fire
      "2026-10-26T01:30:00.000Z",
    ]);
  });

  test("Australia/Lord_Howe: a 30-minute shift, skipped and repeated half hours", () => {
    // 2026-10-04 02:00 -> 02:30 (+10:30 -> +11): 02:15 is skipped, fires at 02:30.
    assert.deepEqual(walk({ task: "t", cron: "15 2 * * *", tz: "Australia/Lord_Howe" }, "2026-10-02T00:00:00Z", "2026-10-05T00:00:00Z"), [
      "2026-10-02T15:45:00.000Z",
      "2026-10-03T15:30:00.000Z",
      "2026-10-04T15:15:00.000Z",
    ]);
    // 2026-04-05 02:00 -> 01:30 (+11 -> +10:30): 01:45 happens twice, fires once.
    assert.deepEqual(walk({ task: "t", cron: "45 1 * * *", tz: "Australia/Lord_Howe" }, "2026-04-03T00:00:00Z", "2026-04-06T00:00:00Z"), [
      "2026-04-03T14:45:00.000Z",
      "2026-04-04T14:45:00.000Z",
      "2026-04-05T15:15:00.000Z",
    ]);
  });

  test("plan with an injected clock: on time, then after a downtime per catch-up policy", () => {
    const state: ScheduleState = { cursor: T("2026-01-01T00:00:00Z") };
    const every = (catchup: ScheduleDefinition["catchup"]) => normalize("p", { task: "t", every: 60, catchup }, "api");
    // On time: 1 s after the 00:01 due time.
    const onTime = planFirings(every("skip"), state, T("2026-01-01T00:01:01Z"));
    assert.deepEqual(onTime.fires, [{ due: T("2026-01-01T00:01:00Z"), backfilled: false }]);
    assert.equal(onTime.cursor, T("2026-01-01T00:01:00Z"));
    // Not yet due: nothing, cursor unchanged.
    assert.deepEqual(planFirings(every("skip"), state, T("2026-01-01T00:00:59Z")).fires, []);
    // Ten minutes down, back 1 s after 00:10.
    const now = T("2026-01-01T00:10:01Z");
    const skip = planFirings(every("skip"), state, now);
    assert.deepEqual(skip.fires, [{ due: T("2026-01-01T00:10:00Z"), backfilled: false }]);
    assert.equal(skip.dropped, 9);
    const once = planFirings(every("once"), state, now);
    assert.deepEqual(once.fires, [{ due: T("2026-01-01T00:09:00Z"), backfilled: true }, { due: T("2026-01-01T00:10:00Z"), backfilled: false }]);
    const all = planFirings(every({ all: 3 }), state, now);
    assert.deepEqual(all.fires.map((f) => [iso(f.due), f.backfilled]), [
      ["2026-01-01T00:07:00.000Z", true],
      ["2026-01-01T00:08:00.000Z", true],
      ["2026-01-01T00:09:00.000Z", true],
      ["2026-01-01T00:10:00.000Z", false],
    ]);
    // Back 30 s after the last due time: it is missed too (skip fires nothing, once one backfill).
    const late = T("2026-01-01T00:10:30Z");
    assert.deepEqual(planFirings(every("skip"), state, late).fires, []);
    assert.equal(planFirings(every("skip"), state, late).cursor, T("2026-01-01T00:10:00Z"));
    assert.deepEqual(planFirings(every("once"), state, late).fires, [{ due: T("2026-01-01T00:10:00Z"), backfilled: true }]);
    // Paused: nothing, cursor kept.
    assert.deepEqual(planFirings(every("once"), { ...state, paused: true }, now), { fires: [], cursor: state.cursor, dropped: 0 });
    assert.equal(nextFiring(every("skip"), { ...state, paused: true }), null);
  });

  test("plan across a DST gap with an injected clock (Europe/Berlin 02:30 on 2026-03-29)", () => {
    const def = normalize("b", { task: "t", cron: "30 2 * * *", tz: "Europe/Berlin" }, "api");
    const state: ScheduleState = { cursor: T("2026-03-28T12:00:00Z") };
    assert.equal(iso(nextFiring(def, state)), "2026-03-29T01:00:00.000Z");
    assert.deepEqual(planFirings(def, state, T("2026-03-29T00:59:59Z")).fires, []);
    assert.deepEqual(planFirings(def, state, T("2026-03-29T01:00:00.500Z")).fires, [{ due: T("2026-03-29T01:00:00Z"), backfilled: false }]);
  });

  test("jitter is the same for every beat, within [0, jitter), and delays the firing", () => {
    const def = normalize("j", { task: "t", every: 60, jitter: 10 }, "api");
    const due = T("2026-01-01T00:01:00Z");
    const j = jitterMs(def, due);
    assert.equal(j, jitterMs(normalize("j", { task: "t", every: 60, jitter: 10 }, "api"), due));
    assert.ok(j >= 0 && j < 10_000);
    const state = { cursor: T("2026-01-01T00:00:00Z") };
    assert.equal(nextFiring(def, state), due + j);
    assert.deepEqual(planFirings(def, state, due + j - 1).fires, []);
    assert.deepEqual(planFirings(def, state, due + j).fires, [{ due, backfilled: false }]);
  });

  test("deterministic names and content hashes", () => {
    const due = T("2026-11-27T05:52:00Z");
    assert.equal(firingTaskId("tick", due), "tick.20261127T055200.000Z");
    assert.equal(firingMsgId("tick", due), "tick:2026-11-27T05:52:00.000Z");
    assert.equal(contentHash({ a: 1, b: [1, { c: 2 }] }), contentHash({ b: [1, { c: 2 }], a: 1 }));
    const a = normalize("h", { task: "t", every: 5, args: [1] }, "code");
    const b = normalize("h", { args: [1], every: "5s", task: { name: "t" } }, "code");
    assert.equal(a.hash, b.hash);
    assert.notEqual(a.hash, normalize("h", { task: "t", every: 6, args: [1] }, "code").hash);
    // Celery-style entry
    const c = normalize("h", { task: "t", schedule: 5, args: [1] }, "code");
    assert.equal(c.hash, a.hash);
  });

  test("bad definitions are refused with the schedule and the reason", () => {
    const bad: [unknown, RegExp][] = [
      [{ task: "t", every: 0 }, /Cannot define schedule 'bad': 'every' must be at least 1 second/],
      [{ task: "t", cron: "61 * * * *" }, /'cron' is not a valid expression: '61 \* \* \* \*'/],
      [{ task: "t", cron: "* * * *" }, /'cron' is not a valid expression/],
      [{ task: "t", cron: "0 9 * * *", tz: "Mars/Olympus" }, /'tz' is not a known IANA time zone: 'Mars\/Olympus'/],
      [{ task: "t", every: 5, cron: "* * * * *" }, /exactly one of 'every', 'cron' or 'at'/],
      [{ task: "t" }, /exactly one of 'every', 'cron' or 'at'/],
      [{ every: 5 }, /'task' must be a task or a task name/],
      [{ task: "t", every: 5, catchup: "all" }, /'catchup' must be "skip", "once" or \{ all: N \}/],
      [{ task: "t", every: 5, overlap: "queue" }, /'overlap' must be "allow" or "skip"/],
      [{ task: "t", at: "yesterday-ish" }, /'at' must be a Date or ISO time/],
      [{ task: "t", every: 5, start: "2026-02-01", end: "2026-01-01" }, /'end' must be after 'start'/],
    ];
    for (const [def, re] of bad) assert.throws(() => normalize("bad", def as ScheduleDefinition, "api"), re);
    assert.throws(() => normalize("no spaces", { task: "t", every: 5 }, "api"), /Cannot use schedule id/);
  });
});
