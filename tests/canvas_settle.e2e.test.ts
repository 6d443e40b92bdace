/**
 * Workflows that never hang, through dist/taskd: a chord member that is revoked, expires, is
 * dead-lettered or raises Ignore is settled in the chord, which then fails with a ChordError
 * naming each one; a chain whose step is revoked fails with a ChainError and its later steps are
 * marked; chordTimeout ends a chord whose member is stuck; `taskd inspect chord` shows progress.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chain, chord, group, type Signature, signature, type TaskError } from "../mod.ts";
import { add, app, batchy, collect, ignoring, onError } from "./fixtures/settle_tasks.ts";
import { useTaskd } from "./helpers/env.ts";
import { completeLines } from "./helpers/taskd.ts";
import { freePort } from "./helpers/server.ts";
import { DashboardProcess } from "./helpers/dashboard.ts";

const log = join(mkdtempSync(join(tmpdir(), "taskd-settle-")), "log.jsonl");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function notes(): Record<string, unknown>[] {
  if (!existsSync(log)) return [];
  return completeLines(readFileSync(log, "utf8")).map((l) => JSON.parse(l));
}

describe("workflows that never hang, through dist/taskd", () => {
  const t = useTaskd({ module: "settle_tasks.ts", args: ["-c", "10", "-n", "w@settle"], env: { CANVAS_LOG: log }, apps: [app] });

  test("a chord of 20 with a revoked, an expired, a dead-lettered and an Ignore member fails naming all four; the body never runs", async () => {
    const header: Signature[] = Array.from({ length: 20 }, (_, i) => add.s(i, 0));
    const revoked = add.s(3, 0).set({ taskId: crypto.randomUUID() });
    header[3] = revoked;
    header[7] = add.s(7, 0).set({ expires: new Date(Date.now() - 1000) });
    header[11] = signature("settle.nope", { args: [11], app });
    header[15] = ignoring.s(15);
    const ids = header.map((s) => s.freeze().id);
    await app.revoke(revoked.id!);
    await sleep(300); // the worker learns the revocation
    const chordId = crypto.randomUUID();
    const errback = onError.s();
    const errbackResult = errback.freeze();
    const started = Date.now();
    const r = await chord(group(header).set({ taskId: chordId }), collect.s("chord20")).applyAsync([], { linkError: errback });
    await assert.rejects(r.get({ timeout: 20 }), (e: TaskError) => {
      assert.equal(e.remoteType, "ChordError");
      assert.match(e.message, /4 of 20 header tasks did not succeed/);
      assert.match(e.message, new RegExp(`settle\\.add\\[${ids[3]}\\] was revoked`));
      assert.match(e.message, new RegExp(`settle\\.add\\[${ids[7]}\\] expired at `));
      assert.match(e.message, new RegExp(`settle\\.nope\\[${ids[11]}\\] was dead-lettered: .*is registered`));
      assert.match(e.message, new RegExp(`settle\\.ignoring\\[${ids[15]}\\] raised Ignore`));
      return true;
    });
    const ms = Date.now() - started;
    assert.ok(ms < 5000, `the chord ended ${ms} ms after it was applied`);
    // linkError of the chord (its body) runs with the body's id and the ChordError.
    const eb = (await errbackResult.get({ timeout: 10 })) as { taskId: string; type: string; message: string };
    assert.equal(eb.taskId, r.id);
    assert.equal(eb.type, "ChordError");
    assert.match(eb.message, /4 of 20 header tasks did not succeed/);
    await sleep(200);
    assert.equal(notes().filter((n) => n.tag === "chord20").length, 0);

    const cli = await t.cli(["inspect", "chord", chordId, "--json"]);
    assert.equal(cli.code, 0, cli.stderr);
    const p = JSON.parse(cli.stdout);
    assert.equal(p.state, "failed");
    assert.equal(p.size, 20);
    assert.equal(p.done, 20);
    assert.deepEqual(p.pending, []);
    assert.deepEqual(p.failed.map((f: { taskId: string }) => f.taskId), [ids[3], ids[7], ids[11], ids[15]]);
    assert.deepEqual(p.failed.map((f: { state: string }) => f.state), ["REVOKED", "EXPIRED", "DEAD_LETTERED", "IGNORED"]);
    const text = await t.cli(["inspect", "chord", chordId]);
    assert.match(text.stdout, /chord .*: failed\n\s+size: 20 {2}done: 20 {2}failed: 4 {2}pending: 0/);

    // The same JSON from the dashboard's API.
    const dash = await DashboardProcess.start(t.url, await freePort());
    try {
      const res = await fetch(`${dash.url}/api/chords/${chordId}`);
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), p);
      assert.equal((await fetch(`${dash.url}/api/chords/${crypto.randomUUID()}`)).status, 404);
    } finally {
      await dash.stop();
    }
  });

  test("a chain whose second step is revoked fails with a ChainError; the third step never runs and is not PENDING", async () => {
    const second = add.s(10);
    const secondId = second.freeze().id!;
    const third = collect.s("chain-third");
    const thirdId = third.freeze().id!;
    await app.revoke(secondId);
    await sleep(300);
    const r = await chain(add.s(1, 1), second, third).applyAsync();
    await assert.rejects(r.get({ timeout: 20 }), (e: TaskError) => {
      assert.equal(e.remoteType, "ChainError");
      assert.match(e.message, new RegExp(`Chain stopped: settle\\.add\\[${secondId}\\] was revoked; later steps did not run`));
      return true;
    });
    assert.equal(r.id, thirdId);
    assert.equal(await app.asyncResult(thirdId).state, "FAILURE");
    assert.equal(await app.asyncResult(secondId).state, "REVOKED");
    await sleep(200);
    assert.equal(notes().filter((n) => n.tag === "chain-third").length, 0);
  });

  test("chordTimeout ends a chord whose member is stuck, naming the pending member", async () => {
    const stuck = add.s(2, 2).set({ queue: "nobody-consumes" });
    const stuckId = stuck.freeze().id!;
    const chordId = crypto.randomUUID();
    const started = Date.now();
    const r = await chord(group([add.s(1, 1), stuck]).set({ taskId: chordId }), collect.s("timeout")).applyAsync([], { chordTimeout: 1 });
    await assert.rejects(r.get({ timeout: 20 }), (e: TaskError) => {
      assert.equal(e.remoteType, "ChordError");
      assert.match(e.message, new RegExp(`timeout after 1s with 1 of 2 header tasks pending: ${stuckId}`));
      return true;
    });
    const ms = Date.now() - started;
    assert.ok(ms >= 1000 && ms < 6000, `ended ${ms} ms after it was applied`);
    const cli = await t.cli(["inspect", "chord", chordId, "--json"]);
    const p = JSON.parse(cli.stdout);
    assert.equal(p.state, "timeout");
    assert.deepEqual(p.pending, [stuckId]);
    assert.equal(notes().filter((n) => n.tag === "timeout").length, 0);
  });

  test("a Batches task refuses a chord member's message clearly; the chord fails naming it", async () => {
    const member = batchy.s(5);
    const memberId = member.freeze().id!;
    const r = await chord([add.s(1, 1), member], collect.s("batch-chord")).applyAsync();
    await assert.rejects(r.get({ timeout: 20 }), (e: TaskError) => {
      assert.equal(e.remoteType, "ChordError");
      assert.match(e.message, new RegExp(`settle\\.batchy\\[${memberId}\\] was dead-lettered: Cannot run settle\\.batchy: it is a Batches task, .* cannot take part in a chord`));
      return true;
    });
    await assert.rejects(app.asyncResult(memberId).get({ timeout: 10 }), /Batches task/);
  });

  test("a member whose body cannot be decoded is found in its chord by task id and settled as dead-lettered", async () => {
    // The member's real message waits on a queue no worker consumes; an undecodable copy with
    // the same id and taskd-group (no embed can be read from it) is dead-lettered instead.
    const member = add.s(2, 2).set({ queue: "nobody-consumes" });
    const memberId = member.freeze().id!;
    const chordId = crypto.randomUUID();
    const r = await chord(group([add.s(1, 1), member]).set({ taskId: chordId }), collect.s("undecodable")).applyAsync();
    const nc = t.nc;
    const { jetstream } = await import("@nats-io/jetstream");
    const { headers } = await import("@nats-io/nats-core");
    const h = headers();
    for (const [k, v] of Object.entries({ "taskd-protocol": "1", "taskd-task": "settle.add", "taskd-id": memberId, "taskd-group": chordId, "Content-Type": "application/x-bogus" })) h.set(k, v);
    await jetstream(nc).publish(`${app.names.prefix}.tasks.${app.queueFor("settle.add")}`, new Uint8Array([1, 2, 3]), { headers: h });
    await assert.rejects(r.get({ timeout: 20 }), (e: TaskError) => {
      assert.equal(e.remoteType, "ChordError");
      assert.match(e.message, new RegExp(`1 of 2 header tasks did not succeed: header task settle\\.add\\[${memberId}\\] was dead-lettered: Cannot decode body`));
      return true;
    });
  });

  test("a chain in a chord header whose first step is revoked settles its chord member", async () => {
    const first = add.s(1, 1);
    const firstId = first.freeze().id!;
    await app.revoke(firstId);
    await sleep(300);
    const inner = chain(first, add.s(1));
    const r = await chord([add.s(5, 5), inner], collect.s("chain-in-chord")).applyAsync();
    await assert.rejects(r.get({ timeout: 20 }), (e: TaskError) => {
      assert.equal(e.remoteType, "ChordError");
      assert.match(e.message, new RegExp(`1 of 2 header tasks did not succeed: header task settle\\.add\\[.+\\] did not run: Chain stopped: settle\\.add\\[${firstId}\\] was revoked`));
      return true;
    });
  });
});
