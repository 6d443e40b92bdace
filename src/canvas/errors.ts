/**
 * Errors of workflows: a chord whose header did not all succeed (or timed out), a chain stopped
 * by a step that did not succeed.
 * @module
 */
import { TaskdError, type TaskdErrorOptions } from "../errors/base.ts";

/** A chord header member that did not succeed, and why. */
export interface MemberFailure {
  /** Its place in the header. */
  index?: number;
  /** Its task id. */
  taskId: string;
  /** Its task's name. */
  taskName: string;
  /** How it ended: FAILURE, REVOKED, EXPIRED, DEAD_LETTERED, IGNORED. */
  state: string;
  /** Why, as a phrase after the task's name: "was revoked", "raised TypeError: boom". */
  reason: string;
}

/**
 * A chord's header did not all succeed (or `chordTimeout` passed first), so its body never
 * runs; the body's result holds this. Its message names each member that did not succeed and
 * why (and, on a timeout, the members still pending).
 */
export class ChordError extends TaskdError {
  /** The class name. */
  override name = "ChordError" as const;
  /** Stable code. */
  override readonly code = "CHORD_FAILED";
  /** The chord's id (the header's group id). */
  readonly chordId: string;
  /** The members that did not succeed (in process only; a stored error keeps the message). */
  readonly failures: MemberFailure[];
  /** The ids of members still pending when the chord timed out. */
  readonly pending: string[];
  /** A chord failure with its message and the chord's id. */
  constructor(message: string, chordId: string, options: TaskdErrorOptions = {}, failures: MemberFailure[] = [], pending: string[] = []) {
    super(message, options);
    this.chordId = chordId;
    this.failures = failures;
    this.pending = pending;
  }
}

/** A step of a chain did not succeed, so the steps after it never run; their results hold this. */
export class ChainError extends TaskdError {
  /** The class name. */
  override name = "ChainError" as const;
  /** Stable code. */
  override readonly code = "CHAIN_FAILED";
}
