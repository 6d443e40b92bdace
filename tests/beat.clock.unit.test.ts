/**
 * The beat's clock guard, in process against a real nats-server: a beat whose clock is 5
 * minutes ahead of the server's (more than half the 2-minute duplicate window) refuses to fire
 * and says so at error level; a beat with a good clock fires the same schedule. Also the
 * library surface: app.schedules add/list/pause on a prefix of its own.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { jetstreamManager } from "@nats-io/jetstream";
import { addLogHandler, App, type LogRecord } from "../mod.ts";
import { Beat } from "../src/beat/beat.ts";
import { normalize } from "../src/app/schedule/definition.ts";
import { ScheduleStore } from "../src/app/schedule/store.ts";
import { NatsServer } from "./helpers/server.ts";

let server: NatsServer;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("the beat in process: clock guard, app.schedules, upserts by content", () => {
  before(async () => {
    server = await NatsServer.start();
  });

  after(async () => {
    await server?.stop();
  });

  test("a clock 5 min ahead of the server refuses to fire and logs it; a good clock fires", { timeout: 60_000 }, async () => {
    const app = new App("pc", { broker: server.url, prefix: "pc" });
    app.schedule("every-second", { task: "pc.nothing", every: 1 });
    const logs: LogRecord[] = [];
    const off = addLogHandler((r) => void logs.push(r));
    const messages = async () => (await (await jetstreamManager(await app.connection())).streams.info("PC_TASKS")).state.messages;
    try {
      const skewed = new Beat([app], { clock: () => Date.now() + 5 * 60_000, sendEvents: false });
      await skewed.start();
      await sleep(2500);
      assert.equal(skewed.refusing, true);
      assert.equal(skewed.published, 0);
      await skewed.stop();
      assert.equal(await messages(), 0);
      const refusal = logs.find((r) => r.level === "error" && /REFUSING TO FIRE: this clock is 300\.\d s ahead of the NATS server's/.test(r.message));
      assert.ok(refusal, logs.map((r) => r.message).join("\n"));
      const listed = (await app.schedules.list())[0];
      assert.equal(listed.lastRun, null);

      const good = new Beat([app], { sendEvents: false });
      await good.start();
      await sleep(2500);
      assert.equal(good.refusing, false);
      await good.stop();
      assert.ok(await messages() >= 2, `${await messages()} firings`);
      assert.ok((await app.schedules.get("every-second"))!.lastRun instanceof Date);
    } finally {
      off();
      await app.close();
    }
  });

  test("app.schedules: add, the same again unchanged, list, pause; bad input throws and stores nothing", { timeout: 30_000 }, async () => {
    const app = new App("pl", { broker: server.url, prefix: "pl" });
    try {
      assert.equal(await app.schedules.add("r1", { task: "pl.report", cron: "0 9 * * 1-5", tz: "Europe/Madrid" }), "created");
      assert.equal(await app.schedules.add("r1", { task: "pl.report", cron: "0 9 * * 1-5", tz: "Europe/Madrid" }), "unchanged");
      assert.equal(await app.schedules.add("r1", { task: "pl.report", cron: "0 10 * * 1-5", tz: "Europe/Madrid" }), "updated");
      await assert.rejects(app.schedules.add("r2", { task: "pl.report", every: 0 }), /Cannot define schedule 'r2': 'every' must be at least 1 second/);
      const list = await app.schedules.list();
      assert.deepEqual(list.map((s) => [s.id, s.rule, s.origin, s.paused]), [["r1", 'cron "0 10 * * 1-5" Europe/Madrid', "api", false]]);
      assert.equal(new Date(list[0].next!).getUTCMinutes(), 0);
      assert.equal(await app.schedules.pause("r1"), true);
      assert.equal((await app.schedules.get("r1"))!.paused, true);
      assert.equal((await app.schedules.get("r1"))!.next, null);
      assert.equal(await app.schedules.pause("nope"), false);
      assert.equal(await app.schedules.remove("r1"), true);
      assert.deepEqual(await app.schedules.list(), []);
    } finally {
      await app.close();
    }
  });

  test("code schedules are upserted by content and never replace a run-time one", { timeout: 30_000 }, async () => {
    const app = new App("pu", { broker: server.url, prefix: "pu" });
    const store = new ScheduleStore(app);
    try {
      const code = normalize("nightly", { task: "pu.n", cron: "30 2 * * *", tz: "Europe/Berlin" }, "code");
      assert.equal(await store.upsert(code, 1000), "created");
      const s1 = (await store.state("nightly"))!;
      await store.writeState("nightly", { ...s1.value, cursor: 5000, lastRun: 5000 }, s1.revision);
      // A redeploy with the same definition keeps the cursor.
      assert.equal(await store.upsert(normalize("nightly", { task: "pu.n", cron: "30 2 * * *", tz: "Europe/Berlin" }, "code"), 9000), "unchanged");
      assert.equal((await store.state("nightly"))!.value.cursor, 5000);
      // A changed definition starts from now: the server's time of the write, not the caller's `now`.
      assert.equal(await store.upsert(normalize("nightly", { task: "pu.n", cron: "45 2 * * *", tz: "Europe/Berlin" }, "code"), 9000), "updated");
      assert.ok(Math.abs((await store.state("nightly"))!.value.cursor - Date.now()) < 5000);
      // Run time takes it over; a deploy then leaves it alone.
      assert.equal(await app.schedules.add("nightly", { task: "pu.n", cron: "0 4 * * *" }), "updated");
      assert.equal(await store.upsert(code, 12_000), "kept");
      assert.deepEqual((await store.definition("nightly"))!.value.rule, { cron: "0 4 * * *", tz: "UTC" });
      assert.equal((await store.definition("nightly"))!.value.origin, "api");
    } finally {
      await app.close();
    }
  });
});
