/**
 * Late acks and lost workers through dist/taskd: a worker killed with -9 in the middle of an
 * acksLate task gives exactly one completed run after redelivery (the message comes back after
 * the consumer's ack_wait, 30 s, with deliveryInfo.redelivered), while a live worker's
 * keep-alive stops a task longer than ack_wait from being redelivered. Both run side by side
 * on their own queues, so the file takes one ack_wait, not two.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { app, longLate, slowLate } from "./fixtures/failure_tasks.ts";
import { useTaskd } from "./helpers/env.ts";
import { eventually } from "./helpers/taskd.ts";

describe("late acks and lost workers through dist/taskd", () => {
  const t = useTaskd({ module: "failure_tasks.ts", workers: [], apps: [app], connect: false });

  test("kill -9 mid-task under acksLate: one completed run after redelivery; a live worker's long task is never redelivered", { timeout: 90_000 }, async () => {
    const [victim] = await Promise.all([
      t.startWorker(["-Q", "lost", "-n", "victim@test"]),
      t.startWorker(["-Q", "long", "-n", "keeper@test"]),
    ]);
    const long = await longLate.delay(36_000); // longer than ack_wait (30 s)
    const lost = await slowLate.delay(3000);
    await eventually(() => t.runs(lost.id, "start").length === 1, 15_000);
    victim.signal("SIGKILL");
    await victim.exited;
    await t.startWorker(["-Q", "lost", "-n", "heir@test"]);

    assert.equal(await lost.get({ timeout: 60 }), 2, "the completed run saw deliveryCount 2");
    const starts = t.runs(lost.id, "start");
    const done = t.runs(lost.id, "done");
    assert.equal(done.length, 1, "exactly one completed run");
    assert.equal(starts.length, 2);
    assert.equal(starts[0].host, "victim@test");
    assert.equal(done[0].host, "heir@test");
    assert.equal(done[0].redelivered, true);
    assert.equal(done[0].deliveryCount, 2);

    assert.equal(await long.get({ timeout: 30 }), "long done");
    assert.equal(t.runs(long.id, "start").length, 1, "the long task was not redelivered while its worker lived");
    assert.equal(t.runs(long.id, "done")[0].redelivered, false);
  });
});
