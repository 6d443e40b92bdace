/**
 * `EagerResult`: the result of `task.apply()`, which ran in this process. Same reading surface
 * as `AsyncResult`, answered from memory.
 * @module
 */
import type { ResultMeta } from "../protocol/result.ts";
import { settle, type GetOptions } from "./async_result.ts";
import { READY_STATES, type State, states } from "../protocol/states.ts";

/** The result of a task run in process by `apply()`. */
export class EagerResult<T = unknown> {
  /** Wraps what `apply()` stored in memory; `apply()` builds it. */
  constructor(
    /** The task's id. */
    readonly id: string,
    /** The final state, result and details, as a backend would store them. */
    readonly meta: ResultMeta,
  ) {}

  /** The state it ended in. */
  get state(): Promise<State> {
    return Promise.resolve(this.meta.status);
  }

  /** Its return value or error. */
  get result(): Promise<unknown> {
    return Promise.resolve(settle(this.meta, false));
  }

  /** Same as `result`. */
  get info(): Promise<unknown> {
    return this.result;
  }

  /** The stack of a failure. */
  get traceback(): Promise<string | undefined> {
    return Promise.resolve(this.meta.traceback);
  }

  /** Always true once apply() returned, unless the task was ignored. */
  ready(): Promise<boolean> {
    return Promise.resolve(READY_STATES.has(this.meta.status));
  }

  /** Whether it succeeded. */
  successful(): Promise<boolean> {
    return Promise.resolve(this.meta.status === states.SUCCESS);
  }

  /** Whether it failed. */
  failed(): Promise<boolean> {
    return Promise.resolve(this.meta.status === states.FAILURE);
  }

  /** The value, or the task's error re-thrown (unless `propagate: false`). */
  get(options: Pick<GetOptions, "propagate"> = {}): Promise<T> {
    try {
      return Promise.resolve(settle(this.meta, options.propagate ?? true) as T);
    } catch (e) {
      return Promise.reject(e);
    }
  }
}
