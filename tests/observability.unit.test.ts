/**
 * The pure parts of observability: spans cost nothing without a provider (no span objects, no
 * header work), the W3C context round trip between send and process, the Prometheus writer,
 * the task-events switch, and JSON log lines.
 */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { context, ProxyTracer, ProxyTracerProvider, SpanKind, trace } from "@opentelemetry/api";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { activeTraceHeaders, activeTracer, endProcess, startProcess, traceSend, withProcess, withTraceHeaders } from "../src/app/tracing.ts";
import { newHistogram, observe, writeGauge, writeQueueMessages, writeTaskHistogram, writeTaskTotals } from "../src/protocol/prometheus.ts";
import { TaskEventsSwitch } from "../src/events/listeners.ts";
import { flushLogs, getLogger, setLogFormat, setLogSink, setLogWorker } from "../src/log/logger.ts";

const info = { task: "tasks.add", id: "id-1", retries: 0, subject: "taskd.tasks.default" };

/** Counts span creations through the API's proxy objects (what a no-op tracer would be). */
function countProxySpans(): { count: number; restore(): void } {
  const c = { count: 0, restore: () => {} };
  const startSpan = ProxyTracer.prototype.startSpan;
  const getTracer = ProxyTracerProvider.prototype.getTracer;
  ProxyTracer.prototype.startSpan = function (...a: Parameters<typeof startSpan>) {
    c.count++;
    return startSpan.apply(this, a);
  };
  ProxyTracerProvider.prototype.getTracer = function (...a: Parameters<typeof getTracer>) {
    c.count++;
    return getTracer.apply(this, a);
  };
  c.restore = () => {
    ProxyTracer.prototype.startSpan = startSpan;
    ProxyTracerProvider.prototype.getTracer = getTracer;
  };
  return c;
}

describe("tracing", () => {
  after(() => trace.disable());

  test("without a provider: no tracer, no span objects, no header work", async () => {
    trace.disable();
    const spy = countProxySpans();
    try {
      assert.equal(activeTracer(), undefined);
      let headerCalls = 0;
      const out = await traceSend(info, () => (headerCalls++, {}), () => Promise.resolve(42));
      assert.equal(out, 42);
      assert.equal(headerCalls, 0);
      assert.equal(startProcess(info, () => "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"), undefined);
      assert.equal(activeTraceHeaders(), undefined);
      assert.equal(withProcess(undefined, () => 7), 7);
      assert.equal(withTraceHeaders({ traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" }, () => 8), 8);
      assert.equal(spy.count, 0, "no proxy tracer or span was made");
    } finally {
      spy.restore();
    }
  });

  test("with a provider: send writes traceparent, process is its child with a link, errors mark the span", async () => {
    const exporter = new InMemorySpanExporter();
    trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
    try {
      const headers: Record<string, string> = {};
      await traceSend(info, () => headers, () => Promise.resolve());
      const [send] = exporter.getFinishedSpans();
      assert.equal(send.name, "send tasks.add");
      assert.equal(send.kind, SpanKind.PRODUCER);
      assert.equal(headers.traceparent, `00-${send.spanContext().traceId}-${send.spanContext().spanId}-01`);
      const p = startProcess({ ...info, consumer: "queue-default" }, (n) => headers[n]);
      assert.ok(p);
      endProcess(p, "FAILURE", new RangeError("bad"));
      const proc = exporter.getFinishedSpans()[1];
      assert.equal(proc.name, "process tasks.add");
      assert.equal(proc.kind, SpanKind.CONSUMER);
      assert.equal(proc.spanContext().traceId, send.spanContext().traceId);
      assert.equal(proc.parentSpanContext?.spanId, send.spanContext().spanId);
      assert.equal(proc.links[0].context.spanId, send.spanContext().spanId);
      assert.equal(proc.attributes["taskd.task.state"], "FAILURE");
      assert.equal(proc.attributes["messaging.consumer.group.name"], "queue-default");
      assert.equal(proc.status.code, 2);
      assert.equal(proc.events[0].name, "exception");
      // A publish that fails marks its send span.
      await assert.rejects(traceSend(info, () => ({}), () => Promise.reject(new Error("no route"))));
      assert.equal(exporter.getFinishedSpans()[2].status.code, 2);
      // A bad traceparent starts a new trace instead of failing.
      const fresh = startProcess(info, (n) => (n === "traceparent" ? "garbage" : undefined));
      endProcess(fresh, "SUCCESS");
      assert.equal(exporter.getFinishedSpans()[3].parentSpanContext, undefined);
    } finally {
      trace.disable();
      context.disable();
    }
  });
});

describe("prometheus writer", () => {
  test("counters, histograms and gauges in the text format", () => {
    const out: string[] = [];
    writeTaskTotals(out, "Tasks.", new Map([["a\"b", new Map([["SUCCESS", 2]])]]));
    const h = newHistogram();
    observe(h, 0.003);
    observe(h, 0.2);
    observe(h, 1000);
    writeTaskHistogram(out, "taskd_task_runtime_seconds", "Seconds.", new Map([["t", h]]));
    writeQueueMessages(out, { default: 4 });
    writeGauge(out, "taskd_worker_active", "Running.", 1);
    const text = out.join("\n");
    assert.match(text, /^# TYPE taskd_tasks_total counter$/m);
    assert.match(text, /^taskd_tasks_total\{task="a\\"b",state="SUCCESS"\} 2$/m);
    assert.match(text, /^taskd_task_runtime_seconds_bucket\{task="t",le="0.005"\} 1$/m);
    assert.match(text, /^taskd_task_runtime_seconds_bucket\{task="t",le="0.25"\} 2$/m);
    assert.match(text, /^taskd_task_runtime_seconds_bucket\{task="t",le="300"\} 2$/m);
    assert.match(text, /^taskd_task_runtime_seconds_bucket\{task="t",le="\+Inf"\} 3$/m);
    assert.match(text, /^taskd_task_runtime_seconds_count\{task="t"\} 3$/m);
    assert.match(text, /^taskd_queue_messages\{queue="default"\} 4$/m);
    assert.match(text, /^taskd_worker_active 1$/m);
  });
});

describe("task events switch", () => {
  test("forced on, enable and disable; a flip is reported once", () => {
    const flips: boolean[] = [];
    const sw = new TaskEventsSwitch(false, (on) => flips.push(on));
    assert.equal(sw.on, false);
    sw.enable();
    sw.enable();
    assert.equal(sw.on, true);
    sw.disable();
    assert.equal(sw.on, false);
    assert.deepEqual(flips, [true, false]);
    assert.equal(new TaskEventsSwitch(true).on, true);
  });
});

describe("json log lines", () => {
  test("one object per line with time, level, logger, message, task, id and worker", () => {
    const lines: string[] = [];
    setLogSink((l) => lines.push(l));
    try {
      setLogFormat("json");
      setLogWorker("w1@host");
      getLogger("taskd.worker").info("Task tasks.add[abc-1] succeeded in 0.01s: 5");
      getLogger("taskd.pool").warn("plain");
      flushLogs();
    } finally {
      setLogFormat("text");
      setLogWorker(undefined);
    }
    const [a, b] = lines.map((l) => JSON.parse(l));
    assert.equal(a.level, "info");
    assert.equal(a.logger, "taskd.worker");
    assert.equal(a.task, "tasks.add");
    assert.equal(a.id, "abc-1");
    assert.equal(a.worker, "w1@host");
    assert.ok(!Number.isNaN(Date.parse(a.time)));
    assert.equal(b.message, "plain");
    assert.equal(b.task, undefined);
    assert.throws(() => setLogFormat("xml"), RangeError);
  });
});
