/**
 * Task state names and the sets Celery groups them in. Custom states are any other string.
 * @module
 */

/** The built-in states, by name. */
export const states = {
  /** Unknown to the backend: waiting, or never sent, or its result expired or was ignored. */
  PENDING: "PENDING",
  /** A worker took the message. */
  RECEIVED: "RECEIVED",
  /** A worker started the task (stored only with `trackStarted`). */
  STARTED: "STARTED",
  /** The task returned; the result is its return value. */
  SUCCESS: "SUCCESS",
  /** The task threw; the result is the error. */
  FAILURE: "FAILURE",
  /** The task is waiting for its next attempt. */
  RETRY: "RETRY",
  /** The task was revoked or expired and never ran. */
  REVOKED: "REVOKED",
} as const;

/** A built-in state name. */
export type BuiltinState = typeof states[keyof typeof states];
/** Any state name: built-in or custom (e.g. `PROGRESS`). */
export type State = BuiltinState | (string & Record<never, never>);

/** States after which a task will not change again. */
export const READY_STATES: ReadonlySet<State> = new Set([states.SUCCESS, states.FAILURE, states.REVOKED]);
/** States a task passes through before it is ready. */
export const UNREADY_STATES: ReadonlySet<State> = new Set([states.PENDING, states.RECEIVED, states.STARTED, states.RETRY]);
/** States whose result is an error. */
export const EXCEPTION_STATES: ReadonlySet<State> = new Set([states.RETRY, states.FAILURE, states.REVOKED]);
/** States whose error `get()` re-throws. */
export const PROPAGATE_STATES: ReadonlySet<State> = new Set([states.FAILURE, states.REVOKED]);
