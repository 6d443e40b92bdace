/**
 * The pool seam: where a task's body runs. The worker's execute path hands a task and its
 * request to a `Pool` and gets back an `Execution` — a promise of the outcome plus the two
 * levers the worker pulls from outside: `abort` (cooperative: the request's signal fires, for
 * the soft time limit) and `kill` (the execution is given up at once with a chosen outcome: the
 * hard time limit, `revoke --terminate`). Two pools implement it: `async` (tasks interleaved on
 * the worker's event loop) and `threads` (one task at a time per worker thread; `kill`
 * terminates the thread and starts a fresh one).
 * @module
 */
import type { Request } from "../../app/request.ts";
import type { Task } from "../../app/task.ts";
import type { Outcome, TraceHooks } from "../../app/trace.ts";

/** The pool kinds `taskd worker --pool` accepts. */
export const POOL_KINDS = ["async", "threads"] as const;
/** A pool kind. */
export type PoolKind = typeof POOL_KINDS[number];

/** One running task, as the worker sees it. */
export interface Execution {
  /** Settles with what the execution came to (never rejects). */
  readonly outcome: Promise<Outcome>;
  /** Aborts the request's signal with `reason`; the body may stop on its own. */
  abort(reason: Error): void;
  /**
   * Gives the execution up now: `outcome` settles with `result`. The async pool abandons the
   * body (it cannot stop code that never awaits); the threads pool terminates the thread.
   */
  kill(result: Outcome): void;
  /** Whether the run's `store` hook stored the outcome (false for a killed or lost execution). */
  readonly stored: boolean;
}

/** Where tasks run. */
export interface Pool {
  /** Which kind of pool this is. */
  readonly kind: PoolKind;
  /** How many tasks it runs at once. */
  readonly size: number;
  /** Prepares the execution units (threads load the task module); resolves when they are ready. */
  start(): Promise<void>;
  /**
   * Starts `task` for `request`; `abort` is the controller behind `request.signal`. `hooks`
   * store STARTED and the outcome inside the run, before the handlers (in a thread, the thread
   * stores through its own connection); they are skipped once the execution is killed.
   */
  run(task: Task, request: Request, abort: AbortController, hooks?: TraceHooks): Execution;
  /** Unit details for `inspect stats`. */
  stats(): Record<string, unknown>;
  /** Stops the units (after the worker let running tasks finish). */
  stop(): Promise<void>;
}

/** What the threads pool needs to start its units. */
export interface PoolOptions {
  /** Tasks run at once (threads: the number of threads). */
  size: number;
  /** The task module file the units import. */
  module?: string;
  /** The broker URL the units' apps use (retries, updateState, subtasks). */
  brokerUrl?: string | string[];
  /** The log level inside units. */
  loglevel?: string;
  /** Route a task's console output through the task logger at this level (each thread too). */
  redirectStdouts?: string;
  /** The worker's node name. */
  hostname: string;
}

/** Creates a pool of `kind`. */
export async function createPool(kind: string, options: PoolOptions): Promise<Pool> {
  if (kind === "async") {
    const { AsyncPool } = await import("./async.ts");
    return new AsyncPool(options.size, options.hostname);
  }
  if (kind === "threads") {
    const { ThreadsPool } = await import("./threads.ts");
    return new ThreadsPool(options);
  }
  throw new RangeError(`Cannot create a pool of kind '${kind}': use one of ${POOL_KINDS.join(", ")}`);
}
