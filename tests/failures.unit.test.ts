/**
 * Pure parts of the failure semantics: Celery's backoff formula, retry() past maxRetries and
 * with `throw: false` (through apply(), in process), and what happens to a message whose
 * execution unit died (rejectOnWorkerLost).
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { App, backoffDelay, MaxRetriesExceededError, Retry } from "../mod.ts";
import { Request, WorkerLostError } from "../mod.ts";
import type { Outcome } from "../mod.ts";
import { decide, outcomeOfLostUnit } from "../src/worker/dispose.ts";

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

  test("a lost execution unit: FAILURE with WorkerLostError, unless acksLate + rejectOnWorkerLost requeues", () => {
    const plain = app.task({ acksLate: true }, function plain() {});
    const requeue = app.task({ acksLate: true, rejectOnWorkerLost: true }, function requeue() {});
    const early = app.task({ rejectOnWorkerLost: true }, function early() {});
    const lost: Outcome = { kind: "failure", error: new WorkerLostError("Worker exited prematurely: signal 9 (SIGKILL)"), expected: false };
    const request = new Request({ id: "t1", taskName: "x" });

    const requeued = outcomeOfLostUnit(requeue, lost, true);
    assert.equal(requeued.kind, "rejected");
    assert.deepEqual(decide(requeued, requeue, request, true), { kind: "nak" }, "back to the queue at once");

    assert.equal(outcomeOfLostUnit(plain, lost, true), lost, "acksLate alone: a failure");
    assert.deepEqual(decide(lost, plain, request, true), { kind: "ack" }, "a failed late-acked message is acked");
    assert.equal(outcomeOfLostUnit(early, lost, false), lost, "early ack: rejectOnWorkerLost cannot requeue");
    assert.equal(outcomeOfLostUnit(requeue, { kind: "failure", error: new Error("x"), expected: false }, true).kind, "failure", "only a lost unit is requeued");
  });

});
