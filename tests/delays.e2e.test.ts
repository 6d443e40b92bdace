/**
 * Delayed tasks, expiry and revocation through dist/taskd: countdown/eta precision, no worker
 * slot and no queue ack window taken while waiting, survival of worker kill -9 and server
 * restart, 2,000 delayed tasks run exactly once by two workers, expired and revoked tasks never
 * run, revocations honoured by a worker started later, and a bad delayed message dead-lettered.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { headers } from "@nats-io/nats-core";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { TaskRevokedError } from "../mod.ts";
import { app, stamp, stampLate } from "./fixtures/failure_tasks.ts";
import { useTaskd } from "./helpers/env.ts";
import { eventually } from "./helpers/taskd.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

describe("delayed tasks, expiry and revocation through dist/taskd", () => {
  const t = useTaskd({ module: "failure_tasks.ts", args: ["-c", "20", "-Q", "default", "-n", "dw1@test"], apps: [app], connect: { maxReconnectAttempts: -1, reconnectTimeWait: 200 } });

  test("countdown 2 s runs no earlier than 2 s and no later than 3.5 s; eta likewise", { timeout: 60_000 }, async () => {
    const t0 = Date.now();
    const a = await stamp.applyAsync(["countdown"], { countdown: 2 });
    const etaAt = Date.now() + 2000;
    const b = await stamp.applyAsync(["eta"], { eta: new Date(etaAt) });
    const ranA = Number(await a.get({ timeout: 15 }));
    const ranB = Number(await b.get({ timeout: 15 }));
    assert.ok(ranA - t0 >= 2000 && ranA - t0 <= 3500, `countdown task ran after ${ranA - t0} ms`);
    assert.ok(ranB >= etaAt && ranB - etaAt <= 1500, `eta task ran ${ranB - etaAt} ms after its eta`);
    assert.equal(t.runs(a.id).length, 1);
    assert.equal(t.runs(b.id).length, 1);
  });

  test("the CLI's --countdown is delayed too", { timeout: 60_000 }, async () => {
    const t0 = Date.now();
    const r = await t.cli(["call", "ft.stamp", "cli", "--countdown", "2", "--wait", "--timeout", "15"]);
    assert.equal(r.code, 0, r.stderr);
    const ran = Number(r.stdout.trim());
    assert.ok(ran - t0 >= 2000, `ran after ${ran - t0} ms`);
  });

  test("waiting delayed tasks take no worker slot and no place in the queue consumer's ack window", { timeout: 60_000 }, async () => {
    const waiting = await Promise.all(Array.from({ length: 300 }, (_, i) => stamp.applyAsync([i], { countdown: 4 })));
    const jsm = await jetstreamManager(t.nc);
    const q = await jsm.consumers.info("TASKD_TASKS", "queue-default");
    assert.equal(q.num_ack_pending, 0);
    assert.equal(q.num_pending, 0);
    const t0 = Date.now();
    const now = await stamp.delay("now");
    await now.get({ timeout: 10 });
    assert.ok(Date.now() - t0 < 1500, `an immediate task waited ${Date.now() - t0} ms behind delayed ones`);
    await eventually(() => waiting.every((w) => t.runs(w.id).length === 1), 20_000);
  });

  test("an expired task never runs; its state is REVOKED", { timeout: 60_000 }, async () => {
    const delayed = await stamp.applyAsync(["expired"], { countdown: 2, expires: 1 });
    const past = await stamp.applyAsync(["past"], { expires: new Date(Date.now() - 1000) });
    for (const r of [delayed, past]) {
      await assert.rejects(r.get({ timeout: 15 }), TaskRevokedError);
      assert.equal(await r.state, "REVOKED");
    }
    await sleep(500);
    assert.equal(t.runs(delayed.id).length, 0);
    assert.equal(t.runs(past.id).length, 0);
  });

  test("result.revoke(), app.revoke() and taskd revoke before the task runs: it never runs, REVOKED", { timeout: 60_000 }, async () => {
    const a = await stamp.applyAsync(["a"], { countdown: 2 });
    const b = await stamp.applyAsync(["b"], { countdown: 2 });
    const c = await stamp.applyAsync(["c"], { countdown: 2 });
    const control = await stamp.applyAsync(["control"], { countdown: 2 });
    await a.revoke();
    await app.revoke(b.id);
    const cli = await t.cli(["revoke", c.id]);
    assert.equal(cli.code, 0, cli.stderr);
    assert.equal(cli.stdout.trim(), `revoked ${c.id}`);
    for (const r of [a, b, c]) await assert.rejects(r.get({ timeout: 15 }), TaskRevokedError);
    await control.get({ timeout: 15 });
    for (const r of [a, b, c]) assert.equal(t.runs(r.id).length, 0);
    const bad = await t.cli(["revoke", "not a valid id"]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /^taskd: Cannot revoke 'not a valid id'/);
  });

  test("a revocation is honoured by a worker started after it", { timeout: 60_000 }, async () => {
    const r = await stampLate.delay();
    await app.revoke(r.id);
    const late = await t.startWorker(["-Q", "late", "-n", "late@test"]);
    try {
      await assert.rejects(r.get({ timeout: 15 }), TaskRevokedError);
      assert.equal(t.runs(r.id).length, 0);
      const ok = await stampLate.delay();
      await ok.get({ timeout: 15 });
      assert.equal(t.runs(ok.id).length, 1);
    } finally {
      await late.stop();
    }
  });

  test("a delayed message naming an invalid queue is dead-lettered, and the scheduler goes on", { timeout: 60_000 }, async () => {
    const h = headers();
    h.set("taskd-protocol", "1");
    h.set("taskd-task", "ft.stamp");
    h.set("taskd-id", "bad-queue-1");
    h.set("taskd-queue", "no such queue!");
    h.set("taskd-eta", new Date().toISOString());
    await jetstream(t.nc).publish("taskd.delayed.default", new Uint8Array(), { headers: h });
    const jsm = await jetstreamManager(t.nc);
    const dead = await eventually(async () => (await t.deadLetters()).find((d) => d.id === "bad-queue-1"));
    assert.match(dead.reason, /no such queue!/);
    assert.equal(dead.subject, "taskd.dead.invalid");
    await eventually(async () => (await jsm.streams.info("TASKD_DELAYED")).state.messages === 0);
    const r = await stamp.applyAsync(["after"], { countdown: 0.5 });
    await r.get({ timeout: 10 });
  });

  test("2,000 delayed tasks all run, each exactly once, with two workers", { timeout: 60_000 }, async () => {
    const second = await t.startWorker(["-c", "20", "-Q", "default", "-n", "dw2@test"]);
    try {
      const due = Date.now() + 3000;
      const ids: string[] = [];
      for (let i = 0; i < 2000; i += 200) {
        const batch = await Promise.all(Array.from({ length: 200 }, (_, j) => stamp.applyAsync([i + j], { eta: new Date(due) })));
        ids.push(...batch.map((r) => r.id));
      }
      const want = new Set(ids);
      await eventually(() => new Set(t.runs().filter((r) => want.has(r.id)).map((r) => r.id)).size === want.size, 40_000, 200);
      await sleep(1000);
      const mine = t.runs().filter((r) => want.has(r.id));
      assert.equal(mine.length, 2000, "each ran exactly once");
      const byHost: Record<string, number> = {};
      for (const r of mine) byHost[r.host ?? "?"] = (byHost[r.host ?? "?"] ?? 0) + 1;
      const late = mine.map((r) => r.at - due).sort((a, b) => a - b);
      assert.ok(late[0] >= 0, `a task ran ${-late[0]} ms early`);
      console.log(`2000 delayed tasks, two workers: lateness p50 ${percentile(late, 50)} ms, p99 ${percentile(late, 99)} ms, max ${late.at(-1)} ms; runs by worker ${JSON.stringify(byHost)}`);
      assert.ok(percentile(late, 99) < 5000, `p99 lateness ${percentile(late, 99)} ms`);
    } finally {
      await second.stop();
    }
  });

  test("a delayed task survives a worker kill -9 and a server restart", { timeout: 60_000 }, async () => {
    const t0 = Date.now();
    const r = await stamp.applyAsync(["survivor"], { countdown: 4 });
    await sleep(300); // let the scheduler receive it and nak it until due
    t.worker.signal("SIGKILL");
    await t.worker.exited;
    await t.server.kill("SIGKILL");
    await t.server.restart();
    await t.startWorker(["-c", "20", "-Q", "default", "-n", "dw3@test"]);
    const ran = Number(await r.get({ timeout: 40 }));
    assert.ok(ran - t0 >= 4000, `ran after ${ran - t0} ms`);
    await sleep(1000);
    assert.equal(t.runs(r.id).length, 1);
  });
});
