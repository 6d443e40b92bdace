/**
 * What crosses between the worker and its threads: plain data only (structured clone keeps
 * values but loses error classes), so outcomes and errors travel serialized and are rebuilt on
 * the other side with taskd's own classes.
 * @module
 */
import { type SerializedError, serializeError, SoftTimeLimitExceeded, TaskError, TaskRevokedError, TimeLimitExceeded } from "../../errors/errors.ts";
import { Ignore, Reject, Retry } from "../../errors/semipredicates.ts";
import type { Request } from "../../app/request.ts";
import type { Outcome } from "../../app/trace.ts";

/** An outcome as plain data. */
export type WireOutcome =
  | { kind: "success"; value: unknown }
  | { kind: "failure"; error: SerializedError; expected: boolean; refused?: boolean }
  | { kind: "retry"; message: string; exc?: SerializedError; when?: string }
  | { kind: "ignored"; message: string }
  | { kind: "rejected"; reason: string; requeue: boolean }
  | { kind: "revoked"; error: SerializedError };

/** Messages from the worker to a thread. */
export type ToThread =
  | { type: "init"; module: string; brokerUrl?: string | string[]; loglevel?: string; redirectStdouts?: string; hostname: string }
  /**
   * `store`: the thread stores STARTED and the outcome itself, before the handlers run; `trace`:
   * the W3C context of the worker's process span, so what the task sends is its child.
   */
  | { type: "run"; id: string; task: string; fields: Record<string, unknown>; store?: boolean; trace?: Record<string, string> }
  | { type: "abort"; id: string; reason: SerializedError }
  | { type: "shutdown" };

/** Messages from a thread to the worker. */
export type FromThread =
  | { type: "ready"; tasks: string[] }
  | { type: "failed"; message: string }
  /** `stored`: the thread stored the outcome already. */
  | { type: "outcome"; id: string; outcome: WireOutcome; stored?: boolean }
  | { type: "bye" }
  /** An error escaped every task (a stray timer, an unhandled rejection): the thread is replaced. */
  | { type: "crashed"; message: string };

/** Turns an outcome into plain data. */
export function outcomeToWire(o: Outcome): WireOutcome {
  switch (o.kind) {
    case "success":
      return { kind: "success", value: o.value };
    case "failure":
      return { kind: "failure", error: serializeError(o.error), expected: o.expected, ...(o.refused ? { refused: true } : {}) };
    case "retry":
      return { kind: "retry", message: o.retry.message, exc: o.retry.exc === undefined ? undefined : serializeError(o.retry.exc), when: o.retry.when?.toISOString() };
    case "ignored":
      return { kind: "ignored", message: o.ignore.message };
    case "rejected":
      return { kind: "rejected", reason: o.reject.reason, requeue: o.reject.requeue };
    case "revoked":
      return { kind: "revoked", error: serializeError(o.error) };
  }
}

/** Rebuilds an outcome from plain data (remote errors become `TaskError`s keeping type, message and stack). */
export function outcomeFromWire(w: WireOutcome): Outcome {
  switch (w.kind) {
    case "success":
      return { kind: "success", value: w.value };
    case "failure":
      return { kind: "failure", error: new TaskError(w.error), expected: w.expected, ...(w.refused ? { refused: true } : {}) };
    case "retry": {
      const exc = w.exc ? new TaskError(w.exc) : undefined;
      return { kind: "retry", retry: new Retry({ exc, when: w.when ? new Date(w.when) : undefined, message: exc ? undefined : w.message }) };
    }
    case "ignored":
      return { kind: "ignored", ignore: new Ignore(w.message) };
    case "rejected":
      return { kind: "rejected", reject: new Reject(w.reason, { requeue: w.requeue }) };
    case "revoked":
      return { kind: "revoked", error: new TaskRevokedError(w.error.message) };
  }
}

/** Rebuilds an abort reason with its taskd class, so `signal.reason instanceof SoftTimeLimitExceeded` holds in threads too. */
export function reasonFromWire(e: SerializedError): Error {
  if (e.type === "SoftTimeLimitExceeded") return new SoftTimeLimitExceeded(e.message);
  if (e.type === "TimeLimitExceeded") return new TimeLimitExceeded(e.message);
  if (e.type === "TaskRevokedError") return new TaskRevokedError(e.message);
  const err = new Error(e.message);
  err.name = e.type;
  return err;
}

/** The request's fields as plain data (no signal, no task object, no methods). */
export function requestToWire(request: Request): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(request)) {
    if (k === "signal" || k === "task" || typeof v === "function") continue;
    out[k] = v;
  }
  return out;
}
