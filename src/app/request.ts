/**
 * `Request`: the context of one task execution (`self.request`), with Celery's fields in
 * camelCase. A task may name a subclass as its `Request` to hook `onTimeout` and `onFailure`.
 * @module
 */
import type { Embed } from "../protocol/message.ts";

/** Where a message came from on the broker. */
export interface DeliveryInfo {
  /** The queue it was consumed from. */
  queue: string;
  /** Its subject. */
  subject: string;
  /** Whether the broker delivered it before. */
  redelivered: boolean;
  /** How many times the broker delivered it (1 the first time). */
  deliveryCount: number;
}

/** The fields a request is built from. */
export type RequestFields = Partial<Omit<Request, "onTimeout" | "onFailure">> & { id: string; taskName: string };

/** The request context of a task execution. */
export class Request {
  /** The task's id. */
  id = "";
  /** The task's registered name. */
  taskName = "";
  /** The group id, when part of a group. */
  group?: string;
  /** The chord this task belongs to, when part of a chord header. */
  chord?: unknown;
  /** The id the caller correlates on (the task id). */
  correlationId?: string;
  /** Positional arguments. */
  args: unknown[] = [];
  /** Keyword arguments. */
  kwargs: Record<string, unknown> = {};
  /** The sender's host and pid. */
  origin?: string;
  /** How many times it was retried. */
  retries = 0;
  /** Run in process by `apply()`. */
  isEager = false;
  /** When it was due (ISO), for delayed tasks. */
  eta?: string;
  /** When it expires (ISO). */
  expires?: string;
  /** The worker's node name. */
  hostname?: string;
  /** Broker delivery details. */
  deliveryInfo?: DeliveryInfo;
  /** Where replies go, when the caller asked for them. */
  replyTo?: string;
  /** The body was called directly (`task.run()` or `task(…)`), not through a worker or apply(). */
  calledDirectly = false;
  /** `[soft, hard]` time limits in seconds. */
  timelimit: [number | null, number | null] = [null, null];
  /** Signatures called on success. */
  callbacks: unknown[] | null = null;
  /** Signatures called on failure. */
  errbacks: unknown[] | null = null;
  /** The message's headers. */
  headers: Record<string, string> = {};
  /** The id of the first task of the workflow. */
  rootId?: string;
  /** The id of the task that sent this one. */
  parentId?: string;
  /** The rest of the chain. */
  chain: unknown[] | null = null;
  /** Broker message properties. */
  properties: Record<string, unknown> = {};
  /** How many times the task was replaced. */
  replacedTaskNesting = 0;
  /** Results are not stored for this call. */
  ignoreResult = false;
  /** Aborts when the soft time limit passes, the task is revoked, or the worker shuts down cold. */
  signal: AbortSignal = new AbortController().signal;
  /** How the args appear in logs and events, when the caller hid them. */
  argsrepr?: string;
  /** How the kwargs appear in logs and events. */
  kwargsrepr?: string;
  /** The caller's own headers (not taskd's routing headers). */
  userHeaders?: Record<string, string>;
  /** The embed part of the message (callbacks, chain, chord). */
  embed: Embed = {};

  constructor(fields?: RequestFields) {
    if (fields) Object.assign(this, fields);
  }

  /** Called by the worker when a time limit passes (`soft` true for the soft one). Override to act on it. */
  onTimeout(_soft: boolean, _timeout: number): void | Promise<void> {}

  /** Called by the worker when the task failed. Override to act on it. */
  onFailure(_exc: unknown, _einfo: ExceptionInfo): void | Promise<void> {}
}

/** What is known about an error a task threw (Celery's ExceptionInfo). */
export class ExceptionInfo {
  /** The error's class name. */
  readonly type: string;
  /** The stack trace, as text. */
  readonly traceback: string;
  constructor(readonly exception: unknown) {
    this.type = exception instanceof Error ? exception.name : typeof exception;
    this.traceback = exception instanceof Error ? (exception.stack ?? String(exception)) : String(exception);
  }
  toString(): string {
    return this.traceback;
  }
}
