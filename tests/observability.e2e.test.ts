/**
 * Observability through dist/taskd: OpenTelemetry spans across client and worker (the test
 * process has an in-memory exporter; the worker's module, tests/fixtures/otel_tasks.ts, writes
 * its finished spans to a file), `--metrics-port` in Prometheus text, task events on demand
 * (checked on the wire with a core subscription), and `--log-format json`.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { context, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { chain, EventReceiver } from "../mod.ts";
import { again, app, boom, echo, fanout, spin, type SpanLine, spanLine } from "./fixtures/otel_tasks.ts";
import { useTaskd } from "./helpers/env.ts";
import { eventually } from "./helpers/taskd.ts";

/** Per-test options: Bun's node:test shim defaults to 5 s. */
const T = { timeout: 90_000 };

const dir = mkdtempSync(join(tmpdir(), "taskd-otel-"));
const spanFile = join(dir, "spans.jsonl");
const exporter = new InMemorySpanExporter();

/** The spans the worker (and its threads) finished so far. */
function workerSpans(): SpanLine[] {
  if (!existsSync(spanFile)) return [];
  return readFileSync(spanFile, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
}

function clientSpans(): SpanLine[] {
  return exporter.getFinishedSpans().map(spanLine);
}

describe("observability", () => {
  const t = useTaskd({ module: "otel_tasks.ts", workers: [], apps: [app], env: { TASKD_TEST_SPANS: spanFile } });

  before(() => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
  });
  after(() => {
    trace.disable();
    context.disable();
    rmSync(dir, { recursive: true, force: true });
  });

  test("one delay() gives a send span and a process span in one trace, the process span the send span's child", T, async () => {
    const w = await t.startWorker(["-c", "2"]);
    try {
      const r = await echo.delay(7);
      assert.equal(await r.get({ timeout: 30 }), 7);
      const send = clientSpans().find((s) => s.name === "send otel.echo" && s.attributes["messaging.message.id"] === r.id);
      assert.ok(send, "the client made a send span");
      assert.equal(send.kind, SpanKind.PRODUCER);
      assert.equal(send.attributes["messaging.system"], "nats");
      assert.equal(send.attributes["messaging.operation.type"], "send");
      assert.equal(send.attributes["messaging.destination.name"], app.names.taskSubject("default"));
      assert.equal(send.attributes["taskd.task.name"], "otel.echo");
      assert.equal(send.attributes["taskd.task.retries"], 0);
      const proc = await eventually(() => workerSpans().find((s) => s.name === "process otel.echo" && s.attributes["messaging.message.id"] === r.id), 20_000);
      assert.equal(proc.kind, SpanKind.CONSUMER);
      assert.equal(proc.traceId, send.traceId);
      assert.equal(proc.parentSpanId, send.spanId);
      assert.deepEqual(proc.links, [{ traceId: send.traceId, spanId: send.spanId }]);
      assert.equal(proc.attributes["messaging.system"], "nats");
      assert.equal(proc.attributes["messaging.operation.type"], "process");
      assert.equal(proc.attributes["messaging.destination.name"], app.names.taskSubject("default"));
      assert.equal(proc.attributes["taskd.task.name"], "otel.echo");
      assert.equal(proc.attributes["taskd.task.retries"], 0);
      assert.equal(proc.attributes["taskd.task.state"], "SUCCESS");
      assert.equal(proc.status.code, SpanStatusCode.UNSET);
    } finally {
      await w.stop();
    }
  });

  test("a failing task's process span has error status and the exception event; a task sent from a task is a child of its run", T, async () => {
    const w = await t.startWorker(["-c", "2"]);
    try {
      const r = await boom.delay();
      await assert.rejects(r.get({ timeout: 30 }));
      const proc = await eventually(() => workerSpans().find((s) => s.attributes["messaging.message.id"] === r.id), 20_000);
      assert.equal(proc.name, "process otel.boom");
      assert.equal(proc.status.code, SpanStatusCode.ERROR);
      assert.match(proc.status.message ?? "", /boom/);
      assert.equal(proc.attributes["taskd.task.state"], "FAILURE");
      const exc = proc.events.find((e) => e.name === "exception");
      assert.ok(exc, "an exception event");
      assert.match(String(exc.attributes?.["exception.message"]), /boom/);

      const f = await fanout.delay(3);
      const childId = await f.get({ timeout: 30 }) as string;
      const parent = await eventually(() => workerSpans().find((s) => s.name === "process otel.fanout" && s.attributes["messaging.message.id"] === f.id), 20_000);
      const childSend = await eventually(() => workerSpans().find((s) => s.name === "send otel.echo" && s.attributes["messaging.message.id"] === childId), 20_000);
      const childRun = await eventually(() => workerSpans().find((s) => s.name === "process otel.echo" && s.attributes["messaging.message.id"] === childId), 20_000);
      assert.equal(childSend.parentSpanId, parent.spanId);
      assert.equal(childRun.parentSpanId, childSend.spanId);
      assert.equal(childRun.traceId, parent.traceId);
    } finally {
      await w.stop();
    }
  });

  test("a retry and the next chain step are children of the run that sent them", T, async () => {
    const w = await t.startWorker(["-c", "2"]);
    try {
      const r = await again.delay(5);
      assert.equal(await r.get({ timeout: 30 }), 5);
      const runs = await eventually(() => {
        const all = workerSpans().filter((s) => s.name === "process otel.again" && s.attributes["messaging.message.id"] === r.id);
        return all.length === 2 ? all : undefined;
      }, 20_000);
      const [first, second] = runs.sort((a, b) => Number(a.attributes["taskd.task.retries"]) - Number(b.attributes["taskd.task.retries"]));
      assert.equal(first.attributes["taskd.task.state"], "RETRY");
      assert.equal(second.attributes["taskd.task.state"], "SUCCESS");
      const retrySend = workerSpans().find((s) => s.name === "send otel.again" && s.attributes["taskd.task.retries"] === 1);
      assert.ok(retrySend, "the retry's send span");
      assert.equal(retrySend.parentSpanId, first.spanId);
      assert.equal(second.parentSpanId, retrySend.spanId);
      assert.equal(second.traceId, first.traceId);

      const c = await chain(echo.s(4), echo.s()).applyAsync();
      assert.equal(await c.get({ timeout: 30 }), 4);
      const step2 = await eventually(() => workerSpans().find((s) => s.name === "process otel.echo" && s.attributes["messaging.message.id"] === c.id), 20_000);
      // The last step is sent by the worker, from the first step's run.
      const step2Send = workerSpans().find((s) => s.name === "send otel.echo" && s.attributes["messaging.message.id"] === c.id);
      assert.ok(step2Send);
      const step1 = await eventually(() => workerSpans().find((s) => s.spanId === step2Send.parentSpanId), 20_000);
      assert.equal(step1.name, "process otel.echo");
      assert.notEqual(step1.attributes["messaging.message.id"], c.id);
      const step1Send = clientSpans().find((s) => s.spanId === step1.parentSpanId);
      assert.equal(step1Send?.name, "send otel.echo", "the client sent the first step");
      assert.equal(step2.parentSpanId, step2Send.spanId);
      assert.equal(step2.traceId, step1.traceId);
    } finally {
      await w.stop();
    }
  });

  test("a thread killed at the hard time limit still ends its process span, from the worker process", T, async () => {
    const w = await t.startWorker(["--pool", "threads", "-c", "1"]);
    try {
      const r = await spin.delay();
      await assert.rejects(r.get({ timeout: 30 }), /TimeLimitExceeded|time limit/i);
      const proc = await eventually(() => workerSpans().find((s) => s.attributes["messaging.message.id"] === r.id && s.name === "process otel.spin"), 20_000);
      assert.equal(proc.status.code, SpanStatusCode.ERROR);
      assert.equal(proc.attributes["taskd.task.state"], "FAILURE");
      assert.ok(proc.events.some((e) => e.name === "exception"));
      const send = clientSpans().find((s) => s.attributes["messaging.message.id"] === r.id);
      assert.equal(proc.parentSpanId, send?.spanId);
      // What a task sends from its thread is a child of the worker's process span.
      const f = await fanout.delay(2);
      const childId = await f.get({ timeout: 30 }) as string;
      const parent = await eventually(() => workerSpans().find((s) => s.name === "process otel.fanout" && s.attributes["messaging.message.id"] === f.id), 20_000);
      const childSend = await eventually(() => workerSpans().find((s) => s.name === "send otel.echo" && s.attributes["messaging.message.id"] === childId), 20_000);
      assert.equal(childSend.parentSpanId, parent.spanId);
    } finally {
      await w.stop();
    }
  });

  test("--metrics-port serves Prometheus text that counts tasks by state", T, async () => {
    const w = await t.startWorker(["-c", "2", "--metrics-port", "0"]);
    try {
      await w.waitFor(/metrics at http:\/\/[^:]+:\d+\/metrics/);
      const port = Number(/metrics at http:\/\/[^:]+:(\d+)\/metrics/.exec(w.output)![1]);
      await Promise.all([1, 2, 3].map(async (x) => assert.equal(await (await echo.delay(x)).get({ timeout: 30 }), x)));
      await assert.rejects((await boom.delay()).get({ timeout: 30 }));
      const text = await eventually(async () => {
        const res = await fetch(`http://127.0.0.1:${port}/metrics`);
        assert.match(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
        const body = await res.text();
        return body.includes('taskd_tasks_total{task="otel.boom",state="FAILURE"} 1') ? body : undefined;
      }, 10_000);
      const samples = parsePrometheus(text);
      assert.equal(samples.get('taskd_tasks_total{task="otel.echo",state="SUCCESS"}'), 3);
      assert.equal(samples.get('taskd_tasks_total{task="otel.boom",state="FAILURE"}'), 1);
      assert.equal(samples.get('taskd_task_runtime_seconds_count{task="otel.echo"}'), 3);
      assert.equal(samples.get('taskd_task_runtime_seconds_bucket{task="otel.echo",le="+Inf"}'), 3);
      assert.equal(samples.get('taskd_task_queue_wait_seconds_count{task="otel.echo"}'), 3);
      assert.equal(samples.get("taskd_worker_active"), 0);
      assert.equal(samples.get('taskd_queue_messages{queue="default"}'), 0);
      for (const name of ["taskd_tasks_total", "taskd_task_runtime_seconds", "taskd_task_queue_wait_seconds", "taskd_worker_active", "taskd_queue_messages"]) {
        assert.match(text, new RegExp(`^# TYPE ${name} (counter|gauge|histogram)$`, "m"));
      }
      assert.equal((await fetch(`http://127.0.0.1:${port}/other`)).status, 404);
    } finally {
      await w.stop();
    }
  });

  test("task events: none on the wire while no one listens; a listener's lease and enable_events turn them on", T, async () => {
    const w = await t.startWorker(["-c", "2"]);
    const seen: string[] = [];
    const sub = t.nc.subscribe(`${app.names.eventsSubject}.task.>`, { callback: (_e, m) => void seen.push(m.subject) });
    try {
      await t.nc.flush();
      assert.equal(await (await echo.delay(1)).get({ timeout: 30 }), 1);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(seen.join(","), "", "no task events while nobody listens");

      // A receiver holds a lease while open: the worker sends task events.
      const events = await EventReceiver.open(app, "task.>");
      const r = await echo.delay(2);
      await r.get({ timeout: 30 });
      const types: string[] = [];
      for await (const e of events) {
        if ((e as { id?: string }).id === r.id) types.push(e.type);
        if (e.type === "task-succeeded" && (e as { id?: string }).id === r.id) break;
      }
      events.close();
      assert.deepEqual(types, ["task-received", "task-started", "task-succeeded"]);
      // Released: the worker goes quiet again.
      await w.waitFor(/task events off/, 10_000);
      seen.length = 0;
      await (await echo.delay(3)).get({ timeout: 30 });
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(seen.join(","), "");

      const on = await t.cli(["control", "enable_events"]);
      assert.match(on.stdout, /task events enabled/);
      await (await echo.delay(4)).get({ timeout: 30 });
      await eventually(() => seen.includes(`${app.names.eventsSubject}.task.succeeded`), 5_000);
      const off = await t.cli(["control", "disable_events"]);
      assert.match(off.stdout, /task events disabled/);
      seen.length = 0;
      await (await echo.delay(5)).get({ timeout: 30 });
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(seen.join(","), "");
    } finally {
      sub.unsubscribe();
      await w.stop();
    }
  });

  test("--without-events sends no events at all, even to a listener", T, async () => {
    const w = await t.startWorker(["-c", "2", "--without-events"]);
    const seen: string[] = [];
    const sub = t.nc.subscribe(`${app.names.eventsSubject}.>`, { callback: (_e, m) => void seen.push(m.subject) });
    const events = await EventReceiver.open(app);
    try {
      await t.nc.flush();
      assert.equal(await (await echo.delay(6)).get({ timeout: 30 }), 6);
      // Longer than a heartbeat interval (2 s): no worker-heartbeat either.
      await new Promise((r) => setTimeout(r, 2500));
      assert.equal(seen.join(","), "");
    } finally {
      events.close();
      sub.unsubscribe();
      await w.stop();
    }
  });

  test("-E sends task events with no listener; --log-format json writes one object per line with task, id and worker", T, async () => {
    const w = await t.startWorker(["-c", "2", "-E", "--log-format", "json", "-n", "jw@host"]);
    const seen: string[] = [];
    const sub = t.nc.subscribe(`${app.names.eventsSubject}.task.>`, { callback: (_e, m) => void seen.push(m.subject) });
    try {
      await t.nc.flush();
      const r = await echo.delay(9);
      assert.equal(await r.get({ timeout: 30 }), 9);
      await eventually(() => seen.includes(`${app.names.eventsSubject}.task.succeeded`), 5_000);
      const stats = JSON.parse((await t.cli(["inspect", "stats", "--json"])).stdout)["jw@host"];
      assert.deepEqual(stats.taskEvents, { on: true, listeners: 0 });
      await w.waitFor(/succeeded in/);
      const lines = w.output.split("\n").filter((l) => l.startsWith("{"));
      assert.ok(lines.length > 0);
      for (const l of lines) {
        const o = JSON.parse(l);
        for (const k of ["time", "level", "logger", "message"]) assert.ok(k in o, `${k} in ${l}`);
        assert.equal(o.worker, "jw@host");
      }
      const done = lines.map((l) => JSON.parse(l)).find((o) => /succeeded in/.test(o.message) && o.id === r.id);
      assert.ok(done, "the success line carries the task id");
      assert.equal(done.task, "otel.echo");
      assert.equal(done.level, "info");
      assert.equal(done.logger, "taskd.worker");
    } finally {
      sub.unsubscribe();
      await w.stop();
    }
  });
});

/** Parses Prometheus text: samples by `name{labels}`, failing on a line that is not the format. */
function parsePrometheus(text: string): Map<string, number> {
  const out = new Map<string, number>();
  const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})?) (-?[0-9.e+-]+|\+Inf|NaN)$/;
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("# HELP ") || line.startsWith("# TYPE ")) continue;
    const m = SAMPLE.exec(line);
    assert.ok(m, `not Prometheus text: ${line}`);
    out.set(m[1], Number(m[2]));
  }
  return out;
}
