/**
 * The walking skeleton, end to end: the compiled binary as worker and CLI, the library as
 * client (Bun or Deno, whichever runs this file), a real nats-server.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { headers } from "@nats-io/nats-core";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { App, BrokerError, NotRegistered, PayloadTooLargeError, TaskError } from "../mod.ts";
import { add, app, Auth, big, fail, named, scale, sleep } from "./fixtures/tasks.ts";
import { isListening } from "../src/nats/devserver.ts";
import { NatsServer } from "./helpers/server.ts";
import { startTaskd, useTaskd } from "./helpers/env.ts";
import { eventually, fixture, runCli, startWorker } from "./helpers/taskd.ts";

describe("walking skeleton through dist/taskd", () => {
  const t = useTaskd({ module: "tasks.ts", args: ["-c", "20", "-Q", "default", "-n", "w1@test"], apps: [app] });

  test("the worker prints one ready line with its node name, queues and task count", () => {
    const lines = t.worker.output.split("\n").filter((l) => l.includes("ready"));
    assert.equal(lines.length, 1);
    assert.match(lines[0], /w1@test/);
    assert.match(lines[0], /default/);
    assert.match(lines[0], /8 registered tasks/);
  });

  test("taskd call --wait prints the result; without --wait it prints the id", async () => {
    const waited = await t.cli(["call", "tasks.add", "2", "3", "--wait", "--timeout", "20"]);
    assert.equal(waited.code, 0, waited.stderr);
    assert.equal(waited.stdout.trim(), "5");
    const sent = await t.cli(["call", "tasks.add", "2", "3"]);
    assert.equal(sent.code, 0, sent.stderr);
    const id = sent.stdout.trim();
    assert.match(id, /^[0-9a-f-]{36}$/);
    const res = await t.cli(["result", id, "--wait", "--timeout", "20"]);
    assert.equal(res.stdout.trim(), "5");
    const state = await t.cli(["result", id]);
    assert.deepEqual(state.stdout.trim().split("\n"), ["SUCCESS", "5"]);
  });

  test("call passes JSON arguments and --kwargs; strings stay strings", async () => {
    const r = await t.cli(["call", "tasks.scale", "4", "--kwargs", '{"factor":3}', "--wait", "--timeout", "20"]);
    assert.equal(r.stdout.trim(), "12", r.stderr);
    const auth = await t.cli(["call", "tasks.NaiveAuthenticateServer", "george", "password", "--wait", "--timeout", "20"]);
    assert.equal(auth.stdout.trim(), "true", auth.stderr);
    const echo = await t.cli(["call", "tasks.echo", "[1,2]", "hello", '{"a":1}', "--wait", "--timeout", "20"]);
    assert.deepEqual(JSON.parse(echo.stdout), [[1, 2], "hello", { a: 1 }]);
  });

  test("the library sends, names and reads tasks: delay, applyAsync with kwargs, sendTask, asyncResult", async () => {
    assert.equal(add.name, "tasks.add");
    assert.equal(named.name, "math.mul");
    assert.equal(Auth.name, "tasks.NaiveAuthenticateServer");
    const r = await add.delay(2, 3);
    assert.equal(await r.get({ timeout: 20 }), 5);
    assert.equal(await r.state, "SUCCESS");
    assert.equal(await r.ready(), true);
    assert.equal(await r.successful(), true);
    assert.equal("then" in r, false, "an AsyncResult is not a promise");
    assert.equal(await (await scale.applyAsync([4], { kwargs: { factor: 3 } })).get({ timeout: 20 }), 12);
    assert.equal(await (await named.delay(6, 7)).get({ timeout: 20 }), 42);
    assert.equal(await (await Auth.delay("george", "wrong")).get({ timeout: 20 }), false);
    const byName = await app.sendTask("tasks.add", [20, 22]);
    assert.equal(await app.asyncResult(byName.id).get({ timeout: 20 }), 42);
  });

  test("a failure re-throws a TaskError with the remote type, message and stack; propagate: false returns it", async () => {
    const r = await fail.delay("bad input");
    await assert.rejects(r.get({ timeout: 20 }), (e: unknown) => {
      assert.ok(e instanceof TaskError);
      assert.equal(e.remoteType, "TypeError");
      assert.equal(e.remoteMessage, "bad input");
      assert.match(e.remoteStack ?? "", /fail/);
      return true;
    });
    assert.equal(await r.state, "FAILURE");
    assert.equal(await r.failed(), true);
    const value: unknown = await r.get({ timeout: 5, propagate: false });
    assert.ok(value instanceof TaskError);
  });

  test("forget() deletes the stored result", async () => {
    const r = await add.delay(1, 1);
    assert.equal(await r.get({ timeout: 20 }), 2);
    await r.forget();
    assert.equal(await r.state, "PENDING");
  });

  test("wrong number of arguments is refused before anything is sent", async () => {
    const jsm = await jetstreamManager(t.nc);
    const before = (await jsm.streams.info("TASKD_TASKS")).state.last_seq;
    // deno-lint-ignore no-explicit-any
    await assert.rejects((add as any).delay(1), { name: "TypeError", message: /Cannot call tasks\.add: expected 2 arguments, got 1/ });
    // deno-lint-ignore no-explicit-any
    await assert.rejects((add as any).delay(1, 2, 3), /expected 2 arguments, got 3/);
    assert.equal((await jsm.streams.info("TASKD_TASKS")).state.last_seq, before);
  });

  test("an unknown task name fails with NotRegistered, is dead-lettered, and the worker keeps serving", async () => {
    const r = await app.sendTask("tasks.does_not_exist", [1]);
    await assert.rejects(r.get({ timeout: 20 }), (e: unknown) => e instanceof TaskError && e.remoteType === "NotRegistered");
    const dead = await eventually(async () => (await t.deadLetters()).find((d) => d.task === "tasks.does_not_exist"));
    assert.match(dead.reason, /no task of that name is registered/);
    assert.equal(await (await add.delay(3, 4)).get({ timeout: 20 }), 7);
    assert.ok(new NotRegistered("x") instanceof Error);
  });

  test("a message that does not decode is dead-lettered with the reason, and the worker lives on", async () => {
    const js = jetstream(t.nc);
    await js.publish("taskd.tasks.default", new TextEncoder().encode("not a task"));
    const h = headers();
    h.set("taskd-protocol", "1");
    h.set("taskd-task", "tasks.add");
    h.set("taskd-id", "garbage-body-1");
    h.set("Content-Type", "application/x-msgpack");
    await js.publish("taskd.tasks.default", new Uint8Array([0xc1, 0xff, 0x00]), { headers: h });
    const dead = await eventually(async () => {
      const d = await t.deadLetters();
      return d.some((x) => /no taskd-protocol header/.test(x.reason)) && d.some((x) => /Cannot decode body/.test(x.reason)) ? d : undefined;
    });
    assert.ok(dead.length >= 2);
    await assert.rejects(app.asyncResult("garbage-body-1").get({ timeout: 20 }), (e: unknown) => e instanceof TaskError && e.remoteType === "ProtocolError");
    assert.equal(await (await add.delay(5, 5)).get({ timeout: 20 }), 10);
    assert.equal(t.worker.proc.exitCode, null);
  });

  test("a payload over the server's max_payload is refused on the client before publishing", async () => {
    const huge = "y".repeat(2 * 1024 * 1024);
    await assert.rejects(sleep.delay(huge as unknown as number), (e: unknown) => {
      assert.ok(e instanceof PayloadTooLargeError);
      assert.match((e as Error).message, /max_payload/);
      return true;
    });
    assert.ok(big.name);
  });

  test("a client with no reachable broker fails with a clear error within its timeout", async () => {
    const lonely = new App("lonely", { broker: "nats://127.0.0.1:1", connectTimeout: 2 });
    try {
      const t0 = Date.now();
      await assert.rejects(lonely.sendTask("tasks.add", [1, 2]), (e: unknown) => e instanceof BrokerError && /Cannot connect to the broker/.test((e as Error).message));
      assert.ok(Date.now() - t0 < 10_000);
    } finally {
      await lonely.close();
    }
    const cli = await runCli("nats://127.0.0.1:1", ["call", "tasks.add", "1", "2"]);
    assert.notEqual(cli.code, 0);
    assert.equal(cli.stderr.trim().split("\n").length, 1);
    assert.match(cli.stderr, /^taskd: Cannot connect to the broker/);
  });

  test("a task module may import its own relative files and packages from node_modules", async () => {
    const w = await t.startWorker(["-Q", "deps"], { module: "local_dep.ts" });
    try {
      const r = await t.cli(["call", "dep.twice", "21", "--queue", "deps", "--wait", "--timeout", "20"]);
      assert.deepEqual(JSON.parse(r.stdout), { doubled: 42, packed: true });
    } finally {
      await w.stop();
    }
  });

  test("a module that fails to load: the worker exits non-zero naming the file and the error", async () => {
    const w = await t.startWorker([], { module: "broken_module.ts", waitReady: false });
    const code = await w.exited;
    assert.notEqual(code, 0);
    assert.match(w.output, /broken_module\.ts/);
    assert.match(w.output, /boom while loading the module/);
    const missing = await t.startWorker([], { module: "nope.ts", waitReady: false });
    assert.notEqual(await missing.exited, 0);
    assert.match(missing.output, /Cannot load .*nope\.ts: no such file/);
  });

  test("warm shutdown: SIGTERM lets the running task finish, stores its result and exits 0", async () => {
    const w = await t.startWorker(["-Q", "slowq", "-n", "warm@test"]);
    try {
      const r = await sleep.applyAsync([1500], { queue: "slowq" });
      await eventually(async () => (await r.state) !== "PENDING" || w.output.includes("slowq") , 5000);
      await new Promise((res) => setTimeout(res, 300));
      w.signal("SIGTERM");
      assert.equal(await w.exited, 0);
      assert.equal(await r.get({ timeout: 5 }), 1500);
      assert.match(w.output, /warm shutdown/);
    } finally {
      await w.stop();
    }
  });
});

describe("worker and broker outages", () => {
  test("a worker started before its broker retries visibly and serves once the server is up", async () => {
    const srv = await NatsServer.start();
    await srv.kill();
    const w = await startWorker(srv.url, fixture("tasks.ts"), { waitReady: false, args: ["-n", "early@test"] });
    const client = new App("outage", { broker: srv.url });
    try {
      await w.waitFor(/Cannot connect to the broker.*retrying/, 20_000);
      await srv.restart();
      await w.waitFor(/ready: consuming/, 30_000);
      const r = await client.sendTask("tasks.add", [40, 2]);
      assert.equal(await r.get({ timeout: 20 }), 42);
      // The server goes away under a connected worker and comes back with its store.
      await srv.kill();
      await w.waitFor(/lost the broker connection/, 20_000);
      await srv.restart();
      await w.waitFor(/reconnected to the broker/, 30_000);
      await client.close();
      const again = await client.sendTask("tasks.add", [1, 2]);
      assert.equal(await again.get({ timeout: 30 }), 3);
    } finally {
      await client.close();
      await w.stop();
      await srv.stop();
    }
  });
});

describe("Deno runs the same worker from source", () => {
  test("deno run -A src/cli/main.ts worker serves tasks", async () => {
    await using t = await startTaskd({ connect: false });
    const w = await t.startWorker(["-n", "deno@test"], { module: "tasks.ts", kind: "deno" });
    const r = await t.cli(["call", "tasks.add", "2", "3", "--wait", "--timeout", "20"]);
    assert.equal(r.stdout.trim(), "5", r.stderr);
    assert.match(w.output, /deno@test ready/);
  });
});

// The dev server's port is fixed: when something else owns 4222, the behaviour cannot be observed.
const devPortTaken = await isListening("127.0.0.1", 4222);

describe("the dev server", () => {
  const skip = devPortTaken ? "port 4222 is in use by another process: stop it to run this test" : false;
  test("with no broker configured, taskd worker starts nats-server under .taskd/ and other commands find it", { skip }, async () => {
    if (await isListening("127.0.0.1", 4222)) assert.fail("port 4222 was taken while the suite ran; stop whatever listens there to run this test");
    const dir = mkdtempSync(join(tmpdir(), "taskd-dev-"));
    const w = await startWorker(undefined, fixture("tasks.ts"), { cwd: dir, args: ["-n", "dev@test"] });
    try {
      assert.match(w.output, /started the dev server/);
      const r = await runCli(undefined, ["call", "tasks.add", "2", "3", "--wait", "--timeout", "20"], { cwd: tmpdir() });
      assert.equal(r.stdout.trim(), "5", r.stderr);
    } finally {
      assert.equal(await w.stop(), 0);
    }
    await eventually(async () => !(await isListening("127.0.0.1", 4222)), 10_000);
  });
});
