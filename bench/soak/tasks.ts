/**
 * The soak's task module: every kind of task a user runs, each appending one line per run to
 * the run log named by TASKD_RUNLOG (`<kind> <key> <pid> <redelivered>`), a side channel that
 * counts runs independently of the broker and the result store. Replicas from TASKD_REPLICAS.
 * @module
 */
import { appendFileSync } from "node:fs";
import process from "node:process";
import { App, Batches, type SimpleRequest } from "taskd";

export const app = new App("soak", { replicas: Number(process.env.TASKD_REPLICAS ?? "3") });

const LOG = process.env.TASKD_RUNLOG;
function record(kind: string, key: string, redelivered = false): void {
  if (LOG) appendFileSync(LOG, `${kind} ${key} ${process.pid} ${redelivered ? 1 : 0}\n`);
}
const nap = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Early ack (at most once): a short task. */
export const plain = app.task({ name: "soak.plain", bind: true }, async function plain(self, key: string) {
  await nap(20);
  record("plain", key, self.request.deliveryInfo?.redelivered);
  return key;
});

/** Late ack (at least once). */
export const late = app.task({ name: "soak.late", acksLate: true, bind: true }, async function late(self, key: string) {
  await nap(20);
  record("late", key, self.request.deliveryInfo?.redelivered);
  return key;
});

/** Fails its first attempt, succeeds on the retry 1 s later (late ack). */
export const flaky = app.task({ name: "soak.flaky", acksLate: true, bind: true, maxRetries: 5 }, async function flaky(self, key: string) {
  record("flaky", `${key}#${self.request.retries}`);
  if (self.request.retries === 0) await self.retry({ countdown: 1 });
  return key;
});

/** A chain step: records its place, passes the key on (late ack). */
export const step = app.task({ name: "soak.step", acksLate: true }, function step(prev: string, i: number) {
  record("step", `${prev}:${i}`);
  return prev;
});

/** A chord body: records the chord it closes (late ack). */
export const body = app.task({ name: "soak.body", acksLate: true }, function body(results: string[], key: string) {
  record("body", key);
  return results.length;
});

/** Batches: marks each request done with its key. */
export const batch = app.task({ name: "soak.batch", base: Batches, flushEvery: 10, flushInterval: 1 }, async function batch(requests: SimpleRequest[]) {
  for (const r of requests) {
    record("batch", String(r.args[0]));
    await app.backend.markAsDone(r.id, r.args[0]);
  }
});
