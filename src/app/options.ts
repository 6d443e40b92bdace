/**
 * Task options and App settings, with Celery's defaults as named constants, and the one place
 * where a task's effective option is resolved: call option > task option (or class field) >
 * App default > built-in default.
 * @module
 */
import { DEFAULT_REPLICAS, DEFAULT_RESULT_EXPIRES, DEFAULT_RESULT_MAX_BYTES, DEFAULT_RESULT_MAX_COUNT } from "../nats/kv.ts";
import {
  DEFAULT_DEAD_LETTER_EXPIRES,
  DEFAULT_DEAD_LETTER_MAX_BYTES,
  DEFAULT_DEDUP_WINDOW,
  DEFAULT_QUEUE_MAX_BYTES,
  DEFAULT_QUEUE_MAX_COUNT,
} from "../nats/broker.ts";
import type { BrokerAuthOptions } from "../nats/connection.ts";
import type { BrokerLimits } from "../nats/broker.ts";
import type { Compression } from "../protocol/codec.ts";
import type { SigningOptions } from "../protocol/signing.ts";
import type { BeatScheduleEntry } from "./schedule/definition.ts";
import type { FlowOptions } from "./flow.ts";

/** Celery's defaults, reused by the CLI's help. */
export const DEFAULTS = {
  prefix: "taskd",
  queue: "default",
  maxRetries: 3,
  defaultRetryDelay: 180,
  retryBackoffMax: 600,
  retryJitter: true,
  resultExpires: DEFAULT_RESULT_EXPIRES,
  resultMaxBytes: DEFAULT_RESULT_MAX_BYTES,
  resultMaxCount: DEFAULT_RESULT_MAX_COUNT,
  dedupWindow: DEFAULT_DEDUP_WINDOW,
  queueMaxBytes: DEFAULT_QUEUE_MAX_BYTES,
  queueMaxCount: DEFAULT_QUEUE_MAX_COUNT,
  deadLetterExpires: DEFAULT_DEAD_LETTER_EXPIRES,
  deadLetterMaxBytes: DEFAULT_DEAD_LETTER_MAX_BYTES,
  serializer: "msgpack",
  concurrency: 10,
  prefetchMultiplier: 4,
  replicas: DEFAULT_REPLICAS,
  resultReprMaxsize: 1024,
  /** A message delivered this many times without completing is dead-lettered. */
  maxDeliveries: 10,
} as const;

/** An error class, for `autoretryFor`, `dontAutoretryFor` and `throws`. */
// deno-lint-ignore no-explicit-any
export type ErrorClass = abstract new (...args: any[]) => unknown;

/**
 * Options of one task; each may also be a field of a Task subclass. Flow control (`priority`,
 * `concurrency`, `concurrencyKey`, `rateLimitKey`, `unique`): see {@link FlowOptions} and
 * docs/flow.md.
 */
export interface TaskOptions extends FlowOptions {
  /** The registered name. @default `<app main>.<function or class name>` */
  name?: string;
  /** Pass the task instance as the first argument. @default false */
  bind?: boolean;
  /** Check arguments against the function's arity before sending. @default true */
  typing?: boolean;
  /** Retries allowed; `null` retries forever. @default 3 */
  maxRetries?: number | null;
  /** Seconds before a retry when no countdown/eta is given. @default 180 */
  defaultRetryDelay?: number;
  /** Errors that retry the task automatically. @default [] */
  autoretryFor?: ErrorClass[];
  /** Errors that never retry automatically, even when listed in `autoretryFor`. @default [] */
  dontAutoretryFor?: ErrorClass[];
  /** Options passed to the automatic `retry()` (e.g. `{ maxRetries: 5, countdown: 2 }`). @default {} */
  retryKwargs?: { maxRetries?: number | null; countdown?: number };
  /** Exponential backoff for automatic retries: `true` = factor 1 (1, 2, 4, 8… s), a number = that factor. @default false */
  retryBackoff?: boolean | number;
  /** The largest backoff delay, in seconds. @default 600 */
  retryBackoffMax?: number;
  /** Randomize each backoff delay between 0 and its computed value. @default true */
  retryJitter?: boolean;
  /** Expected errors: stored as FAILURE but logged at info level without a stack. @default [] */
  throws?: ErrorClass[];
  /** Per-worker rate limit: `"100/m"`, `"10/s"`, `"5/h"` or tasks per second. @default undefined */
  rateLimit?: string | number;
  /**
   * A limit shared by every worker of the app (beyond Celery), kept on the server: `"10/s"`,
   * `"100/m"`, `"5/h"` or tasks per second. @default undefined
   */
  globalRateLimit?: string | number;
  /** Hard time limit in seconds. @default undefined */
  timeLimit?: number;
  /** Soft time limit in seconds: the request's signal aborts. @default undefined */
  softTimeLimit?: number;
  /** Store no result. @default false (App: taskIgnoreResult) */
  ignoreResult?: boolean;
  /** Store failures even when results are ignored. @default false */
  storeErrorsEvenIfIgnored?: boolean;
  /** Body serializer. @default "msgpack" */
  serializer?: string;
  /** Body compression. @default undefined */
  compression?: Compression;
  /** Ack after the task ran instead of before. @default false */
  acksLate?: boolean;
  /** Store STARTED when the task starts. @default false */
  trackStarted?: boolean;
  /** With acksLate: requeue the message when the execution unit dies. @default false */
  rejectOnWorkerLost?: boolean;
  /**
   * With acksLate: ack a message whose task failed or hit its time limit (Celery's
   * `acks_on_failure_or_timeout`); `false` leaves it for redelivery (until the delivery bound
   * dead-letters it). @default true
   */
  acksOnFailureOrTimeout?: boolean;
  /** Seconds (or a time) after which a call not yet run is discarded as REVOKED, unless the call says otherwise. @default undefined */
  expires?: number | Date | string;
  /** The queue it is sent to. @default "default" */
  queue?: string;
}

/** App settings. */
export interface AppConfig extends BrokerAuthOptions {
  /** Broker URL or URLs (one cluster). @default TASKD_BROKER_URL, else the dev server */
  broker?: string | string[];
  /** Prefix of subjects, streams and buckets. @default "taskd" */
  prefix?: string;
  /** JetStream replicas of streams and buckets (3 on a cluster). @default 1 */
  replicas?: number;
  /**
   * Seconds results are kept (the results bucket's TTL). Workers apply it to an existing bucket
   * when they start. @default 86400
   */
  resultExpires?: number;
  /**
   * Bytes the results bucket may hold; past it the oldest results go first. JetStream reserves
   * it in the server's storage (docs/limits.md). -1: no bound. @default 536870912 (512 MiB)
   */
  resultMaxBytes?: number;
  /**
   * Results the bucket may hold; past it the oldest go first. The server keeps ~150–250 bytes
   * of memory per stored result (docs/limits.md). -1: no bound. @default 1000000
   */
  resultMaxCount?: number;
  /**
   * Seconds in which a repeated `Nats-Msg-Id` is dropped (the tasks stream's duplicate_window):
   * it must outlast a publish retried through an outage and a redelivery after a worker died;
   * the server keeps every id of the window in memory (docs/limits.md). @default 60
   */
  dedupWindow?: number;
  /**
   * Bytes the tasks stream (and the delayed stream) may hold; when full, sends are refused
   * rather than tasks dropped. JetStream reserves it in the server's storage, so the default
   * bounds queues by count instead. -1: no bound. @default -1
   */
  queueMaxBytes?: number;
  /**
   * Messages the tasks stream (and the delayed stream) may hold; when full, sends are refused
   * (`QueueFullError`) rather than tasks dropped. -1: no bound. @default 10000000
   */
  queueMaxCount?: number;
  /** Seconds dead letters are kept; 0: until purged. @default 604800 (7 days) */
  deadLetterExpires?: number;
  /** Bytes the dead-letter stream may hold; past it the oldest go first. -1: no bound. @default 134217728 (128 MiB) */
  deadLetterMaxBytes?: number;
  /**
   * Signed messages: `key` (an nkey seed, `SU…`) signs every task message this App sends;
   * a worker serving this App runs only messages signed by a `trusted` public key (`U…`) or by
   * its own key, and dead-letters the rest. Also `TASKD_SIGNING_KEY` and `TASKD_TRUSTED_KEYS`
   * (comma-separated). docs/security.md. @default undefined (unsigned)
   */
  signing?: SigningOptions;
  /**
   * Tasks this App sends ask workers to publish their result to its reply inbox, so `get()`
   * needs no per-task watch (docs/results.md); `false`: every `get()` watches the KV entry.
   * Workers turn it off for the apps they serve. @default true
   */
  resultReplies?: boolean;
  /** App-wide acksLate. @default false */
  taskAcksLate?: boolean;
  /** App-wide ignoreResult. @default false */
  taskIgnoreResult?: boolean;
  /** App-wide trackStarted. @default false */
  taskTrackStarted?: boolean;
  /** App-wide rate limit. @default undefined */
  taskDefaultRateLimit?: string | number;
  /** The default queue. @default "default" */
  taskDefaultQueue?: string;
  /** Task name (or glob with `*`) to queue. @default {} */
  taskRoutes?: Record<string, string | { queue: string }>;
  /** App-wide serializer. @default "msgpack" */
  taskSerializer?: string;
  /** App-wide compression. @default undefined */
  taskCompression?: Compression;
  /** App-wide rejectOnWorkerLost. @default false */
  taskRejectOnWorkerLost?: boolean;
  /** App-wide acksOnFailureOrTimeout. @default true */
  taskAcksOnFailureOrTimeout?: boolean;
  /** How many characters of a result events and logs show (Celery's `resultrepr_maxsize`). @default 1024 */
  resultReprMaxsize?: number;
  /** Run every call in process, as `apply()` does. @default false */
  taskAlwaysEager?: boolean;
  /** App-wide hard time limit, seconds. @default undefined */
  taskTimeLimit?: number;
  /** App-wide soft time limit, seconds. @default undefined */
  taskSoftTimeLimit?: number;
  /** Clients send a `task-sent` event for each task they publish (Celery's task_send_sent_event). @default false */
  taskSendSentEvent?: boolean;
  /** Prefetch per execution slot. @default 4 */
  workerPrefetchMultiplier?: number;
  /** The base class of function tasks. @default Task */
  // deno-lint-ignore no-explicit-any
  taskCls?: new () => any;
  /** Seconds a client waits for its first connection. @default 5 */
  connectTimeout?: number;
  /**
   * Periodic tasks by schedule id, as Celery's `beat_schedule` (docs/beat.md): stored on the
   * server when a beat starts. @default {}
   * @example `{ "add-every-30s": { task: "tasks.add", schedule: 30, args: [16, 16] } }`
   */
  beatSchedule?: Record<string, BeatScheduleEntry>;
}

/** Resolves the queue for `name` from `taskRoutes` (exact name first, then `*` globs). */
export function routeFor(routes: AppConfig["taskRoutes"], name: string): string | undefined {
  if (!routes) return undefined;
  const pick = (r: string | { queue: string }) => (typeof r === "string" ? r : r.queue);
  if (routes[name]) return pick(routes[name]);
  for (const [pattern, r] of Object.entries(routes)) {
    if (!pattern.includes("*")) continue;
    const re = new RegExp("^" + pattern.split("*").map((s) => s.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*") + "$");
    if (re.test(name)) return pick(r);
  }
  return undefined;
}

/**
 * Checks the settings `new App()` is given, once: a bad value is a `RangeError` naming it.
 * Returns the results' time to live (seconds).
 */
export function checkAppConfig(config: AppConfig): number {
  const expires = config.resultExpires ?? DEFAULTS.resultExpires;
  if (!(expires > 0)) throw new RangeError(`Cannot create App: 'resultExpires' must be > 0 seconds: current value is ${expires}`);
  for (const k of ["resultMaxBytes", "resultMaxCount", "queueMaxBytes", "queueMaxCount", "deadLetterMaxBytes"] as const) {
    const v = config[k];
    if (v !== undefined && !(Number.isInteger(v) && (v > 0 || v === -1))) {
      throw new RangeError(`Cannot create App: '${k}' must be a positive integer or -1 (no bound): current value is ${v}`);
    }
  }
  if (config.dedupWindow !== undefined && !(config.dedupWindow >= 1)) {
    throw new RangeError(`Cannot create App: 'dedupWindow' must be >= 1 second: current value is ${config.dedupWindow}`);
  }
  if (config.deadLetterExpires !== undefined && !(config.deadLetterExpires >= 0)) {
    throw new RangeError(`Cannot create App: 'deadLetterExpires' must be >= 0 seconds: current value is ${config.deadLetterExpires}`);
  }
  return expires;
}

/** The stream settings an App's broker creates and checks its streams with. */
export function brokerSettings(config: AppConfig): BrokerLimits {
  return {
    replicas: config.replicas ?? DEFAULTS.replicas,
    dedupWindow: config.dedupWindow,
    queueMaxBytes: config.queueMaxBytes,
    queueMaxCount: config.queueMaxCount,
    deadLetterExpires: config.deadLetterExpires,
    deadLetterMaxBytes: config.deadLetterMaxBytes,
  };
}
