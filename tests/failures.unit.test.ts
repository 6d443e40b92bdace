/**
 * Pure parts of the failure semantics: Celery's backoff formula, retry() past maxRetries and
 * with `throw: false` (through apply(), in process), and what happens to a message whose
 * execution unit died (rejectOnWorkerLost).
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { App, backoffDelay, MaxRetriesExceededError, Retry } from "../mod.ts";
import type { ResultMeta } from "../mod.ts";
import { lostDisposition, settleLost } from "../src/worker/lost.ts";

const app = new App("unit", { broker: "nats://127.0.0.1:1" });

describe("failure semantics, in process", () => {
  test("backoff without jitter doubles from the factor and stops at retryBackoffMax", () => {
    const seq = (factor: number, max = 600) => [0, 1, 2, 3, 4].map((retries) => backoffDelay({ factor, retries, max, jitter: false }));
    assert.deepEqual(seq(1), [1, 2, 4, 8, 16]);
    assert.deepEqual(seq(3), [3, 6, 12, 24, 48]);
    assert.deepEqual(seq(1, 5), [1, 2, 4, 5, 5]);
    assert.throws(() => backoffDelay({ factor: -1, retries: 0, max: 600, jitter: false }), RangeError);
  });

  test("backoff with jitter is a whole number from 0 to the computed delay", () => {
    assert.equal(backoffDelay({ factor: 1, retries: 3, max: 600, jitter: true, random: () => 0 }), 0);
    assert.equal(backoffDelay({ factor: 1, retries: 3, max: 600, jitter: true, random: () => 0.9999 }), 8);
    for (let i = 0; i < 200; i++) {
      const d = backoffDelay({ factor: 1, retries: 4, max: 600, jitter: true });
      assert.ok(Number.isInteger(d) && d >= 0 && d <= 16, String(d));
    }
  });

  test("retry() past maxRetries re-throws exc, else MaxRetriesExceededError; maxRetries null retries on", async () => {
    let calls = 0;
    const withExc = app.task({ bind: true, maxRetries: 2 }, async function withExc(self) {
      calls++;
      await self.retry({ exc: new TypeError("cause"), countdown: 0 });
    });
    const r1 = await withExc.apply();
    assert.equal(calls, 3);
    assert.equal(r1.meta.status, "FAILURE");
    assert.deepEqual([(r1.meta.result as { type: string }).type, (r1.meta.result as { message: string }).message], ["TypeError", "cause"]);

    const noExc = app.task({ bind: true, maxRetries: 0 }, async function noExc(self) {
      await self.retry({ countdown: 0 });
    });
    const r2 = await noExc.apply();
    assert.equal((r2.meta.result as { type: string }).type, new MaxRetriesExceededError("x").name);

    let forever = 0;
    const unbounded = app.task({ bind: true, maxRetries: null }, async function unbounded(self) {
      if (++forever < 7) await self.retry({ countdown: 0 });
      return forever;
    });
    assert.equal(await (await unbounded.apply()).result, 7);
  });

  test("retry({ throw: false }) returns the Retry and the body goes on", async () => {
    let got: unknown;
    const t = app.task({ bind: true }, async function goesOn(self) {
      if (self.request.retries > 0) return "again";
      got = await self.retry({ countdown: 0, throw: false });
      return "went on";
    });
    const r = await t.apply();
    assert.ok(got instanceof Retry);
    assert.equal(await r.result, "went on");
  });

  test("a lost execution unit: FAILURE with WorkerLostError, unless acksLate + rejectOnWorkerLost requeues", async () => {
    const plain = app.task({ acksLate: true }, function plain() {});
    const requeue = app.task({ acksLate: true, rejectOnWorkerLost: true }, function requeue() {});
    const early = app.task({ rejectOnWorkerLost: true }, function early() {});
    assert.equal(lostDisposition(plain), "failed");
    assert.equal(lostDisposition(requeue), "requeued");
    assert.equal(lostDisposition(early), "failed");

    const calls: string[] = [];
    const stored: ResultMeta[] = [];
    const m = { ack: () => calls.push("ack"), nak: () => calls.push("nak") };
    const base = { m, taskId: "t1", retries: 0, hostname: "w@test", why: "signal 9 (SIGKILL)", store: (meta: ResultMeta) => Promise.resolve(stored.push(meta)) };
    assert.equal(await settleLost({ ...base, task: requeue, acked: false }), "requeued");
    assert.deepEqual(calls, ["nak"]);
    assert.equal(stored.length, 0);
    assert.equal(await settleLost({ ...base, task: plain, acked: false }), "failed");
    assert.deepEqual(calls, ["nak", "ack"]);
    assert.equal(stored[0].status, "FAILURE");
    assert.deepEqual([(stored[0].result as { type: string }).type, (stored[0].result as { message: string }).message], ["WorkerLostError", "Worker exited prematurely: signal 9 (SIGKILL)"]);
    assert.equal(await settleLost({ ...base, task: early, acked: true }), "failed");
    assert.deepEqual(calls, ["nak", "ack"], "an early-acked message is not acked twice");
  });
});
