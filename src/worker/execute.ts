/**
 * Handling one task message on a worker: decode, check (unknown task, revoked, expired,
 * malformed, wrong arguments, too many deliveries), ack early or late, run, store the outcome,
 * and dead-letter what cannot run — always with a reason, never crashing the worker.
 * @module
 */
import type { JsMsg } from "@nats-io/jetstream";
import type { App } from "../app/app.ts";
import type { Task } from "../app/task.ts";
import { Request, requestMessage } from "../app/request.ts";
import { checkArity } from "../validate/arity.ts";
import { NotRegistered, WorkerLostError } from "../errors/errors.ts";
import { Reject } from "../errors/semipredicates.ts";
import type { Broker } from "../nats/broker.ts";
import { decodeBody, decodeEnvelope, H, type HeaderReader, type TaskEnvelope } from "../protocol/message.ts";
import { states } from "../protocol/states.ts";
import { signals } from "../signals/signals.ts";
import { getLogger } from "../log/logger.ts";
import type { Outcome, TraceHooks } from "../app/trace.ts";
import { bufferBatch } from "./batch_buffer.ts";
import { isBatches } from "../app/batches.ts";
import { runFollowUps } from "../canvas/followups.ts";
import type { Execution, Pool } from "./pool/pool.ts";
import { withTimeLimits } from "./timelimit.ts";
import type { EventDispatcher } from "../events/dispatcher.ts";
import { shortRepr } from "../events/event.ts";
import { failureMeta, storeOutcome, storeResult, storeStarted } from "./results.ts";
import { headerOf, headersOf } from "./headers.ts";

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
export interface ExecContext {
  /** The worker's node name. */
  hostname: string;
  /** Registered tasks of every served app, by name. */
  registry: Map<string, Task>;
  /** Whether a task id is revoked. */
  isRevoked(id: string): boolean;
  /** Messages whose ack is deferred, kept alive with `working()` while they run. */
  keepAlive: Set<JsMsg>;
  /** The app used when the message names no known task (for its backend). */
  fallbackApp: App;
  /** Broker of the worker's connection. */
  broker: Broker;
  /** Running requests by task id (for inspect active and revoke --terminate). */
  active: Map<string, ActiveTask>;
  /** Deliveries after which a message is dead-lettered. */
  maxDeliveries: number;
  /** Where task bodies run. */
  pool: Pool;
  /** Task events, when the worker sends them. */
  events?: EventDispatcher;
}

function taskEvent(env: Pick<TaskEnvelope, "id" | "task" | "retries" | "argsrepr" | "kwargsrepr">, queue?: string) {
  return { id: env.id, name: env.task, retries: env.retries, queue, argsrepr: env.argsrepr, kwargsrepr: env.kwargsrepr };
}

function excText(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

/** Header counting how often an early-acked message was requeued (a Reject can loop it). */
const REQUEUES = "taskd-requeues";

function headerReader(m: JsMsg): HeaderReader {
  const h = headersOf(m);
  return (name) => h[name] || undefined;
}

async function deadLetter(ctx: ExecContext, m: JsMsg, queue: string, reason: string, acked = false, exc: unknown = reason): Promise<void> {
  log.warn(`dead-lettered message ${m.seq} from ${m.subject}: ${reason}`);
  try {
    await ctx.broker.deadLetter(m, queue, reason, { acked });
  } catch (e) {
    log.error(`could not dead-letter message ${m.seq}: ${(e as Error).message}; it will be delivered again`);
    if (!acked) m.nak(5000);
  }
  ctx.events?.send("task-rejected", { id: headerOf(m, H.id), name: headerOf(m, H.task), exception: reason, hostname: ctx.hostname });
  await signals.taskRejected.send(undefined, { message: m, exc });
}

/** Handles one delivered message of `queue`. Never throws. */
export async function execute(ctx: ExecContext, m: JsMsg, queue: string): Promise<void> {
  try {
    await executeInner(ctx, m, queue);
  } catch (e) {
    log.error(`internal error on message ${m.seq} of ${m.subject}:`, e);
    await signals.taskInternalError.send(undefined, { exception: e, message: m });
  }
}

async function executeInner(ctx: ExecContext, m: JsMsg, queue: string): Promise<void> {
  const get = headerReader(m);
  let env: TaskEnvelope;
  try {
    env = decodeEnvelope(get);
  } catch (e) {
    return deadLetter(ctx, m, queue, (e as Error).message);
  }
  const task = ctx.registry.get(env.task);
  const app = task?.app ?? ctx.fallbackApp;
  const deliveries = m.info.deliveryCount + (Number(get(REQUEUES)) || 0);
  if (deliveries > ctx.maxDeliveries) {
    const reason = `Cannot run ${env.task}[${env.id}]: delivered ${deliveries} times without completing (limit ${ctx.maxDeliveries})`;
    await storeResult(app, failureMeta(env, new Error(reason), ctx.hostname), env.replyTo);
    return deadLetter(ctx, m, queue, reason);
  }
  if (!task) {
    const err = new NotRegistered(env.task, { taskId: env.id });
    log.error(`${err.message} (task id ${env.id})`);
    await signals.taskUnknown.send(undefined, { name: env.task, id: env.id, message: m, exc: err });
    await storeResult(app, failureMeta(env, err, ctx.hostname), env.replyTo);
    return deadLetter(ctx, m, queue, err.message);
  }
  if (ctx.isRevoked(env.id) || (env.expires && Date.parse(env.expires) <= Date.now())) {
    const expired = !ctx.isRevoked(env.id);
    const why = expired ? `expired at ${env.expires}` : "revoked";
    log.info(`Discarding ${env.task}[${env.id}]: ${why}`);
    m.ack();
    if (!(env.ignoreResult ?? task.effective("ignoreResult"))) {
      await storeResult(app, { taskId: env.id, taskName: env.task, status: states.REVOKED, result: { type: "TaskRevokedError", message: `Task ${env.id} ${why}` }, worker: ctx.hostname, dateDone: new Date().toISOString() }, env.replyTo);
    }
    ctx.events?.send("task-revoked", { ...taskEvent(env, queue), terminated: false, expired });
    if (signals.taskRevoked.hasReceivers) {
      // The body of a message that will not run is never decoded: request.args/kwargs stay empty.
      const request = new (task.Request ?? Request)({ ...envelopeFields(env), task, hostname: ctx.hostname });
      await signals.taskRevoked.send(task, { request, terminated: false, signum: null, expired });
    }
    return;
  }
  let body;
  try {
    body = decodeBody(get, m.data);
    if (task.arity && task.effective("typing")) {
      checkArity(task.name, task.arity, body.args.length + (Object.keys(body.kwargs).length > 0 ? 1 : 0));
    }
  } catch (e) {
    await storeResult(app, failureMeta(env, e, ctx.hostname), env.replyTo);
    return deadLetter(ctx, m, queue, (e as Error).message);
  }
  if (isBatches(task)) return bufferBatch(ctx, m, queue, task, env, body);
  await run(ctx, m, queue, task, env, body);
}

async function run(
  ctx: ExecContext,
  m: JsMsg,
  queue: string,
  task: Task,
  env: TaskEnvelope,
  body: ReturnType<typeof decodeBody>,
): Promise<void> {
  const acksLate = task.effective("acksLate");
  const ignoreResult = env.ignoreResult ?? task.effective("ignoreResult");
  ctx.events?.send("task-received", { ...taskEvent(env, queue), eta: env.eta, expires: env.expires, rootId: env.rootId, parentId: env.parentId });
  if (!acksLate) m.ack();
  else ctx.keepAlive.add(m);
  const abort = new AbortController();
  const Req = task.Request ?? Request;
  const userHeaders: Record<string, string> = {};
  const allHeaders: Record<string, string> = { ...headersOf(m) };
  for (const k in allHeaders) {
    if (!k.startsWith("taskd-") && !k.startsWith("Nats-") && k !== H.contentType && k !== H.contentEncoding) userHeaders[k] = allHeaders[k];
  }
  const request = new Req({
    ...envelopeFields(env),
    task,
    taskName: task.name,
    args: body.args,
    kwargs: body.kwargs,
    embed: body.embed,
    chord: body.embed.chord ?? undefined,
    chain: (body.embed.chain as unknown[] | null) ?? null,
    callbacks: body.embed.callbacks ?? null,
    errbacks: body.embed.errbacks ?? null,
    hostname: ctx.hostname,
    timelimit: env.timelimit ?? [task.effective("softTimeLimit") ?? null, task.effective("timeLimit") ?? null],
    headers: allHeaders,
    userHeaders,
    ignoreResult,
    deliveryInfo: { queue, subject: m.subject, redelivered: m.info.redelivered, deliveryCount: m.info.deliveryCount },
    signal: abort.signal,
  });
  // Never the raw arguments: only what the caller chose to show (argsrepr/kwargsrepr).
  log.info(`Task ${task.name}[${env.id}] received${reprOf(env)}`);
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
    outcome = lostUnit(task, await withTimeLimits(entry.execution, request, request.timelimit), acksLate);
    if (!entry.execution.stored) await storeOutcome(task, request, outcome, ctx.hostname);
  } finally {
    ctx.active.delete(env.id);
  }
  const seconds = ((performance.now() - started) / 1000).toFixed(4);
  sendOutcomeEvent(ctx, env, queue, outcome, Number(seconds));
  await settle(ctx, m, queue, task, request, outcome, { acksLate, ignoreResult, seconds });
}

/**
 * A late-acked task whose execution unit died goes back to the queue when the task asks for it
 * (`rejectOnWorkerLost`); otherwise it is a failure and is acked, as in Celery.
 */
function lostUnit(task: Task, o: Outcome, acksLate: boolean): Outcome {
  if (o.kind !== "failure" || !(o.error instanceof WorkerLostError)) return o;
  if (!acksLate || !task.effective("rejectOnWorkerLost")) return o;
  return { kind: "rejected", reject: new Reject(o.error, { requeue: true }) };
}

function sendOutcomeEvent(ctx: ExecContext, env: TaskEnvelope, queue: string, o: Outcome, runtime: number): void {
  if (!ctx.events) return;
  const base = { ...taskEvent(env, queue), runtime };
  if (o.kind === "success") ctx.events.send("task-succeeded", { ...base, result: shortRepr(o.value) });
  else if (o.kind === "failure") ctx.events.send("task-failed", { ...base, exception: excText(o.error) });
  else if (o.kind === "retry") ctx.events.send("task-retried", { ...base, exception: excText(o.retry.exc ?? o.retry) });
  else if (o.kind === "revoked") ctx.events.send("task-revoked", { ...base, terminated: true, expired: false });
}

async function settle(
  ctx: ExecContext,
  m: JsMsg,
  queue: string,
  task: Task,
  request: Request,
  o: Outcome,
  f: { acksLate: boolean; ignoreResult: boolean; seconds: string },
): Promise<void> {
  const app = task.app;
  try {
    if (o.kind === "success") {
      log.info(`Task ${task.name}[${request.id}] succeeded in ${f.seconds}s`);
    } else if (o.kind === "failure") {
      const e = o.error as Error;
      if (o.expected) log.info(`Task ${task.name}[${request.id}] raised expected: ${e?.name}: ${e?.message}`);
      else log.error(`Task ${task.name}[${request.id}] failed in ${f.seconds}s:`, e);
      if (o.refused) {
        // Arguments no run can accept: dead-letter the message with the reason (not retried).
        ctx.keepAlive.delete(m);
        return deadLetter(ctx, m, queue, e?.message ?? String(o.error), !f.acksLate);
      }
    } else if (o.kind === "retry") {
      log.info(`Task ${task.name}[${request.id}] retry: ${o.retry.message}`);
    } else if (o.kind === "revoked") {
      log.warn(`Task ${task.name}[${request.id}] terminated: ${o.error.message}`);
      await signals.taskRevoked.send(task, { request, terminated: true, signum: "SIGTERM", expired: false });
    } else if (o.kind === "ignored") {
      log.info(`Task ${task.name}[${request.id}] ignored`);
    } else if (o.kind === "rejected") {
      log.warn(`Task ${task.name}[${request.id}] rejected (requeue: ${o.reject.requeue}): ${o.reject.reason}`);
      if (o.reject.requeue) {
        ctx.keepAlive.delete(m);
        if (f.acksLate) m.nak();
        // Already acked (early ack): send it again under a fresh de-duplication key.
        else {
          const requeues = String((Number(request.headers[REQUEUES]) || 0) + m.info.deliveryCount);
          const msg = requestMessage(request, queue);
          await app.publish({ ...msg, headers: { ...msg.headers, [REQUEUES]: requeues }, dedupeKey: `${request.id}:${request.retries}:requeue:${m.seq}` }, { serializer: task.effective("serializer") });
        }
        await signals.taskRejected.send(task, { message: m, exc: o.reject });
        return;
      }
      ctx.keepAlive.delete(m);
      return deadLetter(ctx, m, queue, o.reject.reason, !f.acksLate, o.reject);
    }
  } finally {
    // Callbacks, the next chain step, chord counting: after the result is stored, before the ack.
    await runFollowUps(app, request, o).catch((e) => log.error(`follow-ups of ${task.name}[${request.id}] failed:`, e));
    if (ctx.keepAlive.delete(m)) m.ack();
  }
}

/** The request fields a message's headers give (the body's args, kwargs and embed aside). */
function envelopeFields(env: TaskEnvelope) {
  return {
    id: env.id,
    taskName: env.task,
    retries: env.retries,
    eta: env.eta,
    expires: env.expires,
    group: env.group,
    correlationId: env.id,
    origin: env.origin,
    rootId: env.rootId,
    parentId: env.parentId,
    replyTo: env.replyTo,
    argsrepr: env.argsrepr,
    kwargsrepr: env.kwargsrepr,
    ignoreResult: env.ignoreResult ?? false,
  };
}

/** ` args=… kwargs=…` from argsrepr/kwargsrepr when the caller gave them, else nothing. */
function reprOf(env: Pick<TaskEnvelope, "argsrepr" | "kwargsrepr">): string {
  if (env.argsrepr === undefined && env.kwargsrepr === undefined) return "";
  return `${env.argsrepr !== undefined ? ` args=${env.argsrepr}` : ""}${env.kwargsrepr !== undefined ? ` kwargs=${env.kwargsrepr}` : ""}`;
}

