/**
 * Running one task execution: the request context, handlers and signals around the body,
 * validation, and turning what the body did into an outcome (success, failure, retry, ignore,
 * reject). Shared by the worker and by `apply()`; it does not ack or store anything itself:
 * the worker passes {@link TraceHooks} that store STARTED and the outcome at Celery's points.
 *
 * Celery's order (celery/app/trace.py), kept here: taskPrerun → STARTED stored → beforeStart →
 * body → outcome stored → onSuccess + taskSuccess | onRetry + taskRetry | onFailure +
 * taskFailure → afterReturn (SUCCESS and FAILURE only) → taskPostrun (always) → then, in the
 * worker, the custom Request's onFailure.
 * @module
 */
import { runInTask } from "../context/task_context.ts";
import { ExceptionInfo, type Request, requestFailed } from "./request.ts";
import { autoretries, autoretryCountdown, isAny } from "./autoretry.ts";
import { Ignore, Reject, Retry } from "../errors/semipredicates.ts";
import { raisedByRetry, Task } from "./task.ts";
import { signals } from "../signals/signals.ts";
import { getLogger } from "../log/logger.ts";
import { isRefusedCall, validationOf } from "../validate/validate.ts";
import { bindCall } from "../validate/bind.ts";
import { states } from "../protocol/states.ts";

const log = getLogger("taskd.trace");

/** What a task execution came to. */
export type Outcome =
  | { kind: "success"; value: unknown }
  // refused: the arguments failed validation before the body ran; never retried, dead-lettered
  | { kind: "failure"; error: unknown; expected: boolean; refused?: boolean }
  | { kind: "retry"; retry: Retry }
  | { kind: "ignored"; ignore: Ignore }
  | { kind: "rejected"; reject: Reject }
  /** Terminated from outside while it ran (`revoke --terminate`). */
  | { kind: "revoked"; error: Error };

/** What the worker does at fixed points of a run (`apply()` passes none). */
export interface TraceHooks {
  /** After taskPrerun, before beforeStart: the worker stores STARTED here under trackStarted. */
  started?(): unknown;
  /** After the body, before any handler: the worker stores the outcome here, as Celery does. */
  store?(outcome: Outcome): unknown;
}

/** The state an outcome is stored as. */
export function stateOf(o: Outcome): string {
  return o.kind === "success" ? states.SUCCESS : o.kind === "retry" ? states.RETRY : o.kind === "failure" || o.kind === "rejected" ? states.FAILURE : o.kind === "revoked" ? states.REVOKED : "IGNORED";
}

/** The state taskPostrun reports: Celery's names, including its internal IGNORED and REJECTED. */
function postrunState(o: Outcome): string {
  return o.kind === "rejected" ? "REJECTED" : stateOf(o);
}

/**
 * Whether `task` has its own `handler` (a subclass's or an instance's): the base class's do
 * nothing, so a task without one skips the call and its await (most tasks, on every run).
 */
function hasHandler(task: Task, handler: "beforeStart" | "onSuccess" | "afterReturn"): boolean {
  return task[handler] !== Task.prototype[handler];
}

async function safely(what: string, fn: () => unknown): Promise<void> {
  try {
    await fn();
  } catch (e) {
    log.error(`${what} threw; the task's outcome is unchanged:`, e);
  }
}

/**
 * The arguments the body of `task` receives: args, then kwargs bound by name, the rest as one
 * options object (src/validate/bind.ts). Throws a refused `TypeError` when they cannot bind.
 */
export function callArgs(task: Task, args: unknown[], kwargs: Record<string, unknown>): unknown[] {
  return bindCall(task, args, kwargs);
}

async function autoretry(task: Task, request: Request, error: unknown): Promise<Outcome | undefined> {
  if (!autoretries(task, error)) return undefined;
  const kw = task.retryKwargs ?? {};
  const countdown = autoretryCountdown(task, request.retries);
  try {
    await task.retry({ exc: error, countdown, maxRetries: "maxRetries" in kw ? kw.maxRetries : undefined });
  } catch (e) {
    if (e instanceof Retry) return { kind: "retry", retry: e };
    return { kind: "failure", error: e, expected: isAny(e, task.throws) };
  }
  return undefined;
}

async function classify(task: Task, request: Request, thrown: unknown): Promise<Outcome> {
  // `throw self.retry(…)` (Celery's `raise self.retry(…)`) throws the promise retry() returns:
  // what it settles to is what was meant.
  let error = thrown;
  if (isThenable(thrown)) {
    try {
      error = await thrown;
    } catch (e) {
      error = e;
    }
  }
  if (error instanceof Retry) return { kind: "retry", retry: error };
  if (error instanceof Ignore) return { kind: "ignored", ignore: error };
  if (error instanceof Reject) return { kind: "rejected", reject: error };
  // An error retry() itself raised (past maxRetries) ends the task: it is not autoretried again.
  const auto = raisedByRetry(error) ? undefined : await autoretry(task, request, error);
  return auto ?? { kind: "failure", error, expected: isAny(error, task.throws) };
}

function isThenable(x: unknown): x is PromiseLike<unknown> {
  return typeof x === "object" && x !== null && typeof (x as { then?: unknown }).then === "function";
}

/** Runs `task` for `request`, with its handlers and signals, and returns the outcome. */
export function trace(task: Task, request: Request, hooks: TraceHooks = {}): Promise<Outcome> {
  request.task ??= task;
  return runInTask({ task, request }, async () => {
    const { id, args, kwargs } = request;
    let outcome: Outcome | undefined;
    let einfo: ExceptionInfo | undefined;
    try {
      if (signals.taskPrerun.hasReceivers) await signals.taskPrerun.send(task, { taskId: id, task, args, kwargs, request });
      if (hooks.started) await hooks.started();
      if (hasHandler(task, "beforeStart")) await safely(`${task.name}.beforeStart`, () => task.beforeStart(id, args, kwargs));
      try {
        const spec = validationOf(task);
        const input = spec ? await spec.parseArgs(args, kwargs) : callArgs(task, args, kwargs);
        let value = await task.run(...input);
        if (spec) value = await spec.parseReturn(value);
        outcome = { kind: "success", value };
      } catch (e) {
        outcome = isRefusedCall(e) ? { kind: "failure", error: e, expected: true, refused: true } : await classify(task, request, e);
      }
      if (hooks.store) await hooks.store(outcome);
      einfo = await handlers(task, request, outcome);
    } finally {
      if (signals.taskPostrun.hasReceivers) {
        const retval = outcome === undefined ? undefined : outcome.kind === "success" ? outcome.value : outcome.kind === "failure" ? outcome.error : outcome.kind === "retry" ? outcome.retry : outcome.kind === "ignored" ? outcome.ignore : outcome.kind === "rejected" ? outcome.reject : outcome.error;
        await signals.taskPostrun.send(task, { taskId: id, task, args, kwargs, retval, state: outcome ? postrunState(outcome) : states.FAILURE, request });
      }
    }
    if (outcome.kind === "failure" && !request.isEager) await requestFailed(request, outcome.error, einfo);
    return outcome;
  });
}

/** The task's handlers and the outcome's signal; returns the ExceptionInfo of an error outcome. */
async function handlers(task: Task, request: Request, o: Outcome): Promise<ExceptionInfo | undefined> {
  const { id, args, kwargs } = request;
  if (o.kind === "success") {
    if (hasHandler(task, "onSuccess")) await safely(`${task.name}.onSuccess`, () => task.onSuccess(o.value, id, args, kwargs));
    if (signals.taskSuccess.hasReceivers) await signals.taskSuccess.send(task, { result: o.value, task, taskId: id, request });
    if (hasHandler(task, "afterReturn")) await safely(`${task.name}.afterReturn`, () => task.afterReturn(states.SUCCESS, o.value, id, args, kwargs, undefined));
    return undefined;
  }
  if (o.kind === "retry") {
    const exc = o.retry.exc ?? o.retry;
    const einfo = new ExceptionInfo(exc);
    await safely(`${task.name}.onRetry`, () => task.onRetry(exc, id, args, kwargs, einfo));
    await signals.taskRetry.send(task, { request, reason: o.retry, einfo, task, taskId: id });
    return einfo;
  }
  if (o.kind === "failure") {
    const einfo = new ExceptionInfo(o.error);
    await safely(`${task.name}.onFailure`, () => task.onFailure(o.error, id, args, kwargs, einfo));
    await signals.taskFailure.send(task, { taskId: id, exception: o.error, args, kwargs, traceback: einfo.traceback, einfo, task, request });
    // Celery passes einfo=None here; taskd passes the failure's, so afterReturn can log the stack.
    await safely(`${task.name}.afterReturn`, () => task.afterReturn(states.FAILURE, o.error, id, args, kwargs, einfo));
    return einfo;
  }
  if (o.kind === "rejected" && !o.reject.requeue) {
    // Stored as FAILURE, so announced as one (Celery #4222); no handler runs for a rejection.
    const einfo = new ExceptionInfo(o.reject);
    await signals.taskFailure.send(task, { taskId: id, exception: o.reject, args, kwargs, traceback: einfo.traceback, einfo, task, request });
    return einfo;
  }
  // Ignore and a requeued Reject: no handler, as in Celery (they are not outcomes of the task's work).
  return undefined;
}
