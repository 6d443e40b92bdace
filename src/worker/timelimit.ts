/**
 * Time limits around one execution. Soft (`softTimeLimit`): the request's signal aborts with
 * `SoftTimeLimitExceeded` as its reason, so the body can clean up and end as it likes. Hard
 * (`timeLimit`): the execution is killed — the task ends FAILURE with `TimeLimitExceeded`; the
 * threads pool terminates the thread, the async pool abandons the body. Both call the
 * request's `onTimeout(soft, timeout)` first, in the worker process.
 * @module
 */
import type { Request } from "../app/request.ts";
import { SoftTimeLimitExceeded, TimeLimitExceeded } from "../errors/errors.ts";
import { getLogger } from "../log/logger.ts";
import type { Execution } from "./pool/pool.ts";
import type { Outcome } from "../app/trace.ts";

const log = getLogger("taskd.worker");

/** `[soft, hard]` limits in seconds, `null` for none. */
export type TimeLimits = [number | null, number | null];

/** The largest delay a timer takes (about 24.8 days); longer limits are effectively none. */
const MAX_TIMER_MS = 2 ** 31 - 1;

function valid(s: number | null | undefined): s is number {
  return typeof s === "number" && Number.isFinite(s) && s > 0;
}

async function callOnTimeout(request: Request, soft: boolean, timeout: number): Promise<void> {
  try {
    await request.onTimeout(soft, timeout);
  } catch (e) {
    log.error(`${request.taskName}[${request.id}] Request.onTimeout threw; the limit applies anyway:`, e);
  }
}

/** Waits for `execution` under `limits`; resolves with its outcome (or the hard limit's failure). */
export function withTimeLimits(execution: Execution, request: Request, limits: TimeLimits): Promise<Outcome> {
  const [soft, hard] = limits;
  if (!valid(soft) && !valid(hard)) return execution.outcome;
  const timers: ReturnType<typeof setTimeout>[] = [];
  const name = `${request.taskName}[${request.id}]`;
  if (valid(soft) && (!valid(hard) || soft < hard)) {
    timers.push(setTimeout(async () => {
      log.warn(`Soft time limit (${soft}s) exceeded for ${name}`);
      await callOnTimeout(request, true, soft);
      execution.abort(new SoftTimeLimitExceeded(`Soft time limit (${soft}s) exceeded for ${name}`, { taskName: request.taskName, taskId: request.id }));
    }, Math.min(soft * 1000, MAX_TIMER_MS)));
  }
  if (valid(hard)) {
    timers.push(setTimeout(async () => {
      log.error(`Hard time limit (${hard}s) exceeded for ${name}`);
      const error = new TimeLimitExceeded(`Cannot finish ${name}: its hard time limit (${hard}s) passed, so it was stopped`, { taskName: request.taskName, taskId: request.id });
      // Kill first: the next task must not wait for a slow onTimeout.
      execution.kill({ kind: "failure", error, expected: false });
      await callOnTimeout(request, false, hard);
    }, Math.min(hard * 1000, MAX_TIMER_MS)));
  }
  return execution.outcome.finally(() => timers.forEach(clearTimeout));
}
