/**
 * `Request`: the context of one task execution (`self.request`), with Celery's fields in
 * camelCase. A task may name a subclass as its `Request` to hook `onTimeout` and `onFailure`;
 * the worker calls them through {@link requestTimedOut} and {@link requestFailed}, which log
 * an override that throws instead of letting it reach the worker.
 * @module
 */
import { type Embed, H, type TaskMessage } from "../protocol/message.ts";
import type { Task } from "./task.ts";
import { getLogger } from "../log/logger.ts";

const log = getLogger("taskd.request");

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

/** What a periodic task's run knows about its schedule (`request.schedule`). */
export interface ScheduleInfo {
  /** The schedule's id. */
  id: string;
  /** The due time this run fired for. */
  scheduledFor: Date;
  /** A catch-up run for a due time missed while no beat ran. */
  backfilled: boolean;
}

/** The fields a request is built from. */
export type RequestFields = Partial<Omit<Request, "onTimeout" | "onFailure">> & { id: string; taskName: string };

/**
 * A Request subclass a task names as its `Request`.
 * @example
 * ```ts
 * class MyRequest extends Request {
 *   override onTimeout(soft: boolean, timeout: number) {
 *     if (!soft) logger.warn(`${this.taskName} hit its hard time limit of ${timeout}s`);
 *   }
 * }
 * export const slow = app.task({ Request: MyRequest }, async function slow() {});
 * ```
 */
export type RequestClass = new (fields: RequestFields) => Request;

/** The signal of a request that nothing can abort (no AbortController per request by default). */
const NEVER_ABORTED: AbortSignal = new AbortController().signal;

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
  signal: AbortSignal = NEVER_ABORTED;
  /** How the args appear in logs and events, when the caller hid them. */
  argsrepr?: string;
  /** How the kwargs appear in logs and events. */
  kwargsrepr?: string;
  /** The caller's own headers (not taskd's routing headers). */
  userHeaders?: Record<string, string>;
  /** The embed part of the message (callbacks, chain, chord). */
  embed: Embed = {};
  /** The task this request runs (set by the worker and by apply()). */
  task?: Task;
  /** Set when a beat fired this run: the schedule, the due time, whether it is a backfill (docs/beat.md). */
  schedule?: ScheduleInfo;

  /**
   * A request with these fields (the worker and apply() fill them).
   * @param fields the request's fields
   */
  constructor(fields?: RequestFields) {
    if (fields) Object.assign(this, fields);
    this.schedule ??= scheduleOf(this.headers);
  }

  /**
   * Called by the worker when a time limit of this request passes: `soft` is true for the soft
   * limit, `timeout` is the limit in seconds. Runs in the worker's main thread, whatever the
   * pool; override to act on it (the default does nothing).
   */
  onTimeout(_soft: boolean, _timeout: number): void | Promise<void> {}

  /**
   * Called by the worker when the task failed: after the task's own handlers and taskPostrun
   * for a failure the body raised, and also for failures the task's handlers never see (hard
   * time limit, a lost execution unit). Not called by `apply()`. The default does nothing.
   */
  onFailure(_exc: unknown, _einfo: ExceptionInfo): void | Promise<void> {}
}

/** The schedule headers a beat's firing carries, read into a {@link ScheduleInfo}. */
function scheduleOf(headers: Record<string, string> | undefined): ScheduleInfo | undefined {
  const id = headers?.[H.schedule];
  const at = headers?.[H.scheduledFor];
  if (!id || !at || Number.isNaN(Date.parse(at))) return undefined;
  return { id, scheduledFor: new Date(at), backfilled: headers![H.backfilled] === "1" };
}

/**
 * Calls `request.onTimeout(soft, timeout)`; an override that throws is logged, never thrown.
 * The time-limit code calls this when a soft or hard limit passes.
 */
export async function requestTimedOut(request: Request, soft: boolean, timeout: number): Promise<void> {
  try {
    await request.onTimeout(soft, timeout);
  } catch (e) {
    log.error(`${request.taskName}[${request.id}] Request.onTimeout threw; the worker carries on:`, e);
  }
}

/**
 * Calls `request.onFailure(exc, einfo)` (einfo built from `exc` when not given); an override
 * that throws is logged, never thrown. The worker calls this for every failure of a request.
 */
export async function requestFailed(request: Request, exc: unknown, einfo: ExceptionInfo = new ExceptionInfo(exc)): Promise<void> {
  try {
    await request.onFailure(exc, einfo);
  } catch (e) {
    log.error(`${request.taskName}[${request.id}] Request.onFailure threw; the task's outcome is unchanged:`, e);
  }
}

/** What is known about an error a task threw (Celery's ExceptionInfo). */
export class ExceptionInfo {
  /** The error's class name. */
  readonly type: string;
  /** The stack trace, as text. */
  readonly traceback: string;
  /**
   * What is known about `exception`.
   * @param exception the error (any thrown value)
   */
  constructor(readonly exception: unknown) {
    this.type = exception instanceof Error ? exception.name : typeof exception;
    this.traceback = exception instanceof Error ? (exception.stack ?? String(exception)) : String(exception);
  }
  /** The stack trace. */
  toString(): string {
    return this.traceback;
  }
}

/**
 * The message of the attempt `request` runs: what a retry (with retries + 1 and an eta) or a
 * requeue sends again. Carries the workflow ids, reprs, expiry, time limits, reply subject and
 * the caller's own headers.
 */
export function requestMessage(request: Request, queue: string): TaskMessage {
  return {
    id: request.id,
    task: request.taskName,
    retries: request.retries,
    queue,
    args: request.args,
    kwargs: request.kwargs,
    embed: request.embed,
    expires: request.expires,
    rootId: request.rootId,
    parentId: request.parentId,
    group: request.group,
    origin: request.origin,
    argsrepr: request.argsrepr,
    kwargsrepr: request.kwargsrepr,
    timelimit: request.timelimit[0] !== null || request.timelimit[1] !== null ? request.timelimit : undefined,
    ignoreResult: request.ignoreResult,
    replyTo: request.replyTo,
    headers: request.userHeaders,
  };
}
