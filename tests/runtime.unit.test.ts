/**
 * Pure parts of the worker runtime: rate parsing and spacing, event subjects and lines.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { formatEvent, parseRate } from "../mod.ts";
import { RateLimiter } from "../src/worker/ratelimit.ts";
import { eventSubject } from "../src/events/event.ts";

describe("rate limits and event formatting", () => {
  test("parseRate reads /s, /m, /h and plain numbers as tasks per second", () => {
    assert.equal(parseRate("10/s"), 10);
    assert.equal(parseRate("100/m"), 100 / 60);
    assert.equal(parseRate("7200/h"), 2);
    assert.equal(parseRate("5"), 5);
    assert.equal(parseRate(2.5), 2.5);
    assert.equal(parseRate(undefined), undefined);
    assert.equal(parseRate(0), undefined);
    assert.equal(parseRate("0/s"), undefined);
  });

  test("parseRate refuses what it cannot read, saying how to write it", () => {
    assert.throws(() => parseRate("10/d"), /write it as "<n>\/s", "<n>\/m" or "<n>\/h"/);
    assert.throws(() => parseRate("fast"), RangeError);
    assert.throws(() => parseRate(-1), RangeError);
  });

  test("RateLimiter spaces starts evenly and lets the first one go at once", () => {
    const l = new RateLimiter();
    l.set("t", "5/s");
    const now = 1_000_000;
    const waits = Array.from({ length: 10 }, () => l.reserve("t", now));
    assert.deepEqual(waits, [0, 200, 400, 600, 800, 1000, 1200, 1400, 1600, 1800]);
    assert.equal(l.reserve("other", now), 0);
    // After a quiet spell the schedule does not bank unused starts.
    assert.equal(l.reserve("t", now + 60_000), 0);
    assert.equal(l.reserve("t", now + 60_000), 200);
    l.set("t", null);
    assert.equal(l.has("t"), false);
    assert.equal(l.reserve("t", now), 0);
  });

  test("events go to <prefix>.events.<group>.<kind> and print as one line", () => {
    assert.equal(eventSubject("taskd", "task-succeeded"), "taskd.events.task.succeeded");
    assert.equal(eventSubject("p", "worker-heartbeat"), "p.events.worker.heartbeat");
    const line = formatEvent({ type: "task-failed", timestamp: 0, hostname: "w@h", id: "abc", name: "t.x", runtime: 0.5, exception: "TypeError: no" });
    assert.equal(line, '1970-01-01T00:00:00.000Z task-failed      t.x[abc] w@h runtime=0.5s exception="TypeError: no"');
    assert.match(formatEvent({ type: "task-failed", timestamp: 0, hostname: "w" }, true), /^\x1b\[31m.*\x1b\[0m$/);
  });
});
