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
  /** `"TaskdError"` here; each subclass sets its own literal name, kept by bundlers unlike `constructor.name`. */
  override name = "TaskdError";
  /** A stable, machine-readable code, e.g. `NOT_REGISTERED`. */
  readonly code: string = "TASKD_ERROR";
  /** The task's registered name, when known. */
  readonly taskName?: string;
  /** The task's id, when known. */
  readonly taskId?: string;

  /**
   * An error about one task (or none), with a message for people.
   * @param message what went wrong and what to do, e.g. "Cannot call tasks.add: expected 2 arguments, got 1"
   * @param options the cause, and the task's name and id when known
   */
  constructor(message: string, options: TaskdErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.taskName = options.taskName;
    this.taskId = options.taskId;
  }
}
