/**
 * One task message on a worker, as a short pipeline: admit (decode and check: src/worker/admit.ts)
 * → run (ack early or keep alive, the pool, time limits, store the outcome) → decide what
 * becomes of the message (src/worker/dispose.ts) → follow-ups → act on the decision. What
 * cannot run is dead-lettered with a reason; the worker never crashes on a message.
 * @module
 */
import type { JsMsg } from "@nats-io/jetstream";
import type { Task } from "../app/task.ts";
import { ExceptionInfo, type Request, requestFailed } from "../app/request.ts";
import { H } from "../protocol/message.ts";
import { headerOf } from "./headers.ts";
import type { Outcome, TraceHooks } from "../app/trace.ts";
import { states } from "../protocol/states.ts";
import type { TaskEnvelope } from "../protocol/message.ts";
import { signals } from "../signals/signals.ts";
import { getLogger, getLogLevel } from "../log/logger.ts";
import { runFollowUps } from "../canvas/followups.ts";
import { settleUnrun } from "../canvas/settle.ts";
import type { EventDispatcher } from "../events/dispatcher.ts";
import { shortRepr } from "../events/event.ts";
import { type AdmitContext, admit } from "./admit.ts";
import { bufferBatch } from "./batch_buffer.ts";
import { deadLetter, decide, type DisposeContext, dispose, outcomeOfLostUnit } from "./dispose.ts";
import type { Execution, Pool } from "./pool/pool.ts";
import { requestFor, type MessageBody } from "./request.ts";
import { DEFAULTS } from "../app/options.ts";
import { withTimeLimits } from "./timelimit.ts";
import { storeOutcome, storeResult, storeStarted } from "./results.ts";
import { endRun, inRun, observeRun } from "./observe.ts";
import type { WorkerMetrics } from "./metrics.ts";

const log = getLogger("taskd.worker");

/** A running task, as the worker tracks it (inspect active, revoke --terminate). */
export interface ActiveTask {
  /** Its request. */
  request: Request;
  /** The task. */
  task: Task;
  /** When it started (ms since the epoch). */
  started: number;
  /** The controller behind `request.signal`. */
  abort: AbortController;
  /** Its execution in the pool, once started. */
  execution?: Execution;
}

/** What message handling needs from the worker. */
export interface ExecContext extends AdmitContext, DisposeContext {
  /** Running requests by task id (for inspect active and revoke --terminate). */
  active: Map<string, ActiveTask>;
  /** Where task bodies run. */
  pool: Pool;
  /** Task events, when the worker sends them. */
  events?: EventDispatcher;
  /** The worker's metrics, when it serves them (`--metrics-port`). */
  metrics?: WorkerMetrics;
}

function taskEvent(env: Pick<TaskEnvelope, "id" | "task" | "retries" | "argsrepr" | "kwargsrepr" | "shadow">, queue?: string) {
  // A shadow name (Celery's `shadow`) is what monitoring shows for the call.
  return { id: env.id, name: env.shadow ?? env.task, retries: env.retries, queue, argsrepr: env.argsrepr, kwargsrepr: env.kwargsrepr };
}

function excText(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

/** Handles one delivered message of `queue`; returns the run's outcome kind when it ran. Never throws. */
export async function execute(ctx: ExecContext, m: JsMsg, queue: string): Promise<Outcome["kind"] | undefined> {
  try {
    const a = await admit(ctx, m);
    if (getLogLevel() === "debug") log.debug(`message ${m.seq} of ${m.info.stream} (delivery ${m.info.deliveryCount}) for ${headerOf(m, H.id)}: ${a.kind}`);
    if (a.kind === "deadLetter") {
      // Its chord counts it as not succeeded, its chain stops (src/canvas/settle.ts); nothing of an unverified (silent) message is trusted.
      if (!a.silent) await settleUnrun(ctx.registry.get(headerOf(m, H.task) ?? "")?.app ?? ctx.fallbackApp, (n) => headerOf(m, n), m.data, { state: "DEAD_LETTERED", reason: `was dead-lettered: ${a.reason}` });
      return void await deadLetter(ctx, m, queue, a.reason);
    }
    if (a.kind === "discard") return void await discard(ctx, m, queue, a.task, a.env, a.expired);
    if (a.kind === "done") {
      log.info(`Task ${a.env.shadow ?? a.task.name}[${a.env.id}] redelivered after it succeeded (retries ${a.env.retries}): acked, not run again`);
      // Its follow-ups may not have run (the worker died between storing and sending them): run
      // them again with the stored value; the next step, callbacks and chord counting are
      // de-duplicated by their ids.
      // When they fail even so, the message comes back later to try them again.
      if (a.body) {
        const request = requestFor(a.task, a.env, ctx.hostname, { m, queue }, a.body);
        if (!await followUps(a.task, request, { kind: "success", value: a.value })) return void m.nak(FOLLOW_UP_REDELIVERY_MS);
      }
      return void m.ack();
    }
    if (a.kind === "buffer") return void bufferBatch(ctx, m, queue, a.task, a.env, a.body);
    // The process span and the metrics (src/worker/observe.ts): nothing when neither is on.
    const obs = observeRun(m, a.env, queue, ctx.metrics);
    let outcome: Outcome | undefined;
    try {
      outcome = await inRun(obs, () => run(ctx, m, queue, a.task, a.env, a.body));
    } finally {
      endRun(obs, a.env, outcome, ctx.metrics);
    }
    return outcome?.kind;
  } catch (e) {
    log.error(`internal error on message ${m.seq} of ${m.subject}:`, e);
    const einfo = new ExceptionInfo(e);
    const name = headerOf(m, H.task);
    await signals.taskInternalError.send(name ? (ctx.registry.get(name) ?? name) : undefined, { taskId: headerOf(m, H.id), exception: e, traceback: einfo.traceback, einfo, message: m });
  }
}

/** A revoked or expired message: acked, REVOKED stored (unless results are ignored), never run. */
async function discard(ctx: ExecContext, m: JsMsg, queue: string, task: Task, env: TaskEnvelope, expired: boolean): Promise<void> {
  const why = expired ? `expired at ${env.expires}` : "revoked";
  log.info(`Discarding ${env.task}[${env.id}]: ${why}`);
  m.ack();
  // As Celery's mark_as_revoked: stored unless results are ignored, then only with storeErrorsEvenIfIgnored.
  if (!(env.ignoreResult ?? task.effective("ignoreResult")) || task.effective("storeErrorsEvenIfIgnored")) {
    await storeResult(task.app, { taskId: env.id, taskName: env.task, status: states.REVOKED, result: { type: "TaskRevokedError", message: `Task ${env.id} ${why}` }, worker: ctx.hostname, dateDone: new Date().toISOString() }, env.replyTo);
  }
  await settleUnrun(task.app, (n) => headerOf(m, n), m.data, { state: expired ? "EXPIRED" : states.REVOKED, reason: expired ? why : "was revoked" });
  ctx.events?.send("task-revoked", { ...taskEvent(env, queue), terminated: false, expired });
  if (signals.taskRevoked.hasReceivers) {
    // The body of a message that will not run is never decoded: request.args/kwargs stay empty.
    await signals.taskRevoked.send(task, { request: requestFor(task, env, ctx.hostname, { m, queue }), terminated: false, signum: null, expired });
  }
}

async function run(ctx: ExecContext, m: JsMsg, queue: string, task: Task, env: TaskEnvelope, body: MessageBody): Promise<Outcome> {
  const acksLate = task.effective("acksLate");
  ctx.events?.send("task-received", { ...taskEvent(env, queue), eta: env.eta, expires: env.expires, rootId: env.rootId, parentId: env.parentId, groupId: env.group });
  if (!acksLate) m.ack();
  else ctx.keepAlive.add(m);
  const abort = new AbortController();
  const request = requestFor(task, env, ctx.hostname, { m, queue }, body, {
    timelimit: env.timelimit ?? [task.effective("softTimeLimit") ?? null, task.effective("timeLimit") ?? null],
    signal: abort.signal,
  });
  // Never the raw arguments: only what the caller chose to show (argsrepr/kwargsrepr).
  log.info(`Task ${env.shadow ?? task.name}[${env.id}] received${reprOf(env)}`);
  if (signals.taskReceived.hasReceivers) await signals.taskReceived.send(ctx.hostname, { request });
  const started = performance.now();
  const entry: ActiveTask = { request, task, started: Date.now(), abort };
  ctx.active.set(env.id, entry);
  let outcome: Outcome;
  try {
    ctx.events?.send("task-started", taskEvent(env, queue));
    // The result is stored inside the run, before the handlers, as Celery does (see trace.ts);
    // an execution given up from outside (time limit, terminate, a lost unit) is stored here.
    const hooks: TraceHooks = { started: () => storeStarted(task, request, ctx.hostname), store: (o) => storeOutcome(task, request, o, ctx.hostname) };
    entry.execution = ctx.pool.run(task, request, abort, hooks);
    outcome = outcomeOfLostUnit(task, await withTimeLimits(entry.execution, request, request.timelimit), acksLate);
    if (!entry.execution.stored) {
      await storeOutcome(task, request, outcome, ctx.hostname);
      // Given up from outside (hard time limit, a lost unit): the trace's handlers never ran, so
      // the request hears of the failure here, in the worker process (Celery's Request.on_failure).
      if (outcome.kind === "failure") await requestFailed(request, outcome.error);
    }
  } finally {
    ctx.active.delete(env.id);
  }
  const seconds = ((performance.now() - started) / 1000).toFixed(4);
  sendOutcomeEvent(ctx, env, queue, outcome, Number(seconds), task.app.config.resultReprMaxsize ?? DEFAULTS.resultReprMaxsize);
  await report(task, request, outcome, seconds, m, env.shadow);
  let disposition = decide(outcome, task, request, acksLate);
  // Callbacks, the next chain step, chord counting: after the result is stored, before the
  // message is settled. When they fail, a late-acked message comes back to try them again (its
  // redelivery finds the stored success and runs only them); an early-acked one has had its
  // retries (src/canvas/guard.ts).
  if (!await followUps(task, request, outcome) && disposition.kind === "ack" && acksLate) disposition = { kind: "nak", delayMs: FOLLOW_UP_REDELIVERY_MS };
  await dispose(ctx, m, queue, disposition);
  return outcome;
}

/** How long a late-acked message whose follow-ups failed waits before it is delivered again. */
const FOLLOW_UP_REDELIVERY_MS = 5_000;

/** Runs the follow-ups of a finished task; false when one failed (never throws). */
function followUps(task: Task, request: Request, o: Outcome): Promise<boolean> {
  return runFollowUps(task.app, request, o).catch((e) => {
    log.error(`follow-ups of ${task.name}[${request.id}] failed:`, e);
    return false;
  });
}

/** The outcome's log line, and the signals an outcome sends once the run is over. */
async function report(task: Task, request: Request, o: Outcome, seconds: string, m: JsMsg, shadow?: string): Promise<void> {
  const name = `${shadow ?? task.name}[${request.id}]`;
  switch (o.kind) {
    case "success":
      log.info(`Task ${name} succeeded in ${seconds}s`);
      return;
    case "failure": {
      const e = o.error as Error;
      if (o.expected) log.info(`Task ${name} raised expected: ${e?.name}: ${e?.message}`);
      else log.error(`Task ${name} failed in ${seconds}s:`, e);
      return;
    }
    case "retry":
      log.info(`Task ${name} retry: ${o.retry.message}`);
      return;
    case "revoked":
      log.warn(`Task ${name} terminated: ${o.error.message}`);
      await signals.taskRevoked.send(task, { request, terminated: true, signum: "SIGTERM", expired: false });
      return;
    case "ignored":
      log.info(`Task ${name} ignored`);
      return;
    case "rejected":
      log.warn(`Task ${name} rejected (requeue: ${o.reject.requeue}): ${o.reject.reason}`);
      // A requeue is announced here; a dead letter announces itself when it is written.
      if (o.reject.requeue) await signals.taskRejected.send(task, { message: m, exc: o.reject });
      return;
  }
}

function sendOutcomeEvent(ctx: ExecContext, env: TaskEnvelope, queue: string, o: Outcome, runtime: number, reprMax?: number): void {
  if (!ctx.events) return;
  const base = { ...taskEvent(env, queue), runtime };
  if (o.kind === "success") ctx.events.send("task-succeeded", { ...base, result: shortRepr(o.value, reprMax) });
  else if (o.kind === "failure") ctx.events.send("task-failed", { ...base, exception: excText(o.error) });
  else if (o.kind === "retry") ctx.events.send("task-retried", { ...base, exception: excText(o.retry.exc ?? o.retry) });
  else if (o.kind === "revoked") ctx.events.send("task-revoked", { ...base, terminated: true, expired: false });
}

/** ` args=… kwargs=…` from argsrepr/kwargsrepr when the caller gave them, else nothing. */
function reprOf(env: Pick<TaskEnvelope, "argsrepr" | "kwargsrepr">): string {
  if (env.argsrepr === undefined && env.kwargsrepr === undefined) return "";
  return `${env.argsrepr !== undefined ? ` args=${env.argsrepr}` : ""}${env.kwargsrepr !== undefined ? ` kwargs=${env.kwargsrepr}` : ""}`;
}
