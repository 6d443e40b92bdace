/**
 * Remote control and inspection through dist/taskd workers: the library's `app.control` and
 * the `taskd inspect` / `taskd control` commands, to all workers or one named with `-d`.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { add, app, hangForever, stamp } from "./fixtures/runtime_tasks.ts";
import { useTaskd } from "./helpers/env.ts";
import { eventually } from "./helpers/taskd.ts";

/** Per-test options: Bun's node:test shim defaults to 5 s. */
const T = { timeout: 60_000 };
/** Both workers by name: replies come back as soon as both answered (the box is loaded). */
const BOTH = { destination: ["c1@test", "c2@test"], timeout: 10 };

describe("remote control and inspection", () => {
  const t = useTaskd({ module: "runtime_tasks.ts", workers: [["-c", "4", "-n", "c1@test"], ["-c", "4", "-n", "c2@test", "--pool", "threads"]], apps: [app] });

  test("app.control.ping() gets one pong per worker; destination limits who answers", T, async () => {
    const all = await app.control.ping(BOTH);
    assert.deepEqual(Object.assign({}, ...all), { "c1@test": { ok: "pong" }, "c2@test": { ok: "pong" } });
    const t0 = Date.now();
    const one = await app.control.inspect({ destination: "c2@test", timeout: 5 }).ping();
    assert.deepEqual(one, { "c2@test": { ok: "pong" } });
    assert.ok(Date.now() - t0 < 4000, "a named destination returns as soon as it answered");
  });

  test("inspect registered, stats, scheduled and revoked answer per worker", T, async () => {
    const i = app.control.inspect(BOTH);
    const reg = await i.registered();
    assert.ok(reg["c1@test"]?.includes("rt.add") && reg["c2@test"]?.includes("rt.spin"), `registered: ${JSON.stringify(reg)}`);
    assert.equal(await (await add.delay(1, 2)).get({ timeout: 10 }), 3);
    // The count goes up once the worker has settled the message, just after the result is stored.
    const stats = await eventually(async () => {
      const s = await i.stats();
      return Number(s["c1@test"]?.processed) + Number(s["c2@test"]?.processed) >= 1 ? s : undefined;
    }, 10_000);
    assert.equal((stats["c1@test"].pool as { kind: string }).kind, "async");
    assert.equal((stats["c2@test"].pool as { kind: string }).kind, "threads");
    assert.equal((stats["c2@test"].pool as { threads: number }).threads, 4);
    const processed = Number(stats["c1@test"].processed) + Number(stats["c2@test"].processed);
    assert.ok(processed >= 1, `stats: ${JSON.stringify(stats)}`);
    assert.deepEqual(await i.scheduled(), { "c1@test": [], "c2@test": [] });
    const revoked = await i.revoked();
    assert.ok(Array.isArray(revoked["c1@test"]));
  });

  test("rate_limit set at run time spaces starts, and 0 removes it; reserved shows the waiting tasks", T, async () => {
    const set = await t.cli(["control", "rate_limit", "rt.stamp", "2/s"]);
    assert.equal(set.code, 0, set.stderr);
    assert.match(set.stdout, /c1@test: OK\n\s+new rate limit set successfully/);
    const sent = Date.now();
    const rs = await Promise.all(Array.from({ length: 10 }, () => stamp.delay()));
    const reserved = await eventually(async () => {
      const r = await app.control.inspect(BOTH).reserved();
      const ids = Object.values(r).flat().map((t) => t.id);
      return ids.length > 0 ? ids : undefined;
    }, 5000, 20);
    assert.ok(reserved.every((id) => rs.some((r) => r.id === id)));
    const starts = (await Promise.all(rs.map((r) => r.get({ timeout: 20 })))).sort((a, b) => a - b);
    // Two workers at 2/s each: one of them started at least 5, 0.5 s apart.
    assert.ok(starts[9] - sent >= 2000, `10 starts within ${starts[9] - sent} ms`);
    const off = await t.cli(["control", "rate_limit", "rt.stamp", "0"]);
    assert.equal(off.code, 0, off.stderr);
    const t0 = Date.now();
    const again = await Promise.all(Array.from({ length: 6 }, () => stamp.delay()));
    const s2 = (await Promise.all(again.map((r) => r.get({ timeout: 20 })))).sort((a, b) => a - b);
    assert.ok(s2[5] - t0 < 900, `unlimited starts took ${s2[5] - t0} ms`);
  });

  test("rate_limit for an unknown task or a bad rate is refused with a clear error", T, async () => {
    const unknown = await t.cli(["control", "rate_limit", "rt.nope", "2/s", "-d", "c1@test"]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /no task of that name is registered on c1@test/);
    const bad = await t.cli(["control", "rate_limit", "rt.stamp", "2/fortnight"]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /Cannot use rate limit '2\/fortnight'/);
    await assert.rejects(app.control.rateLimit("rt.stamp", "fast"), RangeError);
    const bogus = await t.cli(["inspect", "bogus"]);
    assert.equal(bogus.code, 1);
    assert.match(bogus.stderr, /Cannot inspect 'bogus': use one of ping, registered/);
    const replies = await app.control.broadcast("nope" as "ping", {}, { destination: "c1@test" });
    assert.match(String((replies[0]["c1@test"] as { error: string }).error), /unknown/);
  });

  test("app.control.revoke(id, { terminate }) stops a running task as REVOKED", T, async () => {
    const r = await hangForever.delay();
    await eventually(async () => Object.values(await app.control.inspect().active()).flat().some((t) => t.id === r.id), 10_000);
    const replies = await app.control.revoke(r.id, { terminate: true });
    assert.ok(replies.some((x) => Object.values(x).some((v) => (v as { terminated?: string[] }).terminated?.includes(r.id))));
    assert.equal(await eventually(async () => (await r.state) === "REVOKED" ? "REVOKED" : undefined, 10_000), "REVOKED");
    const known = await app.control.inspect(BOTH).revoked();
    assert.ok(known["c1@test"].includes(r.id) && known["c2@test"].includes(r.id));
  });

  test("control shutdown -d stops one worker warm; the other keeps answering", T, async () => {
    const res = await t.cli(["control", "shutdown", "-d", "c2@test"]);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /c2@test: OK\n\s+shutting down/);
    const [w1, w2] = t.workers;
    assert.equal(await w2.exited, 0);
    assert.match(w2.output, /workerProcessShutdown/);
    const ping = await app.control.ping();
    assert.deepEqual(Object.assign({}, ...ping), { "c1@test": { ok: "pong" } });
    await w1.stop();
    const none = await t.cli(["inspect", "ping", "--timeout", "0.5"]);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /No nodes replied within time constraint/);
  });
});
