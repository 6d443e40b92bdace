/**
 * `guarded`: how a workflow step that runs after a task (a callback, the next chain step, chord
 * counting) meets broker trouble. It is repeated while the broker is away for a moment (a leader
 * election, a reconnect; every step is de-duplicated by its ids, so a repeat is harmless); a step
 * that still fails is logged and reported, never thrown at the finished task.
 * @module
 */
import { getLogger } from "../log/logger.ts";
import { retryTransient } from "../nats/retry.ts";

const log = getLogger("taskd.canvas");

/** How long one step keeps retrying through a broker outage. */
const STEP_RETRY_MS = 20_000;

/** Runs step `what`, repeating it through transient broker errors; `false` when it failed in the end. */
export async function guarded(what: string, fn: () => Promise<unknown>): Promise<boolean> {
  try {
    await retryTransient(fn, {
      deadlineMs: STEP_RETRY_MS,
      delayMs: 250,
      onRetry: (e, attempt) => log.warn(`${what} failed (${(e as Error)?.message ?? e}; attempt ${attempt}); retrying`),
    });
    return true;
  } catch (e) {
    log.error(`${what} failed: ${(e as Error)?.message ?? e}`);
    return false;
  }
}
