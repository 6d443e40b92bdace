/**
 * Celery's autoretry decision, in one place for the trace and the batch runner: whether an
 * error is retried automatically (`autoretryFor`, not `dontAutoretryFor`), and after how long
 * (`retryBackoff` with its cap and jitter, else `retryKwargs.countdown`).
 * @module
 */
import type { Task } from "./task.ts";
import { backoffDelay } from "./backoff.ts";

/** Whether `error` is an instance of one of `classes`. */
export function isAny(error: unknown, classes: readonly unknown[] | undefined): boolean {
  // deno-lint-ignore no-explicit-any
  return Boolean(classes?.some((c) => typeof c === "function" && error instanceof (c as any)));
}

/** Whether `task` retries `error` by itself. */
export function autoretries(task: Task, error: unknown): boolean {
  return isAny(error, task.autoretryFor) && !isAny(error, task.dontAutoretryFor);
}

/**
 * Seconds before the next automatic attempt after `retries` retries: the backoff when
 * `retryBackoff` is set, else `retryKwargs.countdown` (`undefined`: the task's default delay).
 */
export function autoretryCountdown(task: Task, retries: number): number | undefined {
  const factor = backoffFactor(task.retryBackoff);
  if (factor === undefined) return task.retryKwargs?.countdown;
  return backoffDelay({ factor, retries, max: task.effective("retryBackoffMax"), jitter: task.effective("retryJitter") });
}

/**
 * The backoff factor `retryBackoff` means, as Celery reads it: `true` is 1, a number is
 * `int(max(1, x))`, and `false`, `0` or anything not a number means no backoff.
 */
export function backoffFactor(retryBackoff: boolean | number | undefined): number | undefined {
  if (retryBackoff === true) return 1;
  if (typeof retryBackoff !== "number" || !Number.isFinite(retryBackoff) || retryBackoff === 0) return undefined;
  return Math.trunc(Math.max(1, retryBackoff));
}
