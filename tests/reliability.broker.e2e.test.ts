/**
 * The broker killed with SIGKILL and restarted under load: clients and workers reconnect by
 * themselves, consumers resume, results written during the outage are retried, and with
 * acksLate every one of 3,000 tasks runs (counted through a run log the task appends to, not
 * through the broker) and its result is readable.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { app, record } from "./fixtures/reliable.ts";
import { useTaskd } from "./helpers/env.ts";
import { eventually } from "./helpers/taskd.ts";
import { pause, rssKb, RunLog, Sender } from "./helpers/runlog.ts";

const N = 3000;
const log = new RunLog();

describe("broker killed with -9 and restarted under load", () => {
  const t = useTaskd({ module: "reliable.ts", workers: [["-c", "16", "-n", "w1@rel"], ["-c", "16", "-n", "w2@rel"]], env: { TASKD_RUNLOG: log.path }, apps: [app], connect: false, stopGraceMs: 2000 });

  test("3,000 late-acked tasks all run and their results are readable", { timeout: 150_000 }, async () => {
    const ids: string[] = new Array(N);
    const sender = new Sender(N, async (i) => {
      ids[i] = (await record.delay(i, 4)).id;
    }, 16);
    sender.done.catch(() => {});
    await eventually(() => sender.sent >= N / 3, 60_000, 5);
    const ranBefore = log.runs().length;
    await t.server.kill("SIGKILL");
    const killedAt = Date.now();
    await pause(2000); // the outage
    await t.server.restart();
    const restartedAt = Date.now();
    await sender.done;
    const sentAt = Date.now();
    await eventually(() => log.summary(N).missing.length === 0, 90_000, 200);
    const doneAt = Date.now();
    const s = log.summary(N);
    const firstAfter = Math.min(...log.runs().filter((r) => r.at > restartedAt).map((r) => r.at));
    const rss = Math.max(...t.workers.map((w) => rssKb(w.proc.pid)));
    console.log(
      `[figures] broker -9: sent ${N}, ran before kill ${ranBefore}, completed ${s.distinct}, runs ${s.runs}, duplicates ${s.duplicates}, ` +
        `outage ${restartedAt - killedAt} ms, recovery (restart -> first run) ${firstAfter - restartedAt} ms, ` +
        `all sent ${sentAt - restartedAt} ms after restart, all run ${doneAt - restartedAt} ms after restart, worker RSS ${Math.round(rss / 1024)} MB`,
    );
    assert.equal(s.distinct, N);
    assert.equal(s.unexpected, 0);
    // Results: every one readable, SUCCESS, the right value (retrying stores during the outage).
    const metas = await eventually(async () => {
      const all = [];
      for (let i = 0; i < N; i += 200) {
        all.push(...await Promise.all(ids.slice(i, i + 200).map((id) => app.backend.get(id))));
      }
      return all.every((m) => m?.status === "SUCCESS") ? all : undefined;
    }, 60_000, 500);
    metas.forEach((m, i) => assert.equal(m!.result, i * 2));
    if (process.env.TASKD_TEST_VERBOSE) for (const w of t.workers) console.log(w.output.split("\n").filter((l) => !/succeeded in/.test(l)).join("\n"));
    for (const w of t.workers) {
      assert.equal(w.proc.exitCode, null, w.output);
      assert.match(w.output, /lost the broker connection/);
      assert.match(w.output, /reconnected to the broker/);
    }
  });
});
