/**
 * Batches and worker crashes: messages of a batch are acked only after the batch function
 * returns, so a worker killed -9 mid-batch has the whole batch redelivered to the next worker.
 * Slow by nature: redelivery waits for the consumer's ack_wait (30 s).
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { app, crashBatch } from "./fixtures/canvas_tasks.ts";
import { useTaskd } from "./helpers/env.ts";
import { completeLines, eventually } from "./helpers/taskd.ts";

const log = join(mkdtempSync(join(tmpdir(), "taskd-batches-crash-")), "log.jsonl");

function notes(kind: string): Record<string, unknown>[] {
  if (!existsSync(log)) return [];
  return completeLines(readFileSync(log, "utf8")).map((l) => JSON.parse(l)).filter((n) => n.kind === kind);
}

describe("Batches survive a worker crash", () => {
  const t = useTaskd({ module: "canvas_tasks.ts", workers: [], env: { CANVAS_LOG: log }, apps: [app] });

  test("a worker killed -9 mid-batch: the whole batch is redelivered and completes", { timeout: 90_000 }, async () => {
    const first = await t.startWorker(["-n", "crash1@batches"]);
    const results = await Promise.all(["a", "b", "c"].map((x) => crashBatch.delay(x)));
    // The side channel: the batch function notes that it started, then hangs.
    await eventually(() => notes("started").length === 1, 20_000);
    first.signal("SIGKILL");
    await first.exited;
    await t.startWorker(["-n", "crash2@batches"]);
    const values = (await Promise.all(results.map((r) => r.get({ timeout: 50 })))) as { arg: string; size: number; redelivered: boolean; hostname: string }[];
    assert.deepEqual(values.map((v) => [v.arg, v.size, v.redelivered, v.hostname]), [
      ["a", 3, true, "crash2@batches"],
      ["b", 3, true, "crash2@batches"],
      ["c", 3, true, "crash2@batches"],
    ]);
    assert.equal(notes("started").length, 1);
  });
});
