/**
 * The errors taskd raises for tasks: unknown names, remote failures, time-outs and limits.
 * @module
 */
import { TaskdError, type TaskdErrorOptions } from "./base.ts";

/** The task name is not registered on the worker (or app) that was asked to run it. */
export class NotRegistered extends TaskdError {
  /** Always `"NotRegistered"`: kept by bundlers and minifiers, unlike `constructor.name`. */
  override name = "NotRegistered" as const;
  /** Always `"NOT_REGISTERED"`: a stable code to branch on, unlike the message. */
  override readonly code = "NOT_REGISTERED";
  /**
   * Builds the message from the name: what is missing and what to check.
   * @param taskName the name that was asked for
   * @param options the cause and the task id
   */
  constructor(taskName: string, options: TaskdErrorOptions = {}) {
    super(
      `Cannot run ${taskName}: no task of that name is registered; check the name and that the worker loads the module defining it`,
      { ...options, taskName },
    );
  }
}

/** How a failure travels from a worker to a client: plain data, never code. */
export interface SerializedError {
  /** The error's class name on the worker, e.g. `TypeError`. */
  type: string;
  /** Its message. */
  message: string;
  /** Its stack on the worker, when known. */
  stack?: string;
  /** Extra structured data (e.g. validation issues). */
  data?: unknown;
}

/**
 * A task failed on a worker; `get()` throws this with the remote error's type, message and
 * stack. It is rebuilt from data only: no remote class is ever instantiated.
 */
export class TaskError extends TaskdError {
  /** Always `"TaskError"`: kept by bundlers and minifiers, unlike `constructor.name`. */
  override name = "TaskError" as const;
  /** Always `"TASK_FAILED"`: a stable code to branch on, unlike the message. */
  override readonly code = "TASK_FAILED";
  /** The remote error's class name, e.g. `TypeError`. */
  readonly remoteType: string;
  /** The remote error's message. */
  readonly remoteMessage: string;
  /** The remote stack trace, when the worker sent one. */
  readonly remoteStack?: string;
  /** Extra data the worker attached (e.g. validation issues). */
  readonly data?: unknown;

  /**
   * Rebuilds the failure from what the worker stored; the message is `<type>: <message>`.
   * @param error the remote error as plain data
   * @param options the task's name and id
   */
  constructor(error: SerializedError, options: TaskdErrorOptions = {}) {
    super(`${error.type}: ${error.message}`, options);
    this.remoteType = error.type;
    this.remoteMessage = error.message;
    this.remoteStack = error.stack;
    this.data = error.data;
  }
}

/** `get({ timeout })` gave up before the result was ready. */
export class TimeoutError extends TaskdError {
  /** Always `"TimeoutError"`: kept by bundlers and minifiers, unlike `constructor.name`. */
  override name = "TimeoutError" as const;
  /** Always `"TIMEOUT"`: a stable code to branch on, unlike the message. */
  override readonly code = "TIMEOUT";
}

/** The task was revoked or expired before it ran; its state is REVOKED. */
export class TaskRevokedError extends TaskdError {
  /** Always `"TaskRevokedError"`: kept by bundlers and minifiers, unlike `constructor.name`. */
  override name = "TaskRevokedError" as const;
  /** Always `"REVOKED"`: a stable code to branch on, unlike the message. */
  override readonly code = "REVOKED";
}

/** A retry was asked for past `maxRetries`. */
export class MaxRetriesExceededError extends TaskdError {
  /** Always `"MaxRetriesExceededError"`: kept by bundlers and minifiers, unlike `constructor.name`. */
  override name = "MaxRetriesExceededError" as const;
  /** Always `"MAX_RETRIES_EXCEEDED"`: a stable code to branch on, unlike the message. */
  override readonly code = "MAX_RETRIES_EXCEEDED";
}

/** The hard time limit (`timeLimit`) passed: the task was stopped. */
export class TimeLimitExceeded extends TaskdError {
  /** Always `"TimeLimitExceeded"`: kept by bundlers and minifiers, unlike `constructor.name`. */
  override name = "TimeLimitExceeded" as const;
  /** Always `"TIME_LIMIT_EXCEEDED"`: a stable code to branch on, unlike the message. */
  override readonly code = "TIME_LIMIT_EXCEEDED";
}

/** The execution unit running the task (a pool thread) died; the worker replaced it and lives on. */
export class WorkerLostError extends TaskdError {
  /** Always `"WorkerLostError"`: kept by bundlers and minifiers, unlike `constructor.name`. */
  override name = "WorkerLostError" as const;
  /** Always `"WORKER_LOST"`: a stable code to branch on, unlike the message. */
  override readonly code = "WORKER_LOST";
}

/** The soft time limit (`softTimeLimit`) passed: the request's signal aborted with this. */
export class SoftTimeLimitExceeded extends TaskdError {
  /** Always `"SoftTimeLimitExceeded"`: kept by bundlers and minifiers, unlike `constructor.name`. */
  override name = "SoftTimeLimitExceeded" as const;
  /** Always `"SOFT_TIME_LIMIT_EXCEEDED"`: a stable code to branch on, unlike the message. */
  override readonly code = "SOFT_TIME_LIMIT_EXCEEDED";
}

/** A message would exceed the server's `max_payload`; nothing was sent. */
export class PayloadTooLargeError extends TaskdError {
  /** Always `"PayloadTooLargeError"`: kept by bundlers and minifiers, unlike `constructor.name`. */
  override name = "PayloadTooLargeError" as const;
  /** Always `"PAYLOAD_TOO_LARGE"`: a stable code to branch on, unlike the message. */
  override readonly code = "PAYLOAD_TOO_LARGE";
}

/**
 * The queue's stream is full (`queueMaxBytes`, docs/limits.md): the task was not sent. Start
 * workers (or more of them), or raise `queueMaxBytes`; a queue never drops waiting tasks.
 */
export class QueueFullError extends TaskdError {
  /** Always `"QueueFullError"`: kept by bundlers and minifiers, unlike `constructor.name`. */
  override name = "QueueFullError" as const;
  /** Always `"QUEUE_FULL"`: a stable code to branch on, unlike the message. */
  override readonly code = "QUEUE_FULL";
}

/** The broker could not be reached or did not answer in time. */
export class BrokerError extends TaskdError {
  /** Always `"BrokerError"`: kept by bundlers and minifiers, unlike `constructor.name`. */
  override name = "BrokerError" as const;
  /** Always `"BROKER_UNAVAILABLE"`: a stable code to branch on, unlike the message. */
  override readonly code = "BROKER_UNAVAILABLE";
}

/** A message on the wire is not a taskd message this version can read. */
export class ProtocolError extends TaskdError {
  /** Always `"ProtocolError"`: kept by bundlers and minifiers, unlike `constructor.name`. */
  override name = "ProtocolError" as const;
  /** Always `"PROTOCOL_ERROR"`: a stable code to branch on, unlike the message. */
  override readonly code = "PROTOCOL_ERROR";
}

/** `get()` was called inside a task on another task's result (see `disableSyncSubtasks`). */
export class SyncSubtaskError extends TaskdError {
  /** Always `"SyncSubtaskError"`: kept by bundlers and minifiers, unlike `constructor.name`. */
  override name = "SyncSubtaskError" as const;
  /** Always `"SYNC_SUBTASK"`: a stable code to branch on, unlike the message. */
  override readonly code = "SYNC_SUBTASK";
}

/** Turns anything thrown into plain data that can cross the wire. */
export function serializeError(error: unknown): SerializedError {
  if (error instanceof TaskError) {
    return { type: error.remoteType, message: error.remoteMessage, stack: error.remoteStack, data: error.data };
  }
  if (error instanceof Error) {
    const data = ownFields(error);
    return { type: error.name, message: error.message, stack: error.stack, ...(data ? { data } : {}) };
  }
  return { type: thrownType(error), message: thrownMessage(error) };
}

/**
 * The error's own fields (`statusCode`, `code`, `issues`, …) as plain data, as Celery pickles an
 * exception's attributes; functions and what cannot be encoded are left out. No class is revived
 * on the other side: they arrive as `TaskError.data`.
 */
function ownFields(error: Error): Record<string, unknown> | undefined {
  let data: Record<string, unknown> | undefined;
  for (const key of Object.keys(error)) {
    if (key === "name" || key === "message" || key === "stack" || key === "cause") continue;
    // deno-lint-ignore no-explicit-any
    const value = (error as any)[key];
    if (typeof value === "function" || value === undefined) continue;
    (data ??= {})[key] = toPlain(value);
  }
  return data;
}

/** What a thrown non-Error is called: its constructor's name, or its type ("string", "number"…). */
function thrownType(thrown: unknown): string {
  if (thrown === null) return "null";
  if (typeof thrown === "object") return (thrown as { constructor?: { name?: string } }).constructor?.name || "Object";
  return typeof thrown;
}

/** A readable message for a thrown non-Error (never "[object Object]"). */
function thrownMessage(thrown: unknown): string {
  if (typeof thrown !== "object" || thrown === null) return String(thrown);
  if (typeof (thrown as { then?: unknown }).then === "function") return "a Promise was thrown (did you mean `throw await …`?)";
  try {
    return `a non-Error value was thrown: ${JSON.stringify(thrown)}`;
  } catch {
    return "a non-Error value was thrown";
  }
}

function toPlain(value: unknown): unknown {
  try {
    return JSON.parse(JSON.stringify(value, (_k, v) => (typeof v === "bigint" ? String(v) : v)));
  } catch {
    return String(value);
  }
}

/** The task module named on the command line could not be loaded; the message says why. */
export class ModuleLoadError extends TaskdError {
  /** Always `"ModuleLoadError"`: kept by bundlers and minifiers, unlike `constructor.name`. */
  override name = "ModuleLoadError" as const;
  /** Always `"MODULE_LOAD"`: a stable code to branch on, unlike the message. */
  override readonly code = "MODULE_LOAD";
}
