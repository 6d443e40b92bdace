/**
 * Semipredicates: errors a task throws to steer what the worker does with its message, as in
 * Celery (`Retry`, `Ignore`, `Reject`). The worker catches them by class, never by message.
 * @module
 */
import { TaskdError } from "./base.ts";

/** Options of {@link Retry}. */
export interface RetryInfo {
  /** The error that caused the retry, stored in the RETRY state. */
  exc?: unknown;
  /** When the next attempt runs. */
  when?: Date;
  /** A human reason, when there is no `exc`. */
  message?: string;
}

/**
 * Thrown by `self.retry()`: the worker has already published the next attempt, and records
 * the RETRY state. Let it propagate out of the task.
 */
export class Retry extends TaskdError {
  override name = "Retry" as const;
  override readonly code = "RETRY";
  /** The error that caused the retry. */
  readonly exc?: unknown;
  /** When the next attempt is due. */
  readonly when?: Date;

  constructor(info: RetryInfo = {}) {
    const why = info.exc instanceof Error ? `${info.exc.name}: ${info.exc.message}` : info.message;
    super(`Retry ${info.when ? `at ${info.when.toISOString()}` : "now"}${why ? `: ${why}` : ""}`);
    this.exc = info.exc;
    this.when = info.when;
  }
}

/**
 * Throw to tell the worker to ignore this message: it is acked and no state is stored (the
 * result stays PENDING).
 */
export class Ignore extends TaskdError {
  override name = "Ignore" as const;
  override readonly code = "IGNORE";
  constructor(message = "Task ignored") {
    super(message);
  }
}

/** Options of {@link Reject}. */
export interface RejectOptions {
  /** `true`: the message is nak'ed and delivered again. `false`: it is dead-lettered. @default false */
  requeue?: boolean;
}

/**
 * Throw to reject the message: with `requeue` it comes back, without it it goes to the
 * dead-letter stream with `reason`.
 */
export class Reject extends TaskdError {
  override name = "Reject" as const;
  override readonly code = "REJECT";
  /** Why the task rejected its message. */
  readonly reason: string;
  /** Whether the message is delivered again. */
  readonly requeue: boolean;

  constructor(reason: unknown = "rejected", options: RejectOptions = {}) {
    const text = reason instanceof Error ? `${reason.name}: ${reason.message}` : String(reason);
    super(`Rejected: ${text}`, { cause: reason instanceof Error ? reason : undefined });
    this.reason = text;
    this.requeue = options.requeue ?? false;
  }
}
