/**
 * What the worker observes of one run, beside the run itself: the `process <task>` span (in
 * the worker process, so a run given up from outside — a thread killed at the hard time limit,
 * a lost thread — still ends its span) and the worker's own metrics (src/worker/metrics.ts).
 * Both cost nothing when off: no provider, no span; no `--metrics-port`, no counting.
 * @module
 */
import type { JsMsg } from "@nats-io/jetstream";
import { activeTracer, endProcess, type ProcessSpan, startProcess, withProcess } from "../app/tracing.ts";
import { type Outcome, stateOf } from "../app/trace.ts";
import type { TaskEnvelope } from "../protocol/message.ts";
import { headerOf } from "./headers.ts";
import type { WorkerMetrics } from "./metrics.ts";

/** One run as observed. */
export interface Observation {
  readonly span?: ProcessSpan;
  /** When the run started (performance.now()). */
  readonly started: number;
}

/** Starts observing the run of `m` (a message of `queue`); `undefined` when nothing observes. */
export function observeRun(m: JsMsg, env: TaskEnvelope, queue: string, metrics?: WorkerMetrics): Observation | undefined {
  // One lookup when no provider is registered: no span, and not even its description, is made.
  const span = activeTracer() ? startProcess({ task: env.task, id: env.id, retries: env.retries, subject: m.subject, consumer: `queue-${queue}` }, (n) => headerOf(m, n)) : undefined;
  if (metrics) metrics.started(env.task, queueWait(m, env));
  if (!span && !metrics) return undefined;
  return { span, started: performance.now() };
}

/** Runs `fn` with the run's span active, so what it sends (subtasks, retries, chain steps) is its child. */
export function inRun<T>(o: Observation | undefined, fn: () => T): T {
  return withProcess(o?.span, fn);
}

/** Records how the run ended (`outcome`; `undefined` when the message path itself failed). */
export function endRun(o: Observation | undefined, env: TaskEnvelope, outcome: Outcome | undefined, metrics?: WorkerMetrics, failure?: unknown): void {
  if (!o) return;
  const state = outcome ? stateOf(outcome) : "FAILURE";
  const error = outcome ? errorOf(outcome) : failure;
  endProcess(o.span, state, error);
  metrics?.finished(env.task, state, (performance.now() - o.started) / 1000);
}

function errorOf(o: Outcome): unknown {
  if (o.kind === "failure" || o.kind === "revoked") return o.error;
  if (o.kind === "rejected") return o.reject;
  return undefined;
}

/** Seconds between the message being stored by the server (or its eta) and now. */
function queueWait(m: JsMsg, env: TaskEnvelope): number | undefined {
  let since: number | undefined;
  try {
    since = m.info.timestampNanos / 1e6;
  } catch {
    return undefined;
  }
  const eta = env.eta ? Date.parse(env.eta) : NaN;
  if (Number.isFinite(eta) && eta > since) since = eta;
  return Math.max(0, (Date.now() - since) / 1000);
}
