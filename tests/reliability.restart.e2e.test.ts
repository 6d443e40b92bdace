/**
 * The file-backed store: queued tasks, stored results and dead letters survive a full restart of
 * the server (stopped with SIGTERM, and again killed with SIGKILL), and the queued tasks run after it.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { jetstreamManager } from "@nats-io/jetstream";
import { app, record } from "./fixtures/reliable.ts";
import { useTaskd } from "./helpers/env.ts";
import { eventually } from "./helpers/taskd.ts";
import { RunLog } from "./helpers/runlog.ts";

const log = new RunLog();

describe("state survives a full restart of the server", () => {
  const t = useTaskd({ module: "reliable.ts", workers: [], env: { TASKD_RUNLOG: log.path }, apps: [app], connect: false, stopGraceMs: 2000 });

  for (const signal of ["SIGTERM", "SIGKILL"] as const) {
    test(`results and queued tasks survive a restart after ${signal}`, { timeout: 60_000 }, async () => {
      const base = signal === "SIGTERM" ? 0 : 1000;
      const w = await t.startWorker(["-c", "8"]);
      const done = await Promise.all(Array.from({ length: 100 }, (_, i) => record.delay(base + i, 0)));
      for (const r of done) await r.get({ timeout: 20 });
      await w.stop(5000);
      // Queued while no worker runs.
      const queued = await Promise.all(Array.from({ length: 200 }, (_, i) => record.delay(base + 100 + i, 0)));
      await app.sendTask("rel.nope", []); // dead-lettered later, to check the dead stream survives too
      await app.close();
      await t.server.kill(signal);
      await t.server.restart();
      const nc = (await app.connection());
      const jsm = await jetstreamManager(nc);
      assert.equal((await jsm.streams.info("TASKD_TASKS")).state.messages, 201);
      for (const r of done) assert.equal((await app.backend.get(r.id))?.status, "SUCCESS");
      const w2 = await t.startWorker(["-c", "8"]);
      for (const [i, r] of queued.entries()) assert.equal(await r.get({ timeout: 20 }), (base + 100 + i) * 2);
      await eventually(async () => (await jsm.streams.info("TASKD_DEAD")).state.messages >= (signal === "SIGTERM" ? 1 : 2));
      await w2.stop(5000);
      // Dead letters and results survive one more restart.
      const deadBefore = (await jsm.streams.info("TASKD_DEAD")).state.messages;
      await app.close();
      await t.server.kill(signal);
      await t.server.restart();
      const jsm2 = await jetstreamManager(await app.connection());
      assert.equal((await jsm2.streams.info("TASKD_DEAD")).state.messages, deadBefore);
      for (const r of queued) assert.equal((await app.backend.get(r.id))?.status, "SUCCESS");
      const counts = log.counts();
      for (let n = base; n < base + 300; n++) assert.ok(counts.has(n), `task ${n} never ran`);
    });
  }
});
