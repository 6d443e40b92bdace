/**
 * `Task`: a registered task. One instance per process (an actor): its constructor runs once
 * and its fields persist between requests. Function tasks are instances of `Task` (or of the
 * `base` class) whose `run` is the function; class tasks subclass `Task` and define `run`.
 * @module
 */
import { applyEager } from "./eager.ts";
import type { ValidateContext } from "../validate/validate.ts";
import type { App } from "./app.ts";
import type { ApplyOptions } from "./call.ts";
import { currentTask } from "../context/task_context.ts";
import { type AppConfig, type ErrorClass, type TaskOptions, DEFAULTS } from "./options.ts";
import { type ExceptionInfo, Request } from "./request.ts";
import type { Arity } from "../validate/arity.ts";
import { getTaskLogger, type Logger } from "../log/logger.ts";
import { MaxRetriesExceededError } from "../errors/errors.ts";
import { Retry } from "../errors/semipredicates.ts";
import type { AsyncResult } from "../result/async_result.ts";
import type { EagerResult } from "../result/eager_result.ts";
import type { State } from "../protocol/states.ts";
import type { Compression } from "../protocol/codec.ts";
import { Signature, type TailOf } from "./signature.ts";
import type { KeyFn, UniqueOptions } from "./flow.ts";

/** Options of `self.retry()`. */
export interface RetryOptions {
  /** The error that caused the retry; re-thrown past `maxRetries`. */
  exc?: unknown;
  /** Seconds until the next attempt. @default the task's defaultRetryDelay (180) */
  countdown?: number;
  /** When the next attempt runs (instead of countdown). */
  eta?: Date;
  /** Overrides the task's maxRetries for this call; `null` = forever. */
  maxRetries?: number | null;
  /** `false`: return the Retry instead of throwing it. @default true */
  throw?: boolean;
  /** Other call options for the next attempt (queue, priority…). */
  queue?: string;
}

/** Options of `self.updateState()`. */
export interface UpdateStateOptions {
  /** The task id. @default the current request's id */
  taskId?: string;
  /** The state, built-in or custom (e.g. `PROGRESS`). */
  state: State;
  /** Data stored with the state, readable as `result.info`. */
  meta?: unknown;
}

/**
 * A task. Subclass it for class-based tasks (`run` is the body) or as a `base` for function
 * tasks; handlers are methods to override.
 * @example
 * ```ts
 * class DatabaseTask extends Task {
 *   #db?: Db;
 *   get db() { return (this.#db ??= Db.connect()); }
 * }
 * export const rows = app.task({ base: DatabaseTask, bind: true }, (self) => self.db.all());
 * ```
 */
// deno-lint-ignore no-explicit-any
export class Task<A extends unknown[] = any[], R = any> {
  /** The registered name, e.g. `tasks.add`. */
  declare name: string;
  /** The app it is registered on. */
  declare app: App;
  /** A Request subclass to use for this task's executions. */
  declare Request?: typeof Request;
  /** Batches: flush after this many messages (see Batches). */
  declare flushEvery?: number;
  /** Batches: flush after this many seconds. */
  declare flushInterval?: number;
  /** Validate mode on. */
  declare validate?: boolean;
  /** Validate mode: schemas of the positional arguments. */
  declare args?: unknown[];
  /** Validate mode: schema of the keyword arguments. */
  declare kwargs?: unknown;
  /** Validate mode: schema of the return value. */
  declare returns?: unknown;
  /** Validate mode: object schemas refuse unknown keys. */
  declare validateStrict?: boolean;
  /** Validate mode: valibot's parse config, or a function of the task giving it. */
  declare validateContext?: ValidateContext;
  /** Validate mode: how a parsed return value is dumped for storing. */
  declare validateDump?: (value: unknown) => unknown;
  /** @internal the body's arity, for the typing check. */
  declare arity?: Arity;
  // The task options as fields (see TaskOptions). Unset (undefined) means "not set on this
  // task": effective() falls back to the App's default, then to the @default given here.
  /** Pass the task instance as the first argument. @default false */
  declare bind?: boolean;
  /** Check arguments against the function's arity before sending. @default true */
  declare typing?: boolean;
  /** Retries allowed; `null` retries forever. @default 3 */
  declare maxRetries?: number | null;
  /** Seconds before a retry when no countdown/eta is given. @default 180 */
  declare defaultRetryDelay?: number;
  /** Errors that retry the task automatically. @default [] */
  declare autoretryFor?: ErrorClass[];
  /** Errors that never retry automatically, even when listed in `autoretryFor`. @default [] */
  declare dontAutoretryFor?: ErrorClass[];
  /** Options passed to the automatic `retry()` (e.g. `{ maxRetries: 5, countdown: 2 }`). @default {} */
  declare retryKwargs?: { maxRetries?: number | null; countdown?: number };
  /** Exponential backoff for automatic retries: `true` = factor 1 (1, 2, 4, 8… s), a number = that factor. @default false */
  declare retryBackoff?: boolean | number;
  /** The largest backoff delay, in seconds. @default 600 */
  declare retryBackoffMax?: number;
  /** Randomize each backoff delay between 0 and its computed value. @default true */
  declare retryJitter?: boolean;
  /** Expected errors: stored as FAILURE but logged at info level without a stack. @default [] */
  declare throws?: ErrorClass[];
  /** Per-worker rate limit: `"100/m"`, `"10/s"`, `"5/h"` or tasks per second. @default undefined */
  declare rateLimit?: string | number;
  /**
   * A limit shared by every worker of the app (beyond Celery), kept on the server: `"10/s"`,
   * `"100/m"`, `"5/h"` or tasks per second. @default undefined
   */
  declare globalRateLimit?: string | number;
  /** Hard time limit in seconds. @default undefined */
  declare timeLimit?: number;
  /** Soft time limit in seconds: the request's signal aborts. @default undefined */
  declare softTimeLimit?: number;
  /** Store no result. @default false (App: taskIgnoreResult) */
  declare ignoreResult?: boolean;
  /** Store failures even when results are ignored. @default false */
  declare storeErrorsEvenIfIgnored?: boolean;
  /** Body serializer. @default "msgpack" */
  declare serializer?: string;
  /** Body compression. @default undefined */
  declare compression?: Compression;
  /** Ack after the task ran instead of before. @default false */
  declare acksLate?: boolean;
  /** Store STARTED when the task starts. @default false */
  declare trackStarted?: boolean;
  /** With acksLate: requeue the message when the execution unit dies. @default false */
  declare rejectOnWorkerLost?: boolean;
  /** With acksLate: ack a failed or timed-out message; `false` leaves it for redelivery. @default true */
  declare acksOnFailureOrTimeout?: boolean;
  /** Seconds (or a time) after which a call not yet run is discarded, unless the call says. @default undefined */
  declare expires?: number | Date | string;
  /** The queue it is sent to. @default "default" */
  declare queue?: string;
  /** Priority 0…9 within its queue, 9 first (docs/flow.md). @default 5 */
  declare priority?: number;
  /** At most this many runs at once across all workers (per key with `concurrencyKey`). @default undefined */
  declare concurrency?: number;
  /** With `concurrency`: the limit holds per key, e.g. `(args) => args[0].customer`. @default undefined */
  declare concurrencyKey?: KeyFn;
  /** With `globalRateLimit`: the limit holds per key. @default undefined */
  declare rateLimitKey?: KeyFn;
  /** A duplicate `delay()` within the window returns the existing task's AsyncResult. @default undefined */
  declare unique?: UniqueOptions;

  /** The body. Function tasks set it; class tasks define it. */
  run(..._args: A): R | Promise<R> {
    throw new TypeError(`Cannot run ${this.name}: it has no body; define run() or pass a function to app.task()`);
  }

  /**
   * An option as it applies to this task: the task's own value (option or class field), else
   * the app's default, else Celery's.
   */
  effective<K extends keyof EffectiveOptions>(key: K): EffectiveOptions[K] {
    const own = (this as unknown as Record<string, unknown>)[key];
    if (own !== undefined) return own as EffectiveOptions[K];
    const appKey = APP_DEFAULTS[key];
    const app = appKey === undefined ? undefined : this.app?.config?.[appKey];
    return (app ?? BUILTIN[key]) as EffectiveOptions[K];
  }

  /** The current request (inside a run of this task), or one marked `calledDirectly`. */
  get request(): Request {
    const ctx = currentTask();
    if (ctx && ctx.task === this) return ctx.request as Request;
    return new Request({ id: "", taskName: this.name, calledDirectly: true });
  }

  /** A logger whose lines name this task and its current id. */
  get logger(): Logger {
    return getTaskLogger(this.name);
  }

  /** Sends the task with these arguments; resolves once the broker stored it. */
  delay(...args: A): Promise<AsyncResult<Awaited<R>>> {
    return this.applyAsync(args);
  }

  /** Sends the task with arguments and call options (countdown, eta, expires, queue, kwargs…). */
  applyAsync(args: Partial<A> | A = [] as unknown as A, options: ApplyOptions = {}): Promise<AsyncResult<Awaited<R>>> {
    return this.app.sendTaskFor(this, args as unknown[], options) as Promise<AsyncResult<Awaited<R>>>;
  }

  /**
   * A signature of this task with partial arguments: a callback, or a step of a chain, group
   * or chord. The parent's result (or call args) come before these.
   * @example
   * ```ts
   * await add.s(2).delay(3);             // add(3, 2)
   * await chain(add.s(2, 2), mul.s(4)).applyAsync();
   * ```
   */
  s(...args: TailOf<A>): Signature<Awaited<R>> {
    return new Signature<Awaited<R>>(this, { args });
  }

  /** An immutable signature: it ignores the parent's result and runs with exactly these arguments. */
  si(...args: TailOf<A>): Signature<Awaited<R>> {
    return new Signature<Awaited<R>>(this, { args, immutable: true });
  }

  /** Runs the task here and now, in this process (`request.isEager`), with retries. */
  apply(args: Partial<A> | A = [] as unknown as A, options: ApplyOptions = {}): Promise<EagerResult<Awaited<R>>> {
    return applyEager(this, args as unknown[], options) as Promise<EagerResult<Awaited<R>>>;
  }

  /**
   * Schedules the next attempt of the current request and throws `Retry` (await it). Past
   * `maxRetries` it throws `exc` when given, else `MaxRetriesExceededError`.
   * @example
   * ```ts
   * try { await send(); } catch (exc) { await self.retry({ exc, countdown: 60 }); }
   * ```
   */
  async retry(options: RetryOptions = {}): Promise<never> {
    const req = this.request;
    const exc = options.exc;
    if (req.calledDirectly) {
      // As Celery: a task called directly has no message to retry; re-throw.
      throw exc ?? new Retry({ message: "called directly" });
    }
    const max = options.maxRetries !== undefined ? options.maxRetries : this.effective("maxRetries");
    if (max !== null && req.retries >= max) {
      throw markRaisedByRetry(
        exc ?? new MaxRetriesExceededError(
          `Cannot retry ${this.name}[${req.id}]: it was retried ${req.retries} times and maxRetries is ${max}`,
          { taskId: req.id, taskName: this.name },
        ),
      );
    }
    const when = options.eta ?? new Date(Date.now() + 1000 * (options.countdown ?? this.effective("defaultRetryDelay")));
    const retry = new Retry({ exc, when });
    if (!req.isEager) await this.app.publishRetry(this, req, when, options.queue);
    if (options.throw === false) return retry as never;
    throw retry;
  }

  /** Stores a state (e.g. custom `PROGRESS`) with meta for the current or given task id. */
  async updateState(options: UpdateStateOptions): Promise<void> {
    const req = this.request;
    const taskId = options.taskId ?? req.id;
    if (!taskId || (req.isEager && options.taskId === undefined)) return;
    await this.app.backend.store({ taskId, status: options.state, result: options.meta ?? null, taskName: this.name, retries: req.retries, worker: req.hostname });
  }

  /** Handler: before the body runs. */
  beforeStart(_taskId: string, _args: unknown[], _kwargs: Record<string, unknown>): unknown {
    return undefined;
  }
  /** Handler: the body returned `retval`. */
  onSuccess(_retval: unknown, _taskId: string, _args: unknown[], _kwargs: Record<string, unknown>): unknown {
    return undefined;
  }
  /** Handler: the body threw `exc` and the task failed. */
  onFailure(_exc: unknown, _taskId: string, _args: unknown[], _kwargs: Record<string, unknown>, _einfo: ExceptionInfo): unknown {
    return undefined;
  }
  /** Handler: the task will be retried because of `exc`. */
  onRetry(_exc: unknown, _taskId: string, _args: unknown[], _kwargs: Record<string, unknown>, _einfo: ExceptionInfo): unknown {
    return undefined;
  }
  /** Handler: after the task returned, whatever the outcome. */
  afterReturn(
    _status: State,
    _retval: unknown,
    _taskId: string,
    _args: unknown[],
    _kwargs: Record<string, unknown>,
    _einfo: ExceptionInfo | undefined,
  ): unknown {
    return undefined;
  }

  /** The task's name. */
  toString(): string {
    return `<@task: ${this.name}>`;
  }
}

/** Options whose effective value is always defined. */
export interface EffectiveOptions {
  /** Retries allowed; `null` retries forever. @default 3 */
  maxRetries: number | null;
  /** Seconds before a retry when no countdown/eta is given. @default 180 */
  defaultRetryDelay: number;
  /** The largest automatic-retry backoff delay, in seconds. @default 600 */
  retryBackoffMax: number;
  /** Randomize each backoff delay between 0 and its computed value. @default true */
  retryJitter: boolean;
  /** Ack after the task ran instead of before (App: `taskAcksLate`). @default false */
  acksLate: boolean;
  /** Store no result (App: `taskIgnoreResult`). @default false */
  ignoreResult: boolean;
  /** Store failures even when results are ignored. @default false */
  storeErrorsEvenIfIgnored: boolean;
  /** Store STARTED when the task starts (App: `taskTrackStarted`). @default false */
  trackStarted: boolean;
  /** With acksLate: requeue the message when the execution unit dies (App: `taskRejectOnWorkerLost`). @default false */
  rejectOnWorkerLost: boolean;
  /** With acksLate: ack a failed or timed-out message (App: `taskAcksOnFailureOrTimeout`). @default true */
  acksOnFailureOrTimeout: boolean;
  /** Check arguments against the function's arity before sending. @default true */
  typing: boolean;
  /** Body serializer (App: `taskSerializer`). @default "msgpack" */
  serializer: string;
  /** Body compression (App: `taskCompression`); `undefined`: none. @default undefined */
  compression: Compression | undefined;
  /** Per-worker rate limit (App: `taskDefaultRateLimit`); `undefined`: none. @default undefined */
  rateLimit: string | number | undefined;
  /** Hard time limit in seconds (App: `taskTimeLimit`); `undefined`: none. @default undefined */
  timeLimit: number | undefined;
  /** Soft time limit in seconds (App: `taskSoftTimeLimit`); `undefined`: none. @default undefined */
  softTimeLimit: number | undefined;
}

const BUILTIN: EffectiveOptions = {
  maxRetries: DEFAULTS.maxRetries,
  defaultRetryDelay: DEFAULTS.defaultRetryDelay,
  retryBackoffMax: DEFAULTS.retryBackoffMax,
  retryJitter: DEFAULTS.retryJitter,
  acksLate: false,
  ignoreResult: false,
  storeErrorsEvenIfIgnored: false,
  trackStarted: false,
  rejectOnWorkerLost: false,
  acksOnFailureOrTimeout: true,
  typing: true,
  serializer: DEFAULTS.serializer,
  compression: undefined,
  rateLimit: undefined,
  timeLimit: undefined,
  softTimeLimit: undefined,
};

/** The app-wide setting behind each task option that has one. */
const APP_DEFAULTS: Partial<Record<keyof EffectiveOptions, keyof AppConfig>> = {
  acksLate: "taskAcksLate",
  ignoreResult: "taskIgnoreResult",
  trackStarted: "taskTrackStarted",
  rateLimit: "taskDefaultRateLimit",
  serializer: "taskSerializer",
  compression: "taskCompression",
  rejectOnWorkerLost: "taskRejectOnWorkerLost",
  acksOnFailureOrTimeout: "taskAcksOnFailureOrTimeout",
  timeLimit: "taskTimeLimit",
  softTimeLimit: "taskSoftTimeLimit",
};

/** Task options a Task subclass may also carry. */
export type { TaskOptions };

const fromRetry = new WeakSet<object>();

function markRaisedByRetry(error: unknown): unknown {
  if (typeof error === "object" && error !== null) fromRetry.add(error);
  return error;
}

/** Whether `error` was raised by `retry()` past its maxRetries (autoretry leaves it alone). */
export function raisedByRetry(error: unknown): boolean {
  return typeof error === "object" && error !== null && fromRetry.has(error);
}
