/**
 * Errors of workflows: a chord whose header failed, a chain stopped by a failing step.
 * @module
 */
import { TaskdError, type TaskdErrorOptions } from "../errors/base.ts";

/** A chord's header task failed, so its body never runs; the body's result holds this. */
export class ChordError extends TaskdError {
  /** The class name. */
  override name = "ChordError" as const;
  /** Stable code. */
  override readonly code = "CHORD_FAILED";
  /** The chord's id (the header's group id). */
  readonly chordId: string;
  /** A chord failure with its message and the chord's id. */
  constructor(message: string, chordId: string, options: TaskdErrorOptions = {}) {
    super(message, options);
    this.chordId = chordId;
  }
}

/** A step of a chain failed, so the steps after it never run; their results hold this. */
export class ChainError extends TaskdError {
  /** The class name. */
  override name = "ChainError" as const;
  /** Stable code. */
  override readonly code = "CHAIN_FAILED";
}
