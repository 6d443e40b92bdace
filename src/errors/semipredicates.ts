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
  /** Always `"Retry"`: kept by bundlers and minifiers, unlike `constructor.name`. */
  override name = "Retry" as const;
  /** Always `"RETRY"`: a stable code to branch on, unlike the message. */
  override readonly code = "RETRY";
  /** The error that caused the retry. */
  readonly exc?: unknown;
  /** When the next attempt is due. */
  readonly when?: Date;

  /**
   * Tasks call `self.retry()` rather than this; the message says when and why.
   * @param info the cause, when the next attempt runs, or a reason
   */
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
  /** Always `"Ignore"`: kept by bundlers and minifiers, unlike `constructor.name`. */
  override name = "Ignore" as const;
  /** Always `"IGNORE"`: a stable code to branch on, unlike the message. */
  override readonly code = "IGNORE";
  /**
   * Throw it from a task body; the worker acks the message and stores nothing.
   * @param message why the task ignores its message (for logs)
   */
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
  /** Always `"Reject"`: kept by bundlers and minifiers, unlike `constructor.name`. */
  override name = "Reject" as const;
  /** Always `"REJECT"`: a stable code to branch on, unlike the message. */
  override readonly code = "REJECT";
  /** Why the task rejected its message. */
  readonly reason: string;
  /** Whether the message is delivered again. */
  readonly requeue: boolean;

  /**
   * Throw it from a task body; the worker requeues or dead-letters the message.
   * @param reason why (an Error's `name: message`, or any value as text); an Error is also the `cause`
   * @param options `requeue`: deliver the message again instead of dead-lettering it
   */
  constructor(reason: unknown = "rejected", options: RejectOptions = {}) {
    const text = reason instanceof Error ? `${reason.name}: ${reason.message}` : String(reason);
    super(`Rejected: ${text}`, { cause: reason instanceof Error ? reason : undefined });
    this.reason = text;
    this.requeue = options.requeue ?? false;
  }
}
