/**
 * A schedule's definition: what users write (`app.schedule(id, {...})`, Celery-style
 * `beatSchedule` entries, `taskd schedule add`), checked once and turned into the plain record
 * stored in KV, with a content hash so a redeploy of the same definition changes nothing. Also
 * the names a firing gets: task id `<schedule>.<due>` and `Nats-Msg-Id` `<schedule>:<due ISO>`.
 * @module
 */
import { checkRule, checkTimeZone, parseEvery, type Rule } from "./rules.ts";

/** Missed due times after a downtime: drop them, run once, or run each (at most N). */
export type Catchup = "skip" | "once" | { all: number };
/** A due time while the previous run of the schedule is still going: run anyway, or skip it. */
export type Overlap = "allow" | "skip";

/** Default `catchup`. */
export const DEFAULT_CATCHUP: Catchup = "skip";
/** Default `overlap`. */
export const DEFAULT_OVERLAP: Overlap = "allow";
/** Default `overlapTimeout`: seconds after which an unfinished run no longer blocks the next (a lost worker). */
export const DEFAULT_OVERLAP_TIMEOUT = 3600;

/** Something with a task name: a Task, or anything with `name`. */
export interface Named {
  /** The registered task name. */
  readonly name: string;
}

/** The options every way of defining a schedule shares. */
export interface ScheduleCommon {
  /** The task: its registered name, or the Task. */
  task: string | Named;
  /** Positional arguments. @default [] */
  args?: unknown[];
  /** Keyword arguments. @default {} */
  kwargs?: Record<string, unknown>;
  /** Call options each firing is sent with: `queue`, `expires` (seconds), `priority`, `ignoreResult`, time limits… @default {} */
  options?: ScheduleCallOptions;
  /** Missed due times after a downtime. @default "skip" */
  catchup?: Catchup;
  /** A due time while the previous run is active. @default "allow" */
  overlap?: Overlap;
  /** With `overlap: "skip"`: seconds after which an unfinished previous run stops blocking (a lost worker). @default 3600 */
  overlapTimeout?: number;
  /** Delay each firing by up to this many seconds (the same for every beat, from the schedule id and due time). @default 0 */
  jitter?: number;
  /** No due time before this. @default undefined */
  start?: Date | string;
  /** No due time at or after this. @default undefined */
  end?: Date | string;
}

/** Call options a schedule's firings are sent with (plain data: it is stored on the server). */
export interface ScheduleCallOptions {
  /** The queue. */
  queue?: string;
  /** Seconds after its due time after which a firing is not run. */
  expires?: number;
  /** Message priority (kept for the flow-control work; carried as given). */
  priority?: number;
  /** Store no result. */
  ignoreResult?: boolean;
  /** Hard time limit, seconds. */
  timeLimit?: number;
  /** Soft time limit, seconds. */
  softTimeLimit?: number;
  /** Extra headers. */
  headers?: Record<string, string>;
}

/** A schedule as `app.schedule()` and `app.schedules.add()` take it: one of `every`, `cron`, `at`. */
export type ScheduleDefinition = ScheduleCommon & (
  | { /** Seconds, or `"15m"`, `"2h"`: aligned to the epoch (or to `start`). */ every: number | string; cron?: never; at?: never; tz?: never }
  | { /** 5 fields, or 6 with leading seconds. */ cron: string; /** IANA zone. @default "UTC" */ tz?: string; every?: never; at?: never }
  | { /** One run at this time. */ at: Date | string; every?: never; cron?: never; tz?: never }
);

/** A Celery-style `beatSchedule` entry: `schedule` is seconds, `{ cron, tz }` or a Date. */
export interface BeatScheduleEntry extends ScheduleCommon {
  /** Seconds (or `"15m"`), `{ cron, tz }`, or a Date (one run). */
  schedule: number | string | { cron: string; tz?: string } | Date;
}

/** A definition as stored in KV (plain JSON). */
export interface StoredSchedule {
  /** The schedule's id. */
  id: string;
  /** The task name. */
  task: string;
  /** When it fires. */
  rule: Rule;
  /** Positional arguments. */
  args: unknown[];
  /** Keyword arguments. */
  kwargs: Record<string, unknown>;
  /** Call options. */
  options: ScheduleCallOptions;
  /** Missed due times after a downtime. */
  catchup: Catchup;
  /** A due time while the previous run is active. */
  overlap: Overlap;
  /** Seconds after which an unfinished previous run stops blocking. */
  overlapTimeout: number;
  /** Seconds of deterministic delay at most. */
  jitter: number;
  /** ms since the epoch. */
  start?: number;
  /** ms since the epoch. */
  end?: number;
  /** Who defined it: module code (upserted at beat start) or the API/CLI (kept across deploys). */
  origin: "code" | "api";
  /** Hash of the definition's content (origin aside). */
  hash: string;
}

/** A schedule's state as stored in KV (plain JSON), advanced by compare-and-set. */
export interface ScheduleState {
  /** The last due time handled (fired, skipped or dropped), ms since the epoch. */
  cursor: number;
  /** The due time of the last firing, ms. */
  lastRun?: number;
  /** The task id of the last firing. */
  lastTaskId?: string;
  /** When the last firing was published (beat clock), ms. */
  firedAt?: number;
  /** Paused: nothing fires and the cursor stays; `resume` moves it to the present. */
  paused?: boolean;
  /** Firings so far. */
  runs?: number;
  /** Due times skipped because the previous run was active (`overlap: "skip"`). */
  overlapSkips?: number;
  /** Missed due times dropped by the catch-up policy. */
  dropped?: number;
}

const ID = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

/** Checks a schedule id: letters, digits, `_`, `-`, and dots between them. Throws TypeError. */
export function checkScheduleId(id: unknown): string {
  if (typeof id !== "string" || !ID.test(id) || id.length > 200) {
    throw new TypeError(`Cannot use schedule id ${JSON.stringify(id)}: use letters, digits, '_', '-' and dots between them`);
  }
  return id;
}

function time(value: unknown, what: string): number {
  const t = value instanceof Date ? value.getTime() : typeof value === "string" || typeof value === "number" ? new Date(value).getTime() : NaN;
  if (Number.isNaN(t)) throw new RangeError(`'${what}' must be a Date or ISO time: current value is ${JSON.stringify(value)}`);
  return t;
}

function checkCatchup(c: unknown): Catchup {
  if (c === undefined) return DEFAULT_CATCHUP;
  if (c === "skip" || c === "once") return c;
  if (c && typeof c === "object" && Number.isInteger((c as { all: number }).all) && (c as { all: number }).all >= 1) return { all: (c as { all: number }).all };
  throw new RangeError(`'catchup' must be "skip", "once" or { all: N } with N >= 1: current value is ${JSON.stringify(c)}`);
}

/** Turns a Celery-style `beatSchedule` entry into a definition. */
export function fromBeatEntry(entry: BeatScheduleEntry): ScheduleDefinition {
  const { schedule, ...rest } = entry;
  if (schedule instanceof Date) return { ...rest, at: schedule };
  if (typeof schedule === "number" || typeof schedule === "string") return { ...rest, every: schedule };
  if (schedule && typeof schedule === "object" && typeof schedule.cron === "string") return { ...rest, cron: schedule.cron, tz: schedule.tz };
  throw new TypeError("'schedule' must be seconds, \"15m\", { cron, tz } or a Date");
}

/**
 * Checks `def` and returns the record to store. Throws TypeError/RangeError naming the
 * schedule and what is wrong (an invalid cron or zone, `every: 0`, a bad option).
 */
export function normalize(id: string, def: ScheduleDefinition | BeatScheduleEntry, origin: "code" | "api"): StoredSchedule {
  try {
    checkScheduleId(id);
    if (!def || typeof def !== "object") throw new TypeError("the definition must be an object");
    const d: ScheduleDefinition = "schedule" in def ? fromBeatEntry(def as BeatScheduleEntry) : def as ScheduleDefinition;
    const task = typeof d.task === "string" ? d.task : d.task?.name;
    if (typeof task !== "string" || task === "") throw new TypeError("'task' must be a task or a task name");
    const kinds = [d.every !== undefined, d.cron !== undefined, d.at !== undefined].filter(Boolean).length;
    if (kinds !== 1) throw new TypeError("give exactly one of 'every', 'cron' or 'at'");
    if (d.tz !== undefined && d.cron === undefined) throw new TypeError("'tz' goes with 'cron'");
    const rule: Rule = d.every !== undefined
      ? { every: parseEvery(d.every) }
      : d.cron !== undefined
      ? { cron: String(d.cron).trim(), tz: checkTimeZone(d.tz ?? "UTC") }
      : { at: new Date(time(d.at, "at")).toISOString() };
    checkRule(rule);
    if (d.args !== undefined && !Array.isArray(d.args)) throw new TypeError("'args' must be an array");
    if (d.kwargs !== undefined && (d.kwargs === null || typeof d.kwargs !== "object" || Array.isArray(d.kwargs))) throw new TypeError("'kwargs' must be an object");
    const overlap = d.overlap ?? DEFAULT_OVERLAP;
    if (overlap !== "allow" && overlap !== "skip") throw new RangeError(`'overlap' must be "allow" or "skip": current value is ${JSON.stringify(overlap)}`);
    const jitter = d.jitter ?? 0;
    if (!(typeof jitter === "number" && jitter >= 0 && Number.isFinite(jitter))) throw new RangeError(`'jitter' must be seconds >= 0: current value is ${JSON.stringify(jitter)}`);
    const overlapTimeout = d.overlapTimeout ?? DEFAULT_OVERLAP_TIMEOUT;
    if (!(typeof overlapTimeout === "number" && overlapTimeout > 0)) throw new RangeError(`'overlapTimeout' must be seconds > 0: current value is ${JSON.stringify(overlapTimeout)}`);
    const start = d.start !== undefined && d.start !== null ? time(d.start, "start") : undefined;
    const end = d.end !== undefined && d.end !== null ? time(d.end, "end") : undefined;
    if (start !== undefined && end !== undefined && end <= start) throw new RangeError("'end' must be after 'start'");
    const options = JSON.parse(JSON.stringify(d.options ?? {})) as ScheduleCallOptions;
    const content = {
      id,
      task,
      rule,
      args: d.args ?? [],
      kwargs: d.kwargs ?? {},
      options,
      catchup: checkCatchup(d.catchup),
      overlap,
      overlapTimeout,
      jitter,
      ...(start !== undefined ? { start } : {}),
      ...(end !== undefined ? { end } : {}),
    };
    // Stored as JSON: what does not survive JSON (undefined, functions) is not part of it.
    const plain = JSON.parse(JSON.stringify(content)) as Omit<StoredSchedule, "origin" | "hash">;
    return { ...plain, origin, hash: contentHash(plain) };
  } catch (e) {
    const err = e as Error;
    const Cls = err instanceof RangeError ? RangeError : TypeError;
    throw new Cls(`Cannot define schedule '${id}': ${err.message.replace(/^Cannot define schedule '[^']*': /, "")}`);
  }
}

/** A stable hash of JSON content (key order ignored): FNV-1a 64 as hex. */
export function contentHash(value: unknown): string {
  const text = stableJson(value);
  let h = 0xcbf29ce484222325n;
  const bytes = new TextEncoder().encode(text);
  for (const b of bytes) h = BigInt.asUintN(64, (h ^ BigInt(b)) * 0x100000001b3n);
  return h.toString(16).padStart(16, "0");
}

function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(",")}]`;
  if (v && typeof v === "object") return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${stableJson((v as Record<string, unknown>)[k])}`).join(",")}}`;
  return JSON.stringify(v) ?? "null";
}

/** The task id of the firing of schedule `id` due at `due` (ms): `<id>.<YYYYMMDDTHHMMSS.mmmZ>`. */
export function firingTaskId(id: string, due: number): string {
  return `${id}.${new Date(due).toISOString().replace(/[-:]/g, "")}`;
}

/** The `Nats-Msg-Id` of that firing: `<id>:<due ISO>`; every beat computes the same one. */
export function firingMsgId(id: string, due: number): string {
  return `${id}:${new Date(due).toISOString()}`;
}

/** The jitter of the firing due at `due`, ms in `[0, jitter s)`: a hash of id and due time, so every beat agrees. */
export function jitterMs(s: Pick<StoredSchedule, "id" | "jitter">, due: number): number {
  if (!s.jitter) return 0;
  const h = parseInt(contentHash(`${s.id}@${due}`).slice(0, 8), 16);
  return Math.floor((h / 0x1_0000_0000) * s.jitter * 1000);
}
