/**
 * Running one task execution: the request context, handlers and signals around the body,
 * validation, and turning what the body did into an outcome (success, failure, retry, ignore,
 * reject). Shared by the worker and by `apply()`; it does not ack or store anything itself.
 * @module
 */
import { runInTask } from "../app/context.ts";
import { ExceptionInfo, type Request } from "../app/request.ts";
import type { Task } from "../app/task.ts";
import { backoffDelay } from "../app/backoff.ts";
import { Ignore, Reject, Retry } from "../errors/semipredicates.ts";
import { signals } from "../signals/signals.ts";
import { getLogger } from "../log/logger.ts";
import { validationOf } from "../validate/validate.ts";
import { states } from "../result/states.ts";

const log = getLogger("taskd.trace");

/** What a task execution came to. */
export type Outcome =
  | { kind: "success"; value: unknown }
  | { kind: "failure"; error: unknown; expected: boolean }
  | { kind: "retry"; retry: Retry }
  | { kind: "ignored"; ignore: Ignore }
  | { kind: "rejected"; reject: Reject }
  /** Terminated from outside while it ran (`revoke --terminate`). */
  | { kind: "revoked"; error: Error };

/** The state an outcome is stored as. */
export function stateOf(o: Outcome): string {
  return o.kind === "success" ? states.SUCCESS : o.kind === "retry" ? states.RETRY : o.kind === "failure" || o.kind === "rejected" ? states.FAILURE : o.kind === "revoked" ? states.REVOKED : "IGNORED";
}

async function safely(what: string, fn: () => unknown): Promise<void> {
  try {
    await fn();
  } catch (e) {
    log.error(`${what} threw; the task's outcome is unchanged:`, e);
  }
}

function isAny(e: unknown, classes: readonly unknown[] | undefined): boolean {
  // deno-lint-ignore no-explicit-any
  return Boolean(classes?.some((c) => typeof c === "function" && e instanceof (c as any)));
}

/** The arguments the body receives: args, then kwargs as one trailing object when there are any. */
export function callArgs(args: unknown[], kwargs: Record<string, unknown>): unknown[] {
  return kwargs && Object.keys(kwargs).length > 0 ? [...args, kwargs] : args;
}

async function autoretry(task: Task, request: Request, error: unknown): Promise<Outcome | undefined> {
  if (!isAny(error, task.autoretryFor) || isAny(error, task.dontAutoretryFor)) return undefined;
  const kw = task.retryKwargs ?? {};
  let countdown = kw.countdown;
  const backoff = task.retryBackoff ?? false;
  if (backoff !== false) {
    countdown = backoffDelay({
      factor: backoff === true ? 1 : Number(backoff),
      retries: request.retries,
      max: task.effective("retryBackoffMax"),
      jitter: task.effective("retryJitter"),
    });
  }
  try {
    await task.retry({ exc: error, countdown, maxRetries: "maxRetries" in kw ? kw.maxRetries : undefined });
  } catch (e) {
    if (e instanceof Retry) return { kind: "retry", retry: e };
    return { kind: "failure", error: e, expected: isAny(e, task.throws) };
  }
  return undefined;
}

async function classify(task: Task, request: Request, error: unknown): Promise<Outcome> {
  if (error instanceof Retry) return { kind: "retry", retry: error };
  if (error instanceof Ignore) return { kind: "ignored", ignore: error };
  if (error instanceof Reject) return { kind: "rejected", reject: error };
  return (await autoretry(task, request, error)) ?? { kind: "failure", error, expected: isAny(error, task.throws) };
}

/** Runs `task` for `request`, with its handlers and signals, and returns the outcome. */
export function trace(task: Task, request: Request): Promise<Outcome> {
  return runInTask({ task, request }, async () => {
    const { id, args, kwargs } = request;
    await signals.taskPrerun.send(task, { taskId: id, task, args, kwargs, request });
    await safely(`${task.name}.beforeStart`, () => task.beforeStart(id, args, kwargs));
    let outcome: Outcome;
    try {
      const spec = validationOf(task);
      const input = spec ? await spec.parseArgs(args, kwargs) : callArgs(args, kwargs);
      let value = await task.run(...input);
      if (spec) value = await spec.parseReturn(value);
      outcome = { kind: "success", value };
    } catch (e) {
      outcome = await classify(task, request, e);
    }
    await after(task, request, outcome);
    return outcome;
  });
}

async function after(task: Task, request: Request, o: Outcome): Promise<void> {
  const { id, args, kwargs } = request;
  let retval: unknown = undefined;
  let einfo: ExceptionInfo | undefined;
  if (o.kind === "success") {
    retval = o.value;
    await safely(`${task.name}.onSuccess`, () => task.onSuccess(o.value, id, args, kwargs));
    await signals.taskSuccess.send(task, { result: o.value, task, taskId: id });
  } else if (o.kind === "retry") {
    const exc = o.retry.exc ?? o.retry;
    einfo = new ExceptionInfo(exc);
    retval = exc;
    await safely(`${task.name}.onRetry`, () => task.onRetry(exc, id, args, kwargs, einfo!));
    await signals.taskRetry.send(task, { request, reason: exc, einfo, task, taskId: id });
  } else if (o.kind === "failure") {
    einfo = new ExceptionInfo(o.error);
    retval = o.error;
    await safely(`${task.name}.onFailure`, () => task.onFailure(o.error, id, args, kwargs, einfo!));
    await safely(`${task.name} Request.onFailure`, () => request.onFailure(o.error, einfo!));
    await signals.taskFailure.send(task, { taskId: id, exception: o.error, args, kwargs, traceback: einfo.traceback, einfo, task });
  }
  const status = stateOf(o);
  await safely(`${task.name}.afterReturn`, () => task.afterReturn(status, retval, id, args, kwargs, einfo));
  await signals.taskPostrun.send(task, { taskId: id, task, args, kwargs, retval, state: status, request });
}
