/**
 * Storing what a task execution came to in the result backend: STARTED, the outcome (SUCCESS,
 * FAILURE, RETRY, REVOKED), honouring ignoreResult and storeErrorsEvenIfIgnored. Writes ride out
 * broker outages (a result is worth waiting for); a result too large for a message is stored
 * as a FAILURE naming its size and the limit. Used by the worker and by pool threads.
 * @module
 */
import process from "node:process";
import type { App } from "../app/app.ts";
import { ExceptionInfo, type Request } from "../app/request.ts";
import type { Task } from "../app/task.ts";
import { PayloadTooLargeError, serializeError } from "../errors/errors.ts";
import { type ResultMeta, sealMeta } from "../protocol/result.ts";
import { serializerByName } from "../protocol/codec.ts";
import { states } from "../protocol/states.ts";
import { signals } from "../signals/signals.ts";
import { getLogger } from "../log/logger.ts";
import type { Outcome } from "../app/trace.ts";

const log = getLogger("taskd.worker");

/** How long a result write keeps retrying through an outage. */
export const STORE_RETRY_MS = 120_000;

/** Errors no retry can fix: a bad key, a refused permission, a closed connection. */
function isPermanent(e: unknown): boolean {
  if (e instanceof TypeError) return true;
  return /invalid key|permission|authori[sz]ation|connection closed|closed connection/i.test(String((e as Error)?.message));
}

/**
 * Stores `meta`, retrying through outages for up to two minutes; a ready state is then also
 * published to `replyTo` (the task's reply inbox, when it has one). Never throws.
 */
export async function storeResult(app: App, meta: ResultMeta, replyTo?: string, origin?: { task: Task; request: Request }): Promise<void> {
  const deadline = Date.now() + STORE_RETRY_MS;
  for (let delay = 100, attempt = 0;; delay = Math.min(delay * 2, 5000), attempt++) {
    try {
      // A RETRY, or a STARTED that had to wait, never hides a later attempt's state.
      if (meta.status === states.RETRY || (meta.status === states.STARTED && attempt > 0)) {
        if (!await app.backend.storeUnlessNewer(meta)) log.info(`${meta.taskName}[${meta.taskId}]: ${meta.status} of attempt ${meta.retries ?? 0} not stored: a later attempt's state is`);
      } else await app.backend.store(meta, replyTo);
      return;
    } catch (e) {
      if (e instanceof PayloadTooLargeError && (meta.result as { type?: string } | undefined)?.type !== e.name) {
        log.error(e.message);
        meta = failureMeta({ id: meta.taskId, task: meta.taskName ?? "", retries: meta.retries ?? 0 }, e, meta.worker ?? "");
        continue;
      }
      if (Date.now() > deadline || isPermanent(e)) {
        log.error(`could not store the result of ${meta.taskName}[${meta.taskId}]: ${(e as Error).message}`);
        const einfo = new ExceptionInfo(e);
        await signals.taskInternalError.send(origin?.task ?? meta.taskName, {
          taskId: meta.taskId,
          args: origin?.request.args,
          kwargs: origin?.request.kwargs,
          request: origin?.request,
          exception: e,
          traceback: einfo.traceback,
          einfo,
        });
        return;
      }
      log.warn(`storing the result of ${meta.taskName}[${meta.taskId}] failed (${(e as Error).message}); retrying in ${delay} ms`);
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}

/** The FAILURE entry for `error`. */
export function failureMeta(env: { id: string; task: string; retries: number }, error: unknown, hostname: string): ResultMeta {
  const e = serializeError(error);
  return { taskId: env.id, taskName: env.task, status: states.FAILURE, result: e, traceback: e.stack, retries: env.retries, worker: hostname, dateDone: new Date().toISOString() };
}

/** Stores STARTED `{ pid, hostname }` when the task tracks it and keeps results. */
export async function storeStarted(task: Task, request: Request, hostname: string): Promise<void> {
  if (!task.effective("trackStarted") || request.ignoreResult) return;
  await storeResult(task.app, { taskId: request.id, taskName: task.name, status: states.STARTED, result: { pid: process.pid, hostname }, worker: hostname, retries: request.retries });
}

/**
 * Stores what a run came to. Results are kept unless ignored (call option > task option > app
 * default, resolved into `request.ignoreResult`); failures and retries also when the task sets
 * storeErrorsEvenIfIgnored. A requeued rejection and an ignored run store nothing.
 */
export async function storeOutcome(task: Task, request: Request, o: Outcome, hostname: string): Promise<void> {
  // A task sent with an encrypting serializer gets its result sealed with it (docs/security.md).
  const serializer = serializerByName(task.effective("serializer"));
  const store = (app: App, m: ResultMeta, replyTo?: string) => storeResult(app, serializer.encrypts ? sealMeta(m, serializer) : m, replyTo, { task, request });
  const ignoreResult = request.ignoreResult;
  const storeErrors = !ignoreResult || task.effective("storeErrorsEvenIfIgnored");
  const base = { taskId: request.id, taskName: task.name, retries: request.retries, worker: hostname };
  const meta = { id: request.id, task: task.name, retries: request.retries };
  if (o.kind === "success") {
    if (!ignoreResult) await store(task.app, { ...base, status: states.SUCCESS, result: o.value, dateDone: new Date().toISOString() }, request.replyTo);
  } else if (o.kind === "failure") {
    if (storeErrors) await store(task.app, failureMeta(meta, o.error, hostname), request.replyTo);
  } else if (o.kind === "retry") {
    if (storeErrors) {
      const e = serializeError(o.retry.exc ?? o.retry);
      await store(task.app, { ...base, status: states.RETRY, result: e, traceback: e.stack }, request.replyTo);
    }
  } else if (o.kind === "revoked") {
    if (!ignoreResult) {
      await store(task.app, { ...base, status: states.REVOKED, result: { type: "TaskRevokedError", message: o.error.message }, dateDone: new Date().toISOString() }, request.replyTo);
    }
  } else if (o.kind === "rejected" && !o.reject.requeue) {
    if (storeErrors) await store(task.app, failureMeta(meta, o.reject, hostname), request.replyTo);
  }
}
