/**
 * Delayed messages the server stopped delivering (src/worker/delayed_sweep.ts). nats-server 2.9
 * under kills can leave messages in the delayed stream that its consumer counts neither pending
 * nor un-acked (the soak lost 41 countdowns so). A work-queue stream cannot be put in that state
 * on purpose, so this test makes the delayed stream itself, with limits retention, and a
 * scheduler consumer that starts after five messages: they are stranded as the soak's were. The
 * worker's sweep sends the one not yet due round again (it runs once, when due), removes without
 * running the copy whose task already stored its state, releases the due one never released,
 * the due one released a moment ago has either run by then (removed) or meets its first
 * release's `Nats-Msg-Id` (each runs once), and dead-letters, with the reason, one due two
 * minutes ago with no state stored: it may have run, and no sweep can tell.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { headers } from "@nats-io/nats-core";
import { AckPolicy, DeliverPolicy, jetstreamManager, RetentionPolicy, StorageType } from "@nats-io/jetstream";
import { app, stamp } from "./fixtures/failure_tasks.ts";
import { useTaskd } from "./helpers/env.ts";
import { eventually } from "./helpers/taskd.ts";
import { storeResult } from "../src/worker/results.ts";
import { states } from "../src/protocol/states.ts";
import { ACK_WAIT_MS } from "../src/nats/broker.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("stranded delayed messages", () => {
  const t = useTaskd({ apps: [app] });

  test("each stranded delayed message is settled once: sent round, removed, or released", { timeout: 60_000 }, async () => {
    const jsm = await jetstreamManager(t.nc);
    await jsm.streams.add({ name: "TASKD_DELAYED", subjects: ["taskd.delayed.>"], retention: RetentionPolicy.Limits, storage: StorageType.File });
    const due = Date.now() + 4000;
    const waiting = await stamp.applyAsync(["waiting"], { eta: new Date(due) });
    const ran = await stamp.applyAsync(["ran"], { countdown: 0.3 });
    await storeResult(app, { taskId: ran.id, taskName: stamp.name, status: states.SUCCESS, result: 1, retries: 0, dateDone: new Date().toISOString() });
    const never = await stamp.applyAsync(["never released"], { countdown: 0.3 });
    const released = await stamp.applyAsync(["released"], { countdown: 0.3 });
    // One due two minutes ago with no state: no sweep can tell whether it ran.
    const template = await jsm.streams.getMessage("TASKD_DELAYED", { seq: (await jsm.streams.info("TASKD_DELAYED")).state.last_seq });
    const old = headers();
    for (const [k, v] of template!.header) old.set(k, v[0]);
    const oldId = `old-${crypto.randomUUID()}`;
    old.set("taskd-id", oldId);
    old.set("taskd-eta", new Date(Date.now() - 120_000).toISOString());
    old.set("Nats-Msg-Id", `${oldId}:0`);
    await t.nc.request("taskd.delayed.default", template!.data, { headers: old, timeout: 5000 });
    // Put the "released" message back last (the next lines copy the stream's last message).
    const copyOfReleased = await jsm.streams.getMessage("TASKD_DELAYED", { seq: (await jsm.streams.info("TASKD_DELAYED")).state.last_seq - 1 });
    assert.equal(copyOfReleased!.header.get("taskd-id"), released.id);
    const last = (await jsm.streams.info("TASKD_DELAYED")).state.last_seq;
    // "released"'s earlier release: the same message, under the same Nats-Msg-Id, on its queue.
    await t.nc.request("taskd.tasks.default", copyOfReleased!.data, { headers: copyOfReleased!.header, timeout: 5000 });
    await jsm.consumers.add("TASKD_DELAYED", {
      durable_name: "scheduler", filter_subject: "taskd.delayed.>", ack_policy: AckPolicy.Explicit, ack_wait: ACK_WAIT_MS * 1e6,
      max_ack_pending: -1, max_deliver: -1, deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: last + 1,
    });
    const ci = await jsm.consumers.info("TASKD_DELAYED", "scheduler");
    assert.deepEqual([ci.num_pending, ci.num_ack_pending, ci.delivered.stream_seq, (await jsm.streams.info("TASKD_DELAYED")).state.messages], [0, 0, last, 5]);
    await sleep(400); // the due ones are due

    const w = await t.startWorker(["-c", "4", "-n", "sweep@test"], { module: "failure_tasks.ts", env: { TASKD_SWEEP_MS: "500" } });
    const at = Number(await waiting.get({ timeout: 30 }));
    assert.ok(at >= due, `ran ${due - at} ms before it was due`);
    await never.get({ timeout: 10 });
    await released.get({ timeout: 10 });
    // With limits retention the released copies stay until a sweep finds their tasks ran.
    await eventually(async () => (await jsm.streams.info("TASKD_DELAYED")).state.messages === 0, 10_000, 200);
    await sleep(500);
    assert.deepEqual([waiting, ran, never, released].map((r) => t.runs(r.id).length), [1, 0, 1, 1]);
    // The one released a moment ago has run by the sweep (removed), or meets its first release's Nats-Msg-Id.
    assert.match(w.output, /found 5 delayed messages the server no longer delivered \(1 not yet due, sent round again; [12] already run, removed; [12] released; 1 dead-lettered\)/);
    assert.equal(t.runs(oldId).length, 0);
    const dead = (await t.deadLetters()).filter((d) => d.headers["taskd-id"] === oldId);
    assert.equal(dead.length, 1);
    assert.match(dead[0].reason, /Cannot tell whether delayed task ft\.stamp\[old-.*ran: the server stopped delivering it and it stored no result/);
  });
});
