/**
 * Errors of workflows: a chord whose header failed, a chain stopped by a failing step.
 * @module
 */
import { TaskdError, type TaskdErrorOptions } from "../errors/base.ts";

/** A chord's header task failed, so its body never runs; the body's result holds this. */
export class ChordError extends TaskdError {
  override name = "ChordError" as const;
  override readonly code = "CHORD_FAILED";
  /** The chord's id (the header's group id). */
  readonly chordId: string;
  constructor(message: string, chordId: string, options: TaskdErrorOptions = {}) {
    super(message, options);
    this.chordId = chordId;
  }
}

/** A step of a chain failed, so the steps after it never run; their results hold this. */
export class ChainError extends TaskdError {
  override name = "ChainError" as const;
  override readonly code = "CHAIN_FAILED";
}
