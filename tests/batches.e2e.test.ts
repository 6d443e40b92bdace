/**
 * Batches end to end: a dist/taskd worker buffers a batch task's messages and flushes them by
 * count or by time; each caller reads its own result; a throwing batch fails every request.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type AsyncResult, TaskError } from "../mod.ts";
import { app, badBatch, clicks, slowClicks } from "./fixtures/canvas_tasks.ts";
import { useTaskd } from "./helpers/env.ts";
import { completeLines } from "./helpers/taskd.ts";

const log = join(mkdtempSync(join(tmpdir(), "taskd-batches-")), "log.jsonl");

function batches(): { size: number; ids: string[] }[] {
  if (!existsSync(log)) return [];
  return completeLines(readFileSync(log, "utf8")).map((l) => JSON.parse(l)).filter((n) => n.kind === "batch");
}

interface Marked {
  size: number;
  arg: unknown;
  name: string;
  hostname: string;
}

describe("Batches through dist/taskd", () => {
  // Concurrency 2, prefetch 2: the worker must raise prefetch itself for a batch of 5 to arrive.
  const t = useTaskd({ module: "canvas_tasks.ts", args: ["-c", "2", "--prefetch", "2", "-n", "b1@batches"], env: { CANVAS_LOG: log }, apps: [app] });

  test("10 calls with flushEvery 5 give two batches of 5; each caller reads its own result", async () => {
    const started = performance.now();
    const results: AsyncResult[] = [];
    for (let i = 0; i < 10; i++) results.push(await clicks.delay(`http://example.com/${i}`));
    const values = (await Promise.all(results.map((r) => r.get({ timeout: 20 })))) as Marked[];
    const ms = performance.now() - started;
    values.forEach((v, i) => {
      assert.equal(v.arg, `http://example.com/${i}`);
      assert.equal(v.size, 5);
      assert.equal(v.name, "canvas.clicks");
      assert.equal(v.hostname, "b1@batches");
    });
    const runs = batches().filter((b) => b.ids.some((id) => results.some((r) => r.id === id)));
    assert.deepEqual(runs.map((b) => b.size), [5, 5]);
    // Flushed by count, well before the 10 s interval.
    assert.ok(ms < 8000, `took ${ms} ms`);
  });

  test("3 calls flush after flushInterval (1 s), as one batch", async () => {
    const started = performance.now();
    const results = await Promise.all([1, 2, 3].map((i) => slowClicks.delay(i)));
    const values = (await Promise.all(results.map((r) => r.get({ timeout: 20 })))) as Marked[];
    const ms = performance.now() - started;
    assert.deepEqual(values.map((v) => [v.arg, v.size]), [[1, 3], [2, 3], [3, 3]]);
    assert.ok(ms >= 900, `flushed after ${ms} ms, before the 1 s interval`);
    assert.ok(ms < 10_000, `flushed after ${ms} ms`);
  });

  test("a throwing batch function marks every request FAILURE", async () => {
    const results = await Promise.all(["a", "b", "c"].map((x) => badBatch.delay(x)));
    for (const r of results) {
      await assert.rejects(r.get({ timeout: 20 }), (e: TaskError) => {
        assert.equal(e.remoteType, "RangeError");
        assert.match(e.message, /the batch function failed/);
        return true;
      });
    }
  });

  test("the worker stays up and says it raised the prefetch", () => {
    assert.equal(t.worker.proc.exitCode, null);
    assert.match(t.worker.output, /prefetch of queue default raised from 2 to 100 so a full batch of canvas\.slowClicks can arrive/);
    assert.match(t.worker.output, /Batch canvas\.clicks\[batch-[0-9a-f-]+\] flushing 5 requests/);
  });
});
