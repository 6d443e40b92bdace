/**
 * The worker runtime through dist/taskd, the same behaviour tests for both pools: hard and
 * soft time limits, per-worker rate limits, fairness behind a long task, inspect and
 * revoke --terminate. Only the threads pool can stop a CPU-bound `while (true) {}`: that test
 * runs there alone (the async pool documents it).
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { TaskError } from "../mod.ts";
import { add, app, flaky, handled, hang, hangForever, limited, lostOnce, nap, patient, spin, spinForever, stray } from "./fixtures/runtime_tasks.ts";
import { useTaskd } from "./helpers/env.ts";
import { eventually } from "./helpers/taskd.ts";

/** Per-test options: Bun's node:test shim defaults to 5 s. */
const T = { timeout: 60_000 };

function isTimeLimit(e: unknown): boolean {
  return e instanceof TaskError && e.remoteType === "TimeLimitExceeded";
}

for (const pool of ["async", "threads"] as const) {
  describe(`worker runtime, ${pool} pool`, () => {
    const node = `rt-${pool}@test`;

    const t = useTaskd({ module: "runtime_tasks.ts", args: ["--pool", pool, "-c", "2", "-n", node], apps: [app] });

    test("the ready line names the pool; workerProcessInit fired once per execution unit", T, () => {
      assert.match(t.worker.output, new RegExp(`${node} ready: .*\\(${pool} pool, concurrency 2`));
      const inits = t.worker.output.split("\n").filter((l) => l.includes("workerProcessInit")).length;
      assert.equal(inits, pool === "threads" ? 2 : 1);
    });

    test("retries, handlers and signals behave as in every pool", T, async () => {
      const r = await flaky.delay();
      assert.equal(await r.get({ timeout: 20 }), 1);
      await t.worker.waitFor(`taskPostrun ${r.id} state=RETRY`, 5000);
      await t.worker.waitFor(`taskPostrun ${r.id} state=SUCCESS`, 5000);
      const h = await handled.delay(21);
      assert.equal(await h.get({ timeout: 10 }), 42);
      await t.worker.waitFor(`onSuccess ${h.id} 42`, 5000);
    });

    test("a task past its hard time limit fails with TimeLimitExceeded, onTimeout runs, and the next task runs", T, async () => {
      const t0 = Date.now();
      const r = await hang.delay();
      await assert.rejects(r.get({ timeout: 20 }), isTimeLimit);
      const took = Date.now() - t0;
      assert.ok(took >= 1000, `failed after ${took} ms, before its 1 s limit`);
      assert.ok(took < 8000, `took ${took} ms`);
      assert.equal(await r.state, "FAILURE");
      await t.worker.waitFor(`onTimeout soft=false timeout=1 id=${r.id}`, 5000);
      assert.equal(await (await add.delay(2, 3)).get({ timeout: 10 }), 5);
    });

    if (pool === "threads") {
      test("while (true) {} with timeLimit 1 fails with TimeLimitExceeded within seconds and the next task runs", T, async () => {
        const t0 = Date.now();
        const r = await spin.delay();
        await assert.rejects(r.get({ timeout: 20 }), isTimeLimit);
        const took = Date.now() - t0;
        assert.ok(took >= 1000 && took < 8000, `took ${took} ms`);
        // Both slots work again: two tasks at once still complete.
        const [a, b] = await Promise.all([add.delay(1, 1), add.delay(2, 2)]);
        assert.deepEqual(await Promise.all([a.get({ timeout: 10 }), b.get({ timeout: 10 })]), [2, 4]);
        await eventually(() => t.worker.output.split("\n").filter((l) => l.includes("workerProcessInit")).length >= 3, 10_000);
      });
    }

    test("an error thrown outside any task never takes the worker down", T, async () => {
      const r = await stray.delay();
      const expected = pool === "threads" ? "WorkerLostError" : "TimeLimitExceeded";
      await assert.rejects(r.get({ timeout: 20 }), (e: unknown) => e instanceof TaskError && e.remoteType === expected);
      assert.equal(await (await add.delay(3, 4)).get({ timeout: 10 }), 7);
    });

    if (pool === "threads") {
      test("acksLate + rejectOnWorkerLost: a task whose thread died is delivered again", T, async () => {
        const r = await lostOnce.delay();
        assert.equal(await r.get({ timeout: 20 }), "second delivery");
      });
    }

    test("the soft time limit aborts request.signal with SoftTimeLimitExceeded and calls onTimeout(true)", T, async () => {
      const r = await patient.delay();
      assert.deepEqual(await r.get({ timeout: 20 }), { name: "SoftTimeLimitExceeded", isSoft: true });
      await t.worker.waitFor(`onTimeout soft=true timeout=0.5 id=${r.id}`, 5000);
    });

    test('10 tasks at "5/s" take at least 1.8 s to start', T, async () => {
      const sent = Date.now();
      const results = await Promise.all(Array.from({ length: 10 }, () => limited.delay()));
      const starts = (await Promise.all(results.map((r) => r.get({ timeout: 30 })))).sort((a, b) => a - b);
      const last = starts[9];
      assert.ok(last - sent >= 1800, `the 10th started ${last - sent} ms after sending`);
      assert.ok(last - starts[0] >= 1700, `starts spread over only ${last - starts[0]} ms`);
      assert.ok(last - sent < 10_000, `the 10th started ${last - sent} ms after sending`);
    });

    test("8 short tasks finish promptly behind one long one", T, async () => {
      const long = await nap.delay(5000);
      await eventually(async () => {
        const active = await app.control.inspect({ destination: node }).active();
        return active[node]?.some((t) => t.id === long.id);
      }, 10_000);
      const t0 = Date.now();
      const shorts = await Promise.all(Array.from({ length: 8 }, (_, i) => add.delay(i, i)));
      assert.deepEqual(await Promise.all(shorts.map((r) => r.get({ timeout: 20 }))), [0, 2, 4, 6, 8, 10, 12, 14]);
      const took = Date.now() - t0;
      assert.ok(took < 3500, `the short tasks took ${took} ms behind a 5 s one`);
      assert.equal(await long.ready(), false, "the long task should still run");
      await long.get({ timeout: 20 });
    });

    test("inspect ping names the worker; registered lists the tasks; active shows a running id", T, async () => {
      const ping = await t.cli(["inspect", "ping", "--timeout", "3"]);
      assert.equal(ping.code, 0, ping.stderr);
      assert.match(ping.stdout, new RegExp(`-> ${node}: OK pong`));
      const reg = await t.cli(["inspect", "registered", "-d", node]);
      assert.equal(reg.code, 0, reg.stderr);
      for (const name of ["rt.add", "rt.spin", "rt.hang", "rt.limited", "rt.nap"]) assert.match(reg.stdout, new RegExp(`\\* ${name.replace(".", "\\.")}\\n`));
      const r = await nap.delay(1500);
      const found = await eventually(async () => {
        const act = await t.cli(["inspect", "active", "-d", node]);
        return act.stdout.includes(r.id) ? act.stdout : undefined;
      }, 10_000, 100);
      assert.match(found, new RegExp(`rt\\.nap\\[${r.id}\\]`));
      await r.get({ timeout: 20 });
    });

    test("revoke --terminate ends a running task as REVOKED, fires taskRevoked, and the worker goes on", T, async () => {
      const body = pool === "threads" ? spinForever : hangForever;
      const r = await body.delay();
      await eventually(async () => (await app.control.inspect({ destination: node }).active())[node]?.some((t) => t.id === r.id), 10_000);
      const cli = await t.cli(["revoke", r.id, "--terminate"]);
      assert.equal(cli.code, 0, cli.stderr);
      assert.match(cli.stdout, /terminated/);
      await assert.rejects(r.get({ timeout: 10 }), (e: Error) => e.name === "TaskRevokedError" || /revoked/i.test(e.message));
      assert.equal(await r.state, "REVOKED");
      await t.worker.waitFor(`taskRevoked ${r.id} terminated=true`, 5000);
      assert.equal(await (await add.delay(20, 22)).get({ timeout: 10 }), 42);
    });
  });
}
