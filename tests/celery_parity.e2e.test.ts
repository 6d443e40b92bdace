/**
 * Celery parity through dist/taskd: the idioms Celery users type and the corner cases of
 * Celery's own tests (t/unit/tasks/test_tasks.py, test_trace.py) — `throw self.retry(…)`, a
 * retry's own maxRetries inside autoretry, retryBackoff 0 and odd factors, Reject's signal,
 * ignored results, eager nesting, custom error fields, Request.onFailure on a hard time limit,
 * typing: false, duplicate names, Batches applied eagerly.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { connect } from "@nats-io/transport-node";
import { jetstream } from "@nats-io/jetstream";
import { headers as natsHeaders } from "@nats-io/nats-core";
import { App, EventReceiver, TaskError } from "../mod.ts";
import { encodeTask } from "../src/protocol/message.ts";
import { NatsServer } from "./helpers/server.ts";
import { eventually, fixture, runCli, startWorker, type WorkerProcess } from "./helpers/taskd.ts";
import * as parity from "./fixtures/parity_tasks.ts";

let server: NatsServer;
let worker: WorkerProcess;
let app: App;

async function failureOf(p: Promise<unknown>): Promise<TaskError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof TaskError, `not a TaskError: ${e}`);
    return e;
  }
  assert.fail("the task did not fail");
}

describe("Celery parity through dist/taskd", () => {
  before(async () => {
    server = await NatsServer.start();
    worker = await startWorker(server.url, fixture("parity_tasks.ts"), { args: ["-c", "8", "-n", "parity@test"] });
    parity.app.useBroker(server.url);
    app = new App("parity-client", { broker: server.url });
  });
  after(async () => {
    await app?.close();
    await parity.app.close();
    await worker?.stop();
    await server?.stop();
  });

  test("throw self.retry({ exc }) retries exactly like await self.retry(…)", async () => {
    const r = await parity.throwRetry.delay(21);
    assert.equal(await r.get({ timeout: 15 }), 42);
    assert.equal((await app.backend.get(r.id))?.retries, 1);
  });

  test("a thrown non-Error is named, never '[object Object]' or '[object Promise]'", async () => {
    const obj = await failureOf((await parity.throwPlain.delay("object")).get({ timeout: 15 }));
    assert.equal(obj.remoteType, "Object");
    assert.equal(obj.remoteMessage, 'a non-Error value was thrown: {"reason":"quota","left":0}');
    const str = await failureOf((await parity.throwPlain.delay("string")).get({ timeout: 15 }));
    assert.deepEqual([str.remoteType, str.remoteMessage], ["string", "boom"]);
  });

  test("retry({ exc, maxRetries: 0 }) inside an autoretry task fails at once with that exc", async () => {
    const r = await parity.ownMax.delay();
    const e = await failureOf(r.get({ timeout: 15 }));
    assert.deepEqual([e.remoteType, e.remoteMessage], ["RangeError", "give up now"]);
    assert.equal((await app.backend.get(r.id))?.retries, 0, "not autoretried after retry() raised it");
  });

  test("retryBackoff: 0 means no backoff; a negative factor is read as Celery reads it", async () => {
    const t0 = Date.now();
    const none = await parity.noBackoff.delay();
    const e = await failureOf(none.get({ timeout: 15 }));
    assert.equal(e.remoteType, "TypeError");
    assert.equal((await app.backend.get(none.id))?.retries, 1);
    assert.ok(Date.now() - t0 < 5000, "retried after the 0.2 s countdown, not a backoff");
    const odd = await parity.oddBackoff.delay();
    const e2 = await failureOf(odd.get({ timeout: 15 }));
    assert.equal(e2.remoteType, "TypeError", "never a RangeError from the backoff");
    assert.equal((await app.backend.get(odd.id))?.retries, 1);
  });

  test("Reject(requeue: false) stores FAILURE and sends taskFailure", async () => {
    const r = await parity.reject.delay();
    const e = await failureOf(r.get({ timeout: 15 }));
    assert.equal(e.remoteType, "Reject");
    assert.equal(await app.asyncResult(`taskFailure-${r.id}`).get({ timeout: 10 }), "Reject");
  });

  test("applyAsync(…, { ignoreResult: true }).get() returns null at once", async () => {
    const r = await parity.throwRetry.applyAsync([1], { ignoreResult: true });
    const t0 = Date.now();
    assert.equal(await r.get({ timeout: 10 }), null);
    // With ignoreResult nothing is ever stored: a get() that waited would take its 10 s timeout.
    assert.ok(Date.now() - t0 < 2000, `${Date.now() - t0} ms`);
  });

  test("apply() nested in a run: parentId is the caller's id, rootId the outermost", async () => {
    const r = await parity.outer.delay();
    const got = await r.get({ timeout: 15 }) as { self: string; root: string; inner: { parentId: string; rootId: string } };
    assert.equal(got.inner.parentId, r.id);
    assert.equal(got.inner.rootId, got.root ?? r.id);
    const eager = await parity.outer.apply();
    const value = await eager.get() as typeof got;
    assert.deepEqual([value.inner.parentId, value.inner.rootId], [eager.id, eager.id]);
  });

  test("an error's own fields (statusCode, code, …) travel to TaskError.data", async () => {
    const e = await failureOf((await parity.upstream.delay()).get({ timeout: 15 }));
    assert.deepEqual(e.data, { statusCode: 503, code: "EUPSTREAM", body: { retryAfter: 30 } });
  });

  test("a custom Request's onFailure hears of a hard time limit, in the worker", async () => {
    const r = await parity.slow.delay();
    const e = await failureOf(r.get({ timeout: 15 }));
    assert.equal(e.remoteType, "TimeLimitExceeded");
    assert.equal(await app.asyncResult(`onFailure-${r.id}`).get({ timeout: 10 }), "TimeLimitExceeded");
  });

  test("typing: false turns off the client's check only: the worker refuses a call that cannot bind", async () => {
    // @ts-expect-error: three arguments to a task of two (what typing: false lets through)
    const r = await parity.loose.delay(1, 2, 3);
    const e = await failureOf(r.get({ timeout: 15 }));
    assert.equal(e.remoteType, "TypeError");
    assert.match(e.remoteMessage, /Cannot call parity\.loose/);
    const dead = await eventually(async () => {
      const out = await runCli(server.url, ["dead", "list", "--json"]);
      return out.stdout.split("\n").filter(Boolean).map((l) => JSON.parse(l) as { id?: string }).find((d) => d.id === r.id);
    });
    assert.equal(dead.id, r.id);
  });

  test("two tasks under one name in one App: an error naming both", () => {
    const local = new App("dupes");
    local.task({ name: "dupes.same" }, function first() {});
    assert.throws(() => local.task({ name: "dupes.same" }, function second() {}), {
      name: "TypeError",
      message: 'Cannot register function second as dupes.same in app dupes: function first is registered under that name already; give one of them another name ({ name: "…" })',
    });
  });

  test("a Batches task's apply([x]) runs the batch function on one request and returns its value", async () => {
    const r = await parity.counted.apply([7]);
    assert.deepEqual(await r.get(), [7]);
  });

  test("shadow: logs and events show the shadow name for the call", async () => {
    const events = await EventReceiver.open(app, "task.>");
    const names: string[] = [];
    const reading = (async () => {
      for await (const e of events) if (e.type === "task-succeeded") names.push(String((e as { name?: string }).name));
    })();
    const r = await parity.long.applyAsync([], { shadow: "reports.monthly" });
    await r.get({ timeout: 15 });
    await eventually(() => worker.output.includes(`Task reports.monthly[${r.id}] succeeded`));
    await eventually(() => names.includes("reports.monthly"));
    events.close();
    await reading;
  });

  test("resultReprMaxsize bounds the result shown in events", async () => {
    const events = await EventReceiver.open(app, "task.>");
    let shown: string | undefined;
    const reading = (async () => {
      for await (const e of events) if (e.type === "task-succeeded" && (e as { id?: string }).id) shown = String((e as { result?: string }).result);
    })();
    await (await parity.long.delay()).get({ timeout: 15 });
    await eventually(() => shown);
    events.close();
    await reading;
    assert.equal(shown!.length, 12);
    assert.ok(shown!.endsWith("…"));
  });

  test("a task-level expires applies when the call sets none", async () => {
    const late = await parity.shortLived.applyAsync([], { countdown: 2 });
    await assert.rejects(late.get({ timeout: 15 }), { name: "TaskRevokedError" });
    assert.equal(await late.state, "REVOKED");
    const kept = await parity.shortLived.applyAsync([], { countdown: 2, expires: 30 });
    assert.equal(await kept.get({ timeout: 15 }), "ran", "the call's own expires wins");
  });

  test("acksOnFailureOrTimeout: false leaves a failed late-acked message for redelivery", async () => {
    const r = await parity.secondChance.delay();
    // The first run's FAILURE is stored, as in Celery; the redelivered run then succeeds.
    await eventually(async () => (await r.state) === "SUCCESS", 30_000);
    assert.match(String(await r.result), /^delivery [2-9]/);
  });

  test("a compression registered with registerCompression travels end to end", async () => {
    const text = "a".repeat(5000);
    const r = await parity.squeezed.delay(text);
    assert.equal(await r.get({ timeout: 15 }), 5000);
    await eventually(() => worker.output.includes(`parity.squeezed[${r.id}] succeeded`));
  });

  test("validateContext reaches valibot's parse; validateDump shapes the stored return", async () => {
    const r = await parity.modelled.delay(2, 3);
    assert.deepEqual(await r.get({ timeout: 15 }), { sum: 5, at: "dumped by the task" });
    const bad = await app.sendTask("parity.modelled", ["x", "y"]);
    const e = await failureOf(bad.get({ timeout: 15 }));
    assert.equal(e.remoteType, "TaskValidationError");
    assert.equal((e.data as { issues: unknown[] }).issues.length, 1, "abortEarly: valibot stopped at the first issue");
  });

  test("celerydInit handlers change the worker's conf before it applies it (prefetch)", async () => {
    const stats = (await app.control.inspect({ destination: ["parity@test"] }).stats())["parity@test"] as { prefetchCount: number };
    assert.equal(stats.prefetchCount, 16, "-c 8 × the multiplier 2 the handler set");
  });

  test("a celerydAfterSetup handler adds a queue the worker then consumes", async () => {
    assert.equal(await (await parity.own.delay()).get({ timeout: 15 }), "from my own queue");
  });

  test("heartbeatSent carries its event", async () => {
    assert.equal(await app.asyncResult("heartbeat-parity_test").get({ timeout: 10 }), "worker-heartbeat");
  });

  test("taskInternalError carries Celery's arguments: taskId, args, kwargs, request, exception, traceback, einfo", async () => {
    const nc = await connect({ servers: server.url });
    try {
      const wire = encodeTask({ id: "bad id!", task: "parity.long", retries: 0, queue: "default", args: [], kwargs: {}, embed: {} });
      const h = natsHeaders();
      for (const [k, v] of Object.entries(wire.headers)) h.set(k, v);
      await jetstream(nc).publish("taskd.tasks.default", wire.data, { headers: h });
    } finally {
      await nc.close();
    }
    // The id cannot be a result key: storing fails for good, and the signal says so.
    assert.deepEqual(await app.asyncResult("internal-bad_id_").get({ timeout: 10 }), { exception: "TypeError", traceback: true, einfo: "TypeError", request: "bad id!", args: [] });
  });

  test("a task's console.log goes through the task logger, with its name and id (worker_redirect_stdouts)", async () => {
    const r = await parity.chatty.delay("hello");
    assert.equal(await r.get({ timeout: 15 }), "hello");
    await eventually(() => worker.output.includes(`WARN] parity.chatty[${r.id}]: said hello`));
    const threads = await startWorker(server.url, fixture("parity_tasks.ts"), { args: ["--pool", "threads", "-c", "1", "-Q", "parity-threads", "-n", "threads@test"] });
    try {
      const t = await parity.chatty.applyAsync(["there"], { queue: "parity-threads" });
      assert.equal(await t.get({ timeout: 15 }), "there");
      await eventually(() => threads.output.includes(`WARN] parity.chatty[${t.id}]: said there`), 10_000);
    } finally {
      await threads.stop();
    }
  });

  test("sharedTask: a library's task is registered on the app that serves it and called through the current app", async () => {
    parity.app.setCurrent(); // outside a task, shared tasks go through the current app (Celery's set_current)
    assert.equal(await (await parity.double.delay(21)).get({ timeout: 15 }), 42);
    assert.equal(parity.double.name, "parity.double");
    assert.ok(parity.app.tasks.has("parity.double"));
    const later = new App("later-app");
    try {
      assert.ok(later.tasks.has("later-app.double"), "an App created after the definition gets it too");
      assert.equal(parity.double.name, "later-app.double", "a new App is the current one");
    } finally {
      await later.close();
    }
  });

  test("an expired call whose result is ignored still ends REVOKED under storeErrorsEvenIfIgnored", async () => {
    const r = await parity.quiet.applyAsync([], { countdown: 1, expires: 0.5 });
    await eventually(async () => (await r.state) === "REVOKED", 15_000);
  });

  test("a redelivered attempt of a task that already succeeded is acked, not run again; its follow-ups run", async () => {
    // Take the message as a worker would, record its SUCCESS, and hand it back unacked: what a
    // lost ack (a crashed server, a worker killed after storing) brings back.
    const queue = "parity-redelivery";
    const r = await parity.chatty.applyAsync(["again"], { queue, link: parity.chatty.si("after-done") });
    const broker = await parity.app.broker();
    await broker.ensureQueueConsumer(queue);
    const m = await (await broker.queueConsumer(queue)).next({ expires: 5000 });
    assert.ok(m, "the message is on the server");
    await parity.app.backend.store({ taskId: r.id, taskName: "parity.chatty", status: "SUCCESS", result: "again", retries: 0, dateDone: new Date().toISOString() });
    m.nak();
    const w = await startWorker(server.url, fixture("parity_tasks.ts"), { args: ["-c", "1", "-Q", queue, "-n", "redelivery@test"] });
    try {
      await eventually(() => w.output.includes(`parity.chatty[${r.id}] redelivered after it succeeded (retries 0): acked, not run again`), 15_000);
      assert.doesNotMatch(w.output, /said again/, "the body did not run");
      // Its follow-ups run (the worker that stored the result may have died before sending them).
      await eventually(() => worker.output.includes("said after-done"), 15_000);
      assert.equal(await r.result, "again");
    } finally {
      await w.stop();
    }
  });
});
