/**
 * Admission, the first step of a message's path through a worker: decode its headers, count
 * its deliveries, find its task, check revocation and expiry, decode its body and check its
 * arguments. The answer is a value — run it, buffer it for a batch, discard it, ack a
 * redelivered attempt that already succeeded, or dead-letter it with a reason — and the caller
 * acts on it. A FAILURE is stored here for
 * what cannot run but has a task id, so its sender learns why.
 * @module
 */
import type { JsMsg } from "@nats-io/jetstream";
import type { App } from "../app/app.ts";
import type { Task } from "../app/task.ts";
import { type Batches, batchWorkflowRefusal, isBatches } from "../app/batches.ts";
import { checkCall } from "../validate/bind.ts";
import { NotRegistered } from "../errors/errors.ts";
import { decodeBody, decodeEnvelope, H, type HeaderReader, type TaskEnvelope } from "../protocol/message.ts";
import { signals } from "../signals/signals.ts";
import { states } from "../protocol/states.ts";
import { getLogger } from "../log/logger.ts";
import { failureMeta, storeResult } from "./results.ts";
import { headersOf } from "./headers.ts";
import { failDeadLetter } from "./dead_letter.ts";
import type { MessageBody } from "./request.ts";
import type { MessageVerifier } from "../protocol/signing.ts";

const log = getLogger("taskd.worker");

/** What admission needs from the worker. */
export interface AdmitContext {
  /** The worker's node name. */
  hostname: string;
  /** Registered tasks of every served app, by name. */
  registry: Map<string, Task>;
  /** Whether a task id is revoked. */
  isRevoked(id: string): boolean;
  /** The app used when the message names no known task (for its backend). */
  fallbackApp: App;
  /** Deliveries after which a message is dead-lettered. */
  maxDeliveries: number;
  /** When messages must be signed: the trusted keys' verifier. */
  verifier?: MessageVerifier;
  /**
   * Whether every message is checked against the result store before it runs, not only a
   * redelivered one: for a while after a consumer leader changed or the connection came back,
   * when JetStream may deliver again, as first deliveries, messages whose ack it had not kept.
   */
  doubtful?(): boolean;
}

/** What to do with a received message. */
export type Admission =
  | { kind: "run"; task: Task; env: TaskEnvelope; body: MessageBody }
  | { kind: "buffer"; task: Batches; env: TaskEnvelope; body: MessageBody }
  | { kind: "discard"; task: Task; env: TaskEnvelope; expired: boolean }
  /** A redelivered copy of an attempt whose task has already succeeded (`value`): not run again. */
  | { kind: "done"; task: Task; env: TaskEnvelope; value: unknown; body?: MessageBody }
  /** `silent`: no result is stored, whatever its id (an unverified message must not write results). */
  | { kind: "deadLetter"; reason: string; silent?: boolean };

function headerReader(m: JsMsg): HeaderReader {
  const h = headersOf(m);
  return (name) => h[name] || undefined;
}

/** Decides what to do with `m`; stores a FAILURE for what is refused with a known id. */
export async function admit(ctx: AdmitContext, m: JsMsg): Promise<Admission> {
  const get = headerReader(m);
  if (ctx.verifier) {
    // First: nothing of an unverified message is trusted, not even its task id.
    const refused = ctx.verifier.refusal(get, m.data);
    if (refused) return { kind: "deadLetter", reason: refused, silent: true };
  }
  let env: TaskEnvelope;
  try {
    env = decodeEnvelope(get);
  } catch (e) {
    // Unreadable headers: the FAILURE goes under the raw id, when it is a valid key.
    await failDeadLetter(ctx, m, e);
    return { kind: "deadLetter", reason: (e as Error).message };
  }
  const task = ctx.registry.get(env.task);
  const deliveries = m.info.deliveryCount + (Number(get(H.requeues)) || 0);
  if (deliveries > ctx.maxDeliveries) {
    return refusal(ctx, task, env, new Error(`Cannot run ${env.task}[${env.id}]: delivered ${deliveries} times without completing (limit ${ctx.maxDeliveries})`));
  }
  if (!task) {
    const err = new NotRegistered(env.task, { taskId: env.id });
    log.error(`${err.message} (task id ${env.id})`);
    await signals.taskUnknown.send(undefined, { name: env.task, id: env.id, message: m, exc: err });
    return refusal(ctx, task, env, err);
  }
  if (m.info.redelivered || ctx.doubtful?.()) {
    const done = await succeededAlready(task, env);
    if (done) {
      let body: MessageBody | undefined;
      try {
        body = decodeBody(get, m.data);
      } catch { /* no follow-ups can be read from it */ }
      return { kind: "done", task, env, value: done.value, body };
    }
  }
  const revoked = ctx.isRevoked(env.id);
  if (revoked || (env.expires && Date.parse(env.expires) <= Date.now())) return { kind: "discard", task, env, expired: !revoked };
  let body: MessageBody;
  try {
    body = decodeBody(get, m.data);
    // `typing: false` turns off the sender's check only: a call that cannot bind is refused here
    // as Celery's worker refuses it (a Batches task takes its own arguments, not the function's).
    if (task.arity && !isBatches(task)) checkCall(task, body.args, body.kwargs);
  } catch (e) {
    return refusal(ctx, task, env, e);
  }
  const inWorkflow = isBatches(task) && batchWorkflowRefusal(task.name, body.embed);
  if (inWorkflow) return refusal(ctx, task, env, new TypeError(inWorkflow));
  return isBatches(task) ? { kind: "buffer", task, env, body } : { kind: "run", task, env, body };
}

/** Stores the FAILURE of a message that cannot run and dead-letters it with the error's message. */
async function refusal(ctx: AdmitContext, task: Task | undefined, env: TaskEnvelope, error: unknown): Promise<Admission> {
  await storeResult(task?.app ?? ctx.fallbackApp, failureMeta(env, error, ctx.hostname), env.replyTo);
  return { kind: "deadLetter", reason: (error as Error).message };
}

/**
 * Whether the task of a redelivered message has already succeeded at this attempt or a later
 * one. An ack lost with a crashed server (JetStream replicates consumer acks asynchronously) or
 * with a worker that died after storing the result brings back an attempt that ran: running it
 * again would repeat its effects and could store RETRY over a later attempt's SUCCESS. Only
 * redeliveries pay this read, and only tasks whose results are kept can be recognised.
 */
async function succeededAlready(task: Task, env: TaskEnvelope): Promise<{ value: unknown } | undefined> {
  if (env.ignoreResult ?? task.effective("ignoreResult")) return undefined;
  try {
    const meta = await task.app.backend.get(env.id);
    return meta?.status === states.SUCCESS && (meta.retries ?? 0) >= env.retries ? { value: meta.result } : undefined;
  } catch {
    return undefined; // the backend is away: run it, as without this check
  }
}
