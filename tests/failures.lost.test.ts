/**
 * Late acks and lost workers through dist/taskd: a worker killed with -9 in the middle of an
 * acksLate task gives exactly one completed run after redelivery (the message comes back after
 * the consumer's ack_wait, 30 s, with deliveryInfo.redelivered), while a live worker's
 * keep-alive stops a task longer than ack_wait from being redelivered. Both run side by side
 * on their own queues, so the file takes one ack_wait, not two.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { app, longLate, type Run, slowLate } from "./fixtures/failure_tasks.ts";
import { NatsServer } from "./helpers/server.ts";
import { eventually, fixture, startWorker, type WorkerProcess } from "./helpers/taskd.ts";
import { completeLines } from "./helpers/taskd.ts";

let server: NatsServer;
const workers: WorkerProcess[] = [];
const runsFile = join(mkdtempSync(join(tmpdir(), "taskd-lost-")), "runs.jsonl");
const env = { TASKD_TEST_RUNS: runsFile };

function runs(id: string, what?: string): Run[] {
  if (!existsSync(runsFile)) return [];
  return completeLines(readFileSync(runsFile, "utf8")).map((l) => JSON.parse(l) as Run)
    .filter((r) => r.id === id && (what === undefined || r.what === what));
}

describe("late acks and lost workers through dist/taskd", () => {
  before(async () => {
    server = await NatsServer.start();
    process.env.TASKD_BROKER_URL = server.url;
  });

  after(async () => {
    await app.close();
    for (const w of workers) await w.stop();
    await server?.stop();
    delete process.env.TASKD_BROKER_URL;
  });

  test("kill -9 mid-task under acksLate: one completed run after redelivery; a live worker's long task is never redelivered", { timeout: 90_000 }, async () => {
    const [victim, keeper] = await Promise.all([
      startWorker(server.url, fixture("failure_tasks.ts"), { args: ["-Q", "lost", "-n", "victim@test"], env }),
      startWorker(server.url, fixture("failure_tasks.ts"), { args: ["-Q", "long", "-n", "keeper@test"], env }),
    ]);
    workers.push(victim, keeper);
    const long = await longLate.delay(36_000); // longer than ack_wait (30 s)
    const lost = await slowLate.delay(3000);
    await eventually(() => runs(lost.id, "start").length === 1, 15_000);
    victim.signal("SIGKILL");
    await victim.exited;
    const heir = await startWorker(server.url, fixture("failure_tasks.ts"), { args: ["-Q", "lost", "-n", "heir@test"], env });
    workers.push(heir);

    assert.equal(await lost.get({ timeout: 60 }), 2, "the completed run saw deliveryCount 2");
    const starts = runs(lost.id, "start");
    const done = runs(lost.id, "done");
    assert.equal(done.length, 1, "exactly one completed run");
    assert.equal(starts.length, 2);
    assert.equal(starts[0].host, "victim@test");
    assert.equal(done[0].host, "heir@test");
    assert.equal(done[0].redelivered, true);
    assert.equal(done[0].deliveryCount, 2);

    assert.equal(await long.get({ timeout: 30 }), "long done");
    assert.equal(runs(long.id, "start").length, 1, "the long task was not redelivered while its worker lived");
    assert.equal(runs(long.id, "done")[0].redelivered, false);
  });
});
