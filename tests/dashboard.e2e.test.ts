/**
 * The dashboard's HTTP side through dist/taskd: `--auth` on every route, the JSON API and its
 * 404s, CSRF on POSTs, `/metrics` names from API.md, `/healthz`, and task history that survives
 * a dashboard restart (it lives in the `<PREFIX>_HISTORY` stream on the server).
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { group } from "../mod.ts";
import { add, app, once, order } from "./fixtures/dashboard_tasks.ts";
import { freePort, NatsServer } from "./helpers/server.ts";
import { eventually, fixture, startWorker, type WorkerProcess } from "./helpers/taskd.ts";
import { DashboardProcess } from "./helpers/dashboard.ts";

const T = { timeout: 60_000 };
const AUTH = "admin:s3cret";
const BASIC = "Basic " + btoa(AUTH);

describe("dashboard HTTP API", () => {
  let server: NatsServer;
  let worker: WorkerProcess;
  let dash: DashboardProcess;
  let port: number;

  const get = (path: string, headers: Record<string, string> = { authorization: BASIC }) => fetch(dash.url + path, { headers });
  const json = async (path: string) => {
    const r = await get(path);
    assert.equal(r.status, 200, `${path}: ${r.status}`);
    return await r.json();
  };
  const token = async () => (await json("/api/csrf")).token as string;
  const post = (path: string, body: unknown, headers: Record<string, string>) =>
    fetch(dash.url + path, { method: "POST", headers: { authorization: BASIC, "content-type": "application/json", ...headers }, body: JSON.stringify(body) });

  before(async () => {
    server = await NatsServer.start();
    process.env.TASKD_BROKER_URL = server.url;
    port = await freePort();
    [dash, worker] = await Promise.all([
      DashboardProcess.start(server.url, port, ["--auth", AUTH]),
      startWorker(server.url, fixture("dashboard_tasks.ts"), { args: ["-n", "w1@api"] }),
    ]);
  });

  after(async () => {
    await app.close();
    await dash?.stop();
    await worker?.stop();
    await server?.stop();
    delete process.env.TASKD_BROKER_URL;
  });

  test("binds 127.0.0.1 by default; --auth guards every page and API call (401 without it)", T, async () => {
    assert.match(dash.output, /listening on http:\/\/127\.0\.0\.1:\d+\/ \(basic auth\)/);
    for (const path of ["/", "/tasks", "/api/tasks", "/api/tasks/x", "/api/workers", "/api/events", "/metrics", "/healthz", "/assets/app.js"]) {
      const none = await get(path, {});
      assert.equal(none.status, 401, path);
      assert.match(none.headers.get("www-authenticate") ?? "", /Basic/);
      await none.body?.cancel();
      const wrong = await get(path, { authorization: "Basic " + btoa("admin:nope") });
      assert.equal(wrong.status, 401, path);
      await wrong.body?.cancel();
    }
    const ok = await get("/");
    assert.equal(ok.status, 200);
    assert.match(await ok.text(), /<meta name="taskd-csrf" content="[^"]+">/);
  });

  test("the JSON API lists, filters, pages and details tasks; unknown ids and routes are 404 JSON", T, async () => {
    const sums = await Promise.all([1, 2, 3].map((i) => add.applyAsync([i, 100], { argsrepr: `(${i}, 100)` })));
    for (const r of sums) await r.get({ timeout: 10 });
    const bad = await order.applyAsync(["gears"], { argsrepr: "('gears',)" });
    await assert.rejects(bad.get({ timeout: 10 }));
    const all = await eventually(async () => {
      const page = await json("/api/tasks?limit=10");
      return page.tasks.length >= 4 && page.tasks.every((t: { state: string }) => t.state === "SUCCESS" || t.state === "FAILURE") ? page : undefined;
    });
    assert.equal(all.tasks[0].id, bad.id, "newest first");
    assert.deepEqual((await json("/api/tasks?state=FAILURE")).tasks.map((t: { id: string }) => t.id), [bad.id]);
    assert.deepEqual((await json(`/api/tasks?q=${encodeURIComponent("args:(2, 100)")}`)).tasks.map((t: { id: string }) => t.id), [sums[1].id]);
    assert.equal((await json("/api/tasks?name=dash.add&worker=w1@api")).tasks.length, 3);
    const paged = await json("/api/tasks?limit=2&offset=1");
    assert.deepEqual(paged.tasks.map((t: { id: string }) => t.id), [sums[2].id, sums[1].id]);
    assert.equal(paged.more, true);
    const detail = await json(`/api/tasks/${bad.id}`);
    assert.equal(detail.task.state, "FAILURE");
    assert.equal(detail.task.attempts.length, 1);
    assert.equal(detail.task.attempts[0].worker, "w1@api");
    assert.match(detail.stored.traceback, /RangeError: out of stock: gears/);
    for (const path of ["/api/tasks/no-such-task", "/api/tasks/bad%20id", "/api/dead/999999", "/api/nothing"]) {
      const r = await get(path);
      assert.equal(r.status, 404, path);
      assert.match(r.headers.get("content-type") ?? "", /application\/json/);
      assert.ok((await r.json()).error, path);
    }
  });

  test("POSTs need the CSRF token and the same origin; dead letters retry through the API", T, async () => {
    const r = await once.delay();
    const dead = await eventually(async () => (await json("/api/dead")).dead.find((d: { id: string }) => d.id === r.id));
    const path = `/api/dead/${dead.seq}/retry`;
    const t = await token();
    assert.equal((await post(path, {}, {})).status, 403, "no token");
    assert.equal((await post(path, {}, { "x-taskd-csrf": "forged" })).status, 403, "wrong token");
    assert.equal((await post(path, {}, { "x-taskd-csrf": t, origin: "http://evil.example" })).status, 403, "another site");
    const ok = await post(path, {}, { "x-taskd-csrf": t, origin: dash.url });
    assert.equal(ok.status, 200);
    assert.deepEqual(await ok.json(), { ok: true, seq: dead.seq, queue: "default" });
    await eventually(async () => (await r.state) === "SUCCESS", 10_000);
    assert.equal((await post(path, {}, { "x-taskd-csrf": t })).status, 404, "already retried");
    // Pause and resume a queue from the API (flow control's durable pause).
    const paused = await post("/api/queues/default/pause", {}, { "x-taskd-csrf": t });
    assert.equal(paused.status, 200);
    assert.deepEqual(await paused.json(), { queue: "default", paused: true });
    assert.equal((await json("/api/queues")).queues.find((q: { name: string }) => q.name === "default").paused, true);
    assert.equal((await post("/api/queues/default/resume", {}, { "x-taskd-csrf": t })).status, 200);
    assert.equal((await json("/api/queues")).queues.find((q: { name: string }) => q.name === "default").paused, false);
    assert.equal((await post("/api/queues/a.b/pause", {}, { "x-taskd-csrf": t })).status, 400, "a bad queue name");
    const schedules = await json("/api/schedules");
    assert.equal(schedules.available, true);
    assert.ok(Array.isArray(schedules.schedules));
    const rl = await post("/api/workers/w1@api/rate_limit", { task: "dash.add", rate: "100/m" }, { "x-taskd-csrf": t });
    assert.equal(rl.status, 200);
    const workers = await json("/api/workers");
    assert.equal(workers.workers[0].hostname, "w1@api");
    assert.deepEqual(workers.workers[0].stats.rateLimits, { "dash.add": 100 / 60 }, "stats show the rate per second");
    assert.equal((await post("/api/workers/nobody@nowhere/rate_limit", { task: "dash.add", rate: "1/s" }, { "x-taskd-csrf": t })).status, 404);
  });

  test("a group's tasks are linked: the detail lists the group, search finds it by group:", T, async () => {
    const g = await group([add.s(1, 1), add.s(2, 2), add.s(3, 3)]).applyAsync();
    assert.deepEqual(await g.get({ timeout: 10 }), [2, 4, 6]);
    const first = g.results[0].id;
    const detail = await eventually(async () => {
      const d = await json(`/api/tasks/${first}`);
      return d.group.length === 3 && d.group.every((t: { state: string }) => t.state === "SUCCESS") ? d : undefined;
    });
    assert.equal(detail.task.groupId, g.id);
    assert.deepEqual(detail.group.map((t: { id: string }) => t.id).sort(), g.results.map((r) => r.id).sort());
    assert.equal((await json(`/api/tasks?q=group:${g.id}`)).tasks.length, 3);
  });

  test("/metrics has API.md's names; /healthz answers 200 while the broker is up", T, async () => {
    const res = await get("/metrics");
    assert.match(res.headers.get("content-type") ?? "", /text\/plain/);
    const text = await res.text();
    assert.match(text, /^taskd_tasks_total\{task="dash\.add",state="SUCCESS"\} [1-9]\d*$/m);
    assert.match(text, /^taskd_tasks_total\{task="dash\.order",state="FAILURE"\} 1$/m);
    assert.match(text, /^# TYPE taskd_task_runtime_seconds histogram$/m);
    assert.match(text, /^taskd_task_runtime_seconds_bucket\{task="dash\.add",le="\+Inf"\} \d+$/m);
    assert.match(text, /^taskd_task_runtime_seconds_count\{task="dash\.add"\} \d+$/m);
    assert.match(text, /^taskd_queue_messages\{queue="default"\} 0$/m);
    assert.match(text, /^taskd_workers 1$/m);
    const queues = await json("/api/queues");
    assert.deepEqual(queues.queues.map((q: { name: string; pending: number; workers: string[] }) => [q.name, q.pending, q.workers]), [["default", 0, ["w1@api"]]]);
    const health = await get("/healthz");
    assert.equal(health.status, 200);
    assert.equal((await health.json()).broker, "up");
  });

  test("history survives a dashboard restart: the index is rebuilt from the server", T, async () => {
    const before = await json("/api/tasks?limit=500");
    assert.ok(before.tasks.length >= 5);
    const failed = before.tasks.find((t: { state: string }) => t.state === "FAILURE");
    await dash.stop();
    dash = await DashboardProcess.start(server.url, port, ["--auth", AUTH]);
    const after = await json("/api/tasks?limit=500");
    assert.deepEqual(after.tasks.map((t: { id: string; state: string }) => [t.id, t.state]), before.tasks.map((t: { id: string; state: string }) => [t.id, t.state]));
    const detail = await json(`/api/tasks/${failed.id}`);
    assert.equal(detail.task.attempts[0].outcome, "FAILURE");
    assert.match(await (await get("/metrics")).text(), /^taskd_tasks_total\{task="dash\.order",state="FAILURE"\} 1$/m);
  });

  test("started while the broker is down: it serves, /healthz says 503, and it catches up once the broker is back", T, async () => {
    const indexed = (await json("/api/tasks?limit=500")).tasks.length;
    await dash.stop();
    await server.kill();
    dash = new DashboardProcess(server.url, port, ["--auth", AUTH]);
    await eventually(() => dash.output.includes("listening on"), 20_000);
    const down = await eventually(async () => (await get("/healthz").catch(() => undefined))?.status === 503, 10_000);
    assert.ok(down);
    const api = await get("/api/queues");
    assert.equal(api.status, 503);
    assert.match((await api.json()).error, /Cannot reach the broker/);
    assert.equal((await get("/")).status, 200, "the page is served, with its banner");
    await server.restart();
    await eventually(async () => (await get("/healthz")).status === 200, 20_000);
    await eventually(async () => (await json("/api/tasks?limit=500")).tasks.length === indexed, 10_000);
  });
});
