/**
 * `AsyncResult`: a handle on a task's result in the backend. Its `state`, `info`, `result`
 * and `traceback` are read fresh from the backend on each access (await them), as Celery's
 * properties are; `get()` waits for a ready state without polling. An AsyncResult is not a
 * promise: it has no `then`.
 * @module
 */
import type { ResultBackend } from "../nats/result_store.ts";
import type { ResultMeta } from "../protocol/result.ts";
import { type SerializedError, SyncSubtaskError, TaskError, TaskRevokedError } from "../errors/errors.ts";
import { currentTask } from "../context/task_context.ts";
import { EXCEPTION_STATES, PROPAGATE_STATES, READY_STATES, type State, states } from "../protocol/states.ts";

/** Options of `get()`. */
export interface GetOptions {
  /** Seconds to wait; throws `TimeoutError` after. @default undefined (forever) */
  timeout?: number;
  /** Re-throw the task's error on FAILURE/REVOKED. @default true */
  propagate?: boolean;
  /** Refuse to wait inside a task (it can deadlock a worker). @default true */
  disableSyncSubtasks?: boolean;
}

/** What an AsyncResult needs from its app. */
export interface ResultOwner {
  /** Where `get()`, `state` and `forget()` read and delete the result. */
  readonly backend: ResultBackend;
  /** Revokes `taskId` (`terminate`: also stop it if it is running); without it `AsyncResult.revoke()` throws a TypeError. */
  revoke?(taskId: string, options?: { terminate?: boolean }): Promise<void>;
}

/** The value `get()` returns for `meta`, or the error it throws. */
export function settle(meta: ResultMeta, propagate: boolean): unknown {
  if (meta.status === states.SUCCESS) return meta.result;
  const err = errorOf(meta);
  if (propagate && PROPAGATE_STATES.has(meta.status)) throw err;
  return err ?? meta.result;
}

function errorOf(meta: ResultMeta): Error | undefined {
  if (!EXCEPTION_STATES.has(meta.status)) return undefined;
  const e = (meta.result ?? {}) as SerializedError;
  if (meta.status === states.REVOKED) {
    return new TaskRevokedError(e.message ?? `Task ${meta.taskId} was revoked`, { taskId: meta.taskId, taskName: meta.taskName });
  }
  return new TaskError(
    { type: text(e.type, "Error"), message: text(e.message, ""), stack: typeof e.stack === "string" ? e.stack : undefined, data: e.data },
    { taskId: meta.taskId, taskName: meta.taskName },
  );
}

// Stored data, not code: a field that is not a string is replaced, never converted (an object
// whose `toString` is data would throw on String()).
function text(v: unknown, fallback: string): string {
  return typeof v === "string" ? v : typeof v === "number" || typeof v === "boolean" ? String(v) : fallback;
}

/** A task's result, by id. */
export class AsyncResult<T = unknown> {
  /** A handle on the result of task `id`; nothing is read until asked (`app.asyncResult(id)` builds one). */
  constructor(
    /** The task's id. */
    readonly id: string,
    /** The app whose result backend holds the result (and that can revoke the task). */
    readonly app: ResultOwner,
    /** The task's name, when known. */
    readonly taskName?: string,
    /** The task was sent with its result ignored: `get()` returns `null` at once (Celery's `ignored`). */
    readonly ignored = false,
  ) {}

  /** What the backend holds now (`null`: PENDING). */
  meta(): Promise<ResultMeta | null> {
    return this.app.backend.get(this.id);
  }

  /** The current state (await it). */
  get state(): Promise<State> {
    return this.meta().then((m) => m?.status ?? states.PENDING);
  }

  /** Alias of `state`. */
  get status(): Promise<State> {
    return this.state;
  }

  /** The return value, the error, or custom-state meta (await it). */
  get result(): Promise<unknown> {
    return this.meta().then((m) => (m ? settle(m, false) : null));
  }

  /** Same as `result`: custom-state meta while running (e.g. PROGRESS `{ current, total }`). */
  get info(): Promise<unknown> {
    return this.result;
  }

  /** The remote stack of a failure. */
  get traceback(): Promise<string | undefined> {
    return this.meta().then((m) => m?.traceback);
  }

  /** Whether the task finished (SUCCESS, FAILURE or REVOKED). */
  async ready(): Promise<boolean> {
    return READY_STATES.has(await this.state);
  }

  /** Whether it succeeded. */
  async successful(): Promise<boolean> {
    return (await this.state) === states.SUCCESS;
  }

  /** Whether it failed. */
  async failed(): Promise<boolean> {
    return (await this.state) === states.FAILURE;
  }

  /**
   * Waits for the result and returns it; re-throws the task's failure as a `TaskError`.
   * @example
   * ```ts
   * const r = await add.delay(2, 3);
   * console.log(await r.get({ timeout: 10 })); // 5
   * ```
   */
  async get(options: GetOptions = {}): Promise<T> {
    const { timeout, propagate = true, disableSyncSubtasks = true } = options;
    const ctx = currentTask();
    if (disableSyncSubtasks && ctx && !ctx.request.isEager) {
      throw new SyncSubtaskError(
        `Cannot wait on ${this.id} inside task ${ctx.task.name}: waiting on a subtask can deadlock the worker; use a chain or callback, or pass { disableSyncSubtasks: false }`,
        { taskId: ctx.request.id, taskName: ctx.task.name },
      );
    }
    if (timeout !== undefined && (!(timeout >= 0) || !Number.isFinite(timeout))) {
      throw new RangeError(`Cannot wait for ${this.id}: 'timeout' must be a number of seconds >= 0: current value is ${timeout}`);
    }
    if (this.ignored) return null as T;
    const meta = await this.app.backend.wait(this.id, timeout === undefined ? undefined : timeout * 1000);
    return settle(meta, propagate) as T;
  }

  /** Deletes the stored result. */
  forget(): Promise<void> {
    return this.app.backend.forget(this.id);
  }

  /** Revokes the task: it will not run; with `terminate`, a running one is stopped. */
  revoke(options: { terminate?: boolean } = {}): Promise<void> {
    if (!this.app.revoke) throw new TypeError("Cannot revoke: this result is not attached to an app");
    return this.app.revoke(this.id, options);
  }

  /** The id. */
  toString(): string {
    return this.id;
  }
}
