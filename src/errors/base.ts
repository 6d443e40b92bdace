/**
 * The root of taskd's error classes. Every error taskd throws on purpose is a `TaskdError`
 * with a literal `name`, a stable `code`, an optional `cause`, and the task's name and id
 * where they are known.
 * @module
 */

/** Where an error happened, when it concerns one task. */
export interface TaskdErrorOptions {
  /** The error that caused this one. */
  cause?: unknown;
  /** The task's registered name, e.g. `tasks.add`. */
  taskName?: string;
  /** The task's id. */
  taskId?: string;
}

/** Base class of every error taskd throws on purpose. */
export class TaskdError extends Error {
  override name = "TaskdError";
  /** A stable, machine-readable code, e.g. `NOT_REGISTERED`. */
  readonly code: string = "TASKD_ERROR";
  /** The task's registered name, when known. */
  readonly taskName?: string;
  /** The task's id, when known. */
  readonly taskId?: string;

  constructor(message: string, options: TaskdErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.taskName = options.taskName;
    this.taskId = options.taskId;
  }
}
