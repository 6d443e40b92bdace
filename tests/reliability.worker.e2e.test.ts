/**
 * A worker killed with SIGKILL under load: with acksLate, the messages it held come back (after
 * the consumer's ack_wait) to the surviving worker and every task completes; at-least-once means
 * a task whose body finished but whose ack never left may run twice, and the test reports how many.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { app, record } from "./fixtures/reliable.ts";
import { useTaskd } from "./helpers/env.ts";
import { eventually } from "./helpers/taskd.ts";
import { rssKb, RunLog, Sender } from "./helpers/runlog.ts";

const N = 2000;
const CONCURRENCY = 16;
const log = new RunLog();

describe("worker killed with -9 under load", () => {
  const t = useTaskd({ module: "reliable.ts", workers: [], env: { TASKD_RUNLOG: log.path }, apps: [app], connect: false, stopGraceMs: 2000 });

  test("late-acked tasks held by the dead worker come back and every task completes", { timeout: 120_000 }, async () => {
    for (const name of ["victim", "survivor"]) {
      await t.startWorker(["-c", String(CONCURRENCY), "-n", `${name}@rel`]);
    }
    const [victim, survivor] = t.workers;
    const ids: string[] = new Array(N);
    const sender = new Sender(N, async (i) => {
      ids[i] = (await record.delay(i, 10)).id;
    }, 16);
    await eventually(() => log.runs().filter((r) => r.pid === victim.proc.pid).length >= 300, 60_000, 5);
    victim.signal("SIGKILL");
    await victim.exited;
    const killedAt = Date.now();
    const victimRuns = log.runs().filter((r) => r.pid === victim.proc.pid).length;
    await sender.done;
    await eventually(() => log.summary(N).missing.length === 0, 90_000, 200);
    const doneAt = Date.now();
    const s = log.summary(N);
    const lastRun = Math.max(...log.runs().map((r) => r.at));
    const cameBack = log.runs().filter((r) => r.redelivered && r.pid === survivor.proc.pid).length;
    console.log(
      `[figures] worker -9: sent ${N}, completed ${s.distinct}, runs ${s.runs}, duplicates ${s.duplicates}, victim ran ${victimRuns}, came back ${cameBack}, ` +
        `all done ${lastRun - killedAt} ms after the kill (ack_wait 30 s), survivor RSS ${Math.round(rssKb(survivor.proc.pid) / 1024)} MB`,
    );
    assert.equal(s.distinct, N);
    assert.equal(s.unexpected, 0);
    // Only a task whose body finished between its log line and its ack can run twice: at most one per slot.
    assert.ok(s.duplicates <= CONCURRENCY, `duplicates ${s.duplicates} > ${CONCURRENCY}`);
    const metas = [];
    for (let i = 0; i < N; i += 200) metas.push(...await Promise.all(ids.slice(i, i + 200).map((id) => app.backend.get(id))));
    metas.forEach((m, i) => {
      assert.equal(m?.status, "SUCCESS", `task ${i}`);
      assert.equal(m!.result, i * 2);
    });
    // The victim held messages (running and prefetched); they came back, flagged, after ack_wait.
    assert.ok(cameBack > 0, "no message came back redelivered");
    assert.ok(lastRun - killedAt > 20_000, "the held messages came back before ack_wait");
    assert.ok(doneAt >= killedAt);
    assert.equal(survivor.proc.exitCode, null, survivor.output);
  });
});
