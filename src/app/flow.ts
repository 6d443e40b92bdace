/**
 * Flow-control options of a task (priority, concurrency, keyed concurrency and rate limits,
 * uniqueness): checked once when the task is defined, and turned into message headers when it
 * is sent. Keys are computed here, by the sender, so workers never decode a body to schedule
 * it; a key function that throws fails the call before anything is sent. docs/flow.md.
 * @module
 */
import { checkPriority, FLOW_H, keyToken, nameToken } from "../protocol/flow.ts";
import { parseRate } from "../protocol/rate.ts";
import { TaskdError } from "../errors/base.ts";

/** A function from a call's arguments to a key (a customer id, a domain…). */
// deno-lint-ignore no-explicit-any
export type KeyFn = (args: any[], kwargs: Record<string, any>) => string;

/** `unique`: a duplicate `delay()` within the window returns the existing task's AsyncResult. */
export interface UniqueOptions {
  /** The key that makes two calls duplicates. @default the task name, args and kwargs */
  key?: KeyFn;
  /** Seconds the marker lasts at most (a crash guard as much as a window). */
  ttl: number;
  /**
   * `"queued"`: unique until a worker starts it; `"finished"`: also while it runs, until its
   * last attempt ends. @default "finished"
   */
  until?: "queued" | "finished";
}

/** The flow-control options of a task (see TaskOptions). */
export interface FlowOptions {
  /** 0…9, 9 first. @default 5 */
  priority?: number;
  /** At most this many runs at once across all workers (per key with `concurrencyKey`). @default undefined */
  concurrency?: number;
  /** With `concurrency`: the limit holds per key. @default undefined */
  concurrencyKey?: KeyFn;
  /** With `globalRateLimit`: the limit holds per key. @default undefined */
  rateLimitKey?: KeyFn;
  /** Uniqueness of calls. @default undefined */
  unique?: UniqueOptions;
}

/** A key function threw, or returned no string: the call is refused and nothing is sent. */
export class FlowKeyError extends TaskdError {
  /** Always `"FlowKeyError"`. */
  override name = "FlowKeyError" as const;
  /** Always `"FLOW_KEY"`. */
  override readonly code = "FLOW_KEY";
}

/** Checks the flow options of task `name`; throws `RangeError`/`TypeError` on bad values. */
export function checkFlowOptions(name: string, o: FlowOptions & { globalRateLimit?: string | number }): void {
  const what = `define task ${name}`;
  if (o.priority !== undefined) checkPriority(what, o.priority);
  if (o.concurrency !== undefined && (typeof o.concurrency !== "number" || !Number.isInteger(o.concurrency) || o.concurrency < 1)) {
    throw new RangeError(`Cannot ${what}: 'concurrency' must be a whole number >= 1: current value is ${String(o.concurrency)}`);
  }
  if (o.concurrencyKey !== undefined) {
    if (typeof o.concurrencyKey !== "function") throw new TypeError(`Cannot ${what}: 'concurrencyKey' must be a function (args, kwargs) => string`);
    if (o.concurrency === undefined) throw new TypeError(`Cannot ${what}: 'concurrencyKey' needs 'concurrency' (how many at once per key)`);
  }
  if (o.rateLimitKey !== undefined) {
    if (typeof o.rateLimitKey !== "function") throw new TypeError(`Cannot ${what}: 'rateLimitKey' must be a function (args, kwargs) => string`);
    if (parseRate(o.globalRateLimit) === undefined) throw new TypeError(`Cannot ${what}: 'rateLimitKey' needs 'globalRateLimit' (the limit per key)`);
  }
  const u = o.unique;
  if (u !== undefined) {
    if (u === null || typeof u !== "object") throw new TypeError(`Cannot ${what}: 'unique' must be { key?, ttl, until? }`);
    if (typeof u.ttl !== "number" || !(u.ttl > 0) || !Number.isFinite(u.ttl)) throw new RangeError(`Cannot ${what}: 'unique.ttl' must be a number of seconds > 0: current value is ${String(u.ttl)}`);
    if (u.key !== undefined && typeof u.key !== "function") throw new TypeError(`Cannot ${what}: 'unique.key' must be a function (args, kwargs) => string`);
    if (u.until !== undefined && u.until !== "queued" && u.until !== "finished") throw new RangeError(`Cannot ${what}: 'unique.until' must be "queued" or "finished": current value is ${String(u.until)}`);
  }
}

function callKey(task: string, option: string, fn: KeyFn, args: unknown[], kwargs: Record<string, unknown>): string {
  let key: unknown;
  try {
    key = fn(args, kwargs);
  } catch (e) {
    throw new FlowKeyError(`Cannot call ${task}: its ${option} function threw: ${(e as Error)?.message ?? String(e)}; nothing was sent`, { cause: e, taskName: task });
  }
  if (typeof key !== "string" && typeof key !== "number") {
    throw new FlowKeyError(`Cannot call ${task}: its ${option} function must return a string: it returned ${key === null ? "null" : typeof key}; nothing was sent`, { taskName: task });
  }
  return String(key);
}

/** A unique marker to claim before sending. */
export interface UniqueClaim {
  /** The marker's key in the unique bucket. */
  key: string;
  /** Seconds it lasts at most. */
  ttl: number;
  /** When it is removed. */
  until: "queued" | "finished";
}

/** What a call's flow options add to its message. */
export interface CallFlow {
  /** Headers for the message. */
  headers: Record<string, string>;
  /** The unique marker to claim, when the task is unique. */
  unique?: UniqueClaim;
}

/**
 * The flow headers of a call of task `name` with `args`/`kwargs` (options of the task, `o`;
 * the call's priority wins over the task's). Throws {@link FlowKeyError} when a key function
 * fails, `RangeError` on a bad call priority.
 */
export function callFlow(name: string, o: FlowOptions | undefined, args: unknown[], kwargs: Record<string, unknown>, callPriority?: number): CallFlow {
  const headers: Record<string, string> = {};
  const priority = callPriority ?? o?.priority;
  if (callPriority !== undefined) checkPriority(`call ${name}`, callPriority);
  if (priority !== undefined) headers[FLOW_H.priority] = String(priority);
  if (!o) return { headers };
  if (o.concurrencyKey) headers[FLOW_H.concurrencyKey] = callKey(name, "concurrencyKey", o.concurrencyKey, args, kwargs);
  if (o.rateLimitKey) headers[FLOW_H.rateKey] = callKey(name, "rateLimitKey", o.rateLimitKey, args, kwargs);
  let unique: UniqueClaim | undefined;
  if (o.unique) {
    const raw = o.unique.key ? callKey(name, "unique.key", o.unique.key, args, kwargs) : stableJson([args, kwargs]);
    unique = { key: `${nameToken(name)}.${keyToken(raw)}`, ttl: o.unique.ttl, until: o.unique.until ?? "finished" };
    headers[FLOW_H.unique] = unique.key;
    headers[FLOW_H.uniqueUntil] = unique.until;
  }
  return { headers, unique };
}

/** JSON with object keys sorted, so equal arguments give one key whatever their key order. */
function stableJson(v: unknown): string {
  return JSON.stringify(v, (_k, value) => {
    if (value && typeof value === "object" && !Array.isArray(value)) {
      return Object.fromEntries(Object.keys(value).sort().map((k) => [k, (value as Record<string, unknown>)[k]]));
    }
    return typeof value === "bigint" ? value.toString() : value;
  });
}
