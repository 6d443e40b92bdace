/**
 * The dashboard's pure parts: the task index built from events (states, attempts, order,
 * eviction), search qualifiers and paging, and the Prometheus text.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { TaskIndex } from "../src/dashboard/index.ts";
import { parseQuery, search } from "../src/dashboard/search.ts";
import { prometheusText } from "../src/dashboard/metrics.ts";
import type { TaskdEvent } from "../src/events/event.ts";

const now = Date.now() / 1000;
function ev(type: string, id: string, at: number, fields: Partial<TaskdEvent> = {}): TaskdEvent {
  return { type: type as TaskdEvent["type"], id, timestamp: now + at, hostname: "w1@unit", retries: 0, ...fields };
}

describe("dashboard index and search", () => {
  test("events move a task through its states and record each attempt", () => {
    const ix = new TaskIndex();
    ix.apply(ev("task-sent", "a", 0, { hostname: "client", argsrepr: "(1, 2)" }));
    ix.apply(ev("task-received", "a", 0.1));
    ix.apply(ev("task-started", "a", 0.2));
    ix.apply(ev("task-retried", "a", 0.3, { exception: "Retry: later", runtime: 0.1 }));
    ix.apply(ev("task-received", "a", 1.3, { retries: 1, hostname: "w2@unit" }));
    ix.apply(ev("task-started", "a", 1.4, { retries: 1, hostname: "w2@unit" }));
    const r = ix.apply(ev("task-succeeded", "a", 1.5, { retries: 1, hostname: "w2@unit", result: "3", runtime: 0.1 }))!;
    assert.equal(r.state, "SUCCESS");
    assert.equal(r.worker, "w2@unit");
    assert.equal(r.args, "(1, 2)");
    assert.equal(r.retries, 1);
    assert.deepEqual(r.attempts.map((a) => [a.retries, a.worker, a.outcome]), [[0, "w1@unit", "RETRY"], [1, "w2@unit", "SUCCESS"]]);
  });

  test("an older event does not undo a newer state; a replayed delivery is a new attempt", () => {
    const ix = new TaskIndex();
    ix.apply(ev("task-succeeded", "b", 0.5));
    ix.apply(ev("task-started", "b", 0.2));
    assert.equal(ix.get("b")!.state, "SUCCESS");
    ix.apply(ev("task-rejected", "c", 0.1, { exception: "dead" }));
    ix.apply(ev("task-received", "c", 2));
    ix.apply(ev("task-succeeded", "c", 2.1));
    assert.deepEqual(ix.get("c")!.attempts.map((a) => a.outcome), ["REJECTED", "SUCCESS"]);
  });

  test("search: qualifiers, free words, state lists, time bounds, newest first, paging", () => {
    const ix = new TaskIndex();
    for (let i = 0; i < 30; i++) {
      ix.apply(ev("task-received", `id-${i}`, i, { name: i % 2 ? "mail.send" : "img.render", argsrepr: `('user${i}@example.com',)` }));
      ix.apply(ev(i % 5 === 0 ? "task-failed" : "task-succeeded", `id-${i}`, i + 0.5, i % 5 === 0 ? { exception: "SMTPError: refused" } : { result: `"ok-${i}"` }));
    }
    const ids = (q: string, limit = 50, offset = 0) => search(ix, parseQuery(q), limit, offset).tasks.map((t) => t.id);
    assert.deepEqual(ids("args:user7@"), ["id-7"]);
    assert.deepEqual(ids("state:FAILURE name:mail"), ["id-25", "id-15", "id-5"]);
    assert.deepEqual(ids("error:smtp name:img"), ["id-20", "id-10", "id-0"]);
    assert.deepEqual(ids('result:"ok-29"'), ["id-29"]);
    assert.deepEqual(ids("user12 render"), ["id-12"]);
    assert.deepEqual(ids("id:id-1 state:success,failure", 3), ["id-19", "id-18", "id-17"]);
    assert.deepEqual(ids("", 2, 3), ["id-26", "id-25"]);
    assert.deepEqual(ids(`after:${now + 27} before:${now + 29}`), ["id-28", "id-27"]);
    assert.equal(search(ix, parseQuery(""), 10, 25).more, false);
    assert.equal(search(ix, parseQuery(""), 10, 0).more, true);
  });

  test("the index keeps at most maxTasks, dropping the oldest", () => {
    const ix = new TaskIndex(100);
    for (let i = 0; i < 250; i++) ix.apply(ev("task-received", `t${i}`, i));
    assert.ok(ix.size <= 100 && ix.size >= 90, `size ${ix.size}`);
    assert.ok(ix.get("t249") && !ix.get("t0"));
    assert.equal([...ix.newestFirst()][0].id, "t249");
  });

  // How fast: bench/dashboard.ts measures it (docs/dashboard.md "Performance"), not a timed test.
  test("search over 100,000 tasks: full scans and early stops give the pages a brute-force filter gives", () => {
    const ix = new TaskIndex();
    const name = (i: number) => `app.task${i % 20}`;
    const args = (i: number) => `(${i}, 'order-${i * 7}')`;
    for (let i = 0; i < 100_000; i++) {
      ix.apply(ev("task-received", `task-${i}`, i / 1000, { name: name(i), argsrepr: args(i) }));
      ix.apply(ev("task-succeeded", `task-${i}`, i / 1000 + 0.001, { result: `{"total": ${i}}`, runtime: 0.001 }));
    }
    const newest = Array.from({ length: 100_000 }, (_, k) => 99_999 - k);
    const page = (keep: (i: number) => boolean) => newest.filter(keep).slice(0, 51);
    const cases: [string, (i: number) => boolean][] = [
      ["args:order-7 name:task3", (i) => args(i).includes("order-7") && name(i).includes("task3")],
      ["nothing-matches-this", () => false],
      ["state:FAILURE", () => false],
      ["'order-69993'", (i) => args(i).includes("'order-69993'")],
    ];
    for (const [q, keep] of cases) {
      const want = page(keep);
      const got = search(ix, parseQuery(q), 50);
      assert.deepEqual(got.tasks.map((t) => t.id), want.slice(0, 50).map((i) => `task-${i}`), q);
      assert.equal(got.more, want.length > 50, q);
    }
    assert.deepEqual(search(ix, parseQuery(`args:"'order-69993'"`), 5).tasks.map((t) => t.id), ["task-9999"]);
  });

  test("/metrics text: API.md's names, escaped labels, cumulative buckets", () => {
    const ix = new TaskIndex();
    ix.apply(ev("task-succeeded", "m1", 0, { name: 'odd"name', runtime: 0.02 }));
    ix.apply(ev("task-succeeded", "m2", 0, { name: 'odd"name', runtime: 3 }));
    const text = prometheusText(ix.metrics, { queues: { default: 4 }, workers: 2, brokerUp: true, indexed: ix.size });
    assert.match(text, /^taskd_tasks_total\{task="odd\\"name",state="SUCCESS"\} 2$/m);
    assert.match(text, /^taskd_task_runtime_seconds_bucket\{task="odd\\"name",le="0.025"\} 1$/m);
    assert.match(text, /^taskd_task_runtime_seconds_bucket\{task="odd\\"name",le="5"\} 2$/m);
    assert.match(text, /^taskd_task_runtime_seconds_sum\{task="odd\\"name"\} 3.02$/m);
    assert.match(text, /^taskd_queue_messages\{queue="default"\} 4$/m);
    assert.match(text, /^taskd_workers 2$/m);
  });
});
