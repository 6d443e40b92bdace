/**
 * OpenTelemetry spans for sending and processing tasks, through `@opentelemetry/api` only: the
 * user registers the SDK and its exporter. Without a registered tracer provider nothing here
 * makes a span object or touches headers — the check is one lookup on the global provider.
 *
 * `send <task>` (PRODUCER) wraps a publish and writes the W3C trace context (`traceparent`,
 * `tracestate`) into the message headers; `process <task>` (CONSUMER) is started by the worker
 * process with the sender's span as parent and a link to it (what users of BullMQ and Celery
 * asked for, and what the messaging conventions allow for a single message). Attributes follow
 * the OpenTelemetry messaging conventions with `messaging.system = "nats"`, plus `taskd.*`.
 * @module
 */
import {
  type Attributes,
  type Context,
  context,
  createTraceState,
  isSpanContextValid,
  type Link,
  type Span,
  type SpanContext,
  SpanKind,
  SpanStatusCode,
  trace,
  type Tracer,
} from "@opentelemetry/api";
import { H, type TaskMessage } from "../protocol/message.ts";

/** The instrumentation scope's name. */
export const TRACER_NAME = "taskd";
/** The header names of the W3C trace context, as taskd writes them. */
export const TRACE_HEADERS = { traceparent: H.traceparent, tracestate: H.tracestate } as const;

interface ProxyLike {
  getDelegateTracer?(name: string): Tracer | undefined;
}

let cached: { provider: unknown; tracer: Tracer | undefined } | undefined;

/**
 * The tracer of the registered provider, or `undefined` when none is registered (then the API
 * would hand out a no-op tracer whose spans are still objects; taskd makes none at all).
 */
export function activeTracer(): Tracer | undefined {
  const provider = trace.getTracerProvider() as ProxyLike;
  // The global proxy keeps one delegate; ask it again only when the global provider changed.
  if (cached?.provider === provider && cached.tracer) return cached.tracer;
  const tracer = typeof provider.getDelegateTracer === "function"
    ? provider.getDelegateTracer(TRACER_NAME)
    : (provider as unknown as { getTracer(n: string): Tracer }).getTracer(TRACER_NAME);
  cached = { provider, tracer };
  return tracer;
}

/** What a send span describes. */
export interface SendInfo {
  /** The task's name. */
  task: string;
  /** The task id. */
  id: string;
  /** Retries made before this attempt. */
  retries: number;
  /** The subject published to. */
  subject: string;
}

function baseAttributes(op: "send" | "process", i: SendInfo): Attributes {
  return {
    "messaging.system": "nats",
    "messaging.operation.type": op,
    "messaging.operation.name": op,
    "messaging.destination.name": i.subject,
    "messaging.message.id": i.id,
    "taskd.task.name": i.task,
    "taskd.task.retries": i.retries,
  };
}

/**
 * Runs `publish` inside a `send <task>` span when a provider is registered, after writing the
 * span's trace context into `headers`; otherwise just runs it.
 */
export async function traceSend<T>(info: SendInfo, headers: () => Record<string, string>, publish: () => Promise<T>): Promise<T> {
  const tracer = activeTracer();
  if (!tracer) return publish();
  const span = tracer.startSpan(`send ${info.task}`, { kind: SpanKind.PRODUCER, attributes: baseAttributes("send", info) });
  try {
    inject(span.spanContext(), headers());
    return await publish();
  } catch (e) {
    recordError(span, e);
    throw e;
  } finally {
    span.end();
  }
}

// W3C trace context, written and read here rather than through the global propagator, so the
// headers travel whatever propagator the user registered (or none).
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

function inject(sc: SpanContext, headers: Record<string, string>): void {
  if (!isSpanContextValid(sc)) return;
  headers[TRACE_HEADERS.traceparent] = `00-${sc.traceId}-${sc.spanId}-${(sc.traceFlags & 0xff).toString(16).padStart(2, "0")}`;
  const state = sc.traceState?.serialize();
  if (state) headers[TRACE_HEADERS.tracestate] = state;
}

/** The context `header` carries, on top of `base`; `base` when it carries none that is valid. */
function extract(base: Context, header: (name: string) => string | undefined): Context {
  const m = TRACEPARENT.exec(header(TRACE_HEADERS.traceparent)?.trim().toLowerCase() ?? "");
  if (!m) return base;
  const state = header(TRACE_HEADERS.tracestate);
  const sc: SpanContext = { traceId: m[1], spanId: m[2], traceFlags: parseInt(m[3], 16), isRemote: true, traceState: state ? createTraceState(state) : undefined };
  return isSpanContextValid(sc) ? trace.setSpanContext(base, sc) : base;
}

/**
 * Publishes task message `msg` to `subject` with `publish`: inside a `send <task>` span whose
 * context is written into `msg.headers` (a copy) when a provider is registered; as it is otherwise.
 */
export function sendTraced(msg: TaskMessage, subject: string, publish: (subject: string) => Promise<void>): Promise<void> {
  if (!activeTracer()) return publish(subject);
  return traceSend({ task: msg.task, id: msg.id, retries: msg.retries, subject }, () => (msg.headers = { ...msg.headers }), () => publish(subject));
}

/** A `process <task>` span and the context to run the task in. */
export interface ProcessSpan {
  /** The span (ended by {@link endProcess}). */
  readonly span: Span;
  /** The context with the span active: subtasks, retries and chain steps sent in it are its children. */
  readonly context: Context;
}

/**
 * Starts `process <task>` when a provider is registered: its parent is the context the sender
 * wrote into the headers (`header(name)` reads one), with a link to it as well.
 */
export function startProcess(info: SendInfo & { consumer?: string }, header: (name: string) => string | undefined): ProcessSpan | undefined {
  const tracer = activeTracer();
  if (!tracer) return undefined;
  const parent = extract(context.active(), header);
  const sender = trace.getSpanContext(parent);
  const links: Link[] | undefined = sender ? [{ context: sender }] : undefined;
  const attributes = baseAttributes("process", info);
  if (info.consumer) attributes["messaging.consumer.group.name"] = info.consumer;
  const span = tracer.startSpan(`process ${info.task}`, { kind: SpanKind.CONSUMER, attributes, links }, parent);
  return { span, context: trace.setSpan(parent, span) };
}

/** Ends `p` with the task's final state; an error marks the span failed and is recorded on it. */
export function endProcess(p: ProcessSpan | undefined, state: string, error?: unknown): void {
  if (!p) return;
  p.span.setAttribute("taskd.task.state", state);
  if (error !== undefined) recordError(p.span, error);
  p.span.end();
}

/** Runs `fn` with `p`'s context active (or as it is, without a span). */
export function withProcess<T>(p: ProcessSpan | undefined, fn: () => T): T {
  return p ? context.with(p.context, fn) : fn();
}

/** The W3C trace context of the active span as headers (for a pool thread), or `undefined` without one. */
export function activeTraceHeaders(): Record<string, string> | undefined {
  if (!activeTracer()) return undefined;
  const sc = trace.getSpanContext(context.active());
  if (!sc) return undefined;
  const out: Record<string, string> = {};
  inject(sc, out);
  return out.traceparent ? out : undefined;
}

/** Runs `fn` in the context `headers` carry (what {@link activeTraceHeaders} wrote in the worker). */
export function withTraceHeaders<T>(headers: Record<string, string> | undefined, fn: () => T): T {
  if (!headers || !activeTracer()) return fn();
  return context.with(extract(context.active(), (n: string) => headers[n]), fn);
}

function recordError(span: Span, e: unknown): void {
  const err = e instanceof Error ? e : new Error(String(e));
  span.recordException(err);
  span.setStatus({ code: SpanStatusCode.ERROR, message: `${err.name}: ${err.message}` });
  span.setAttribute("error.type", err.name);
}
