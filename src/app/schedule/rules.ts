/**
 * Schedule rules as pure time arithmetic: `every` (a period aligned to the Unix epoch, or to
 * `start`, so every beat computes the same due times), `cron` (5 fields, or 6 with leading
 * seconds, in an IANA zone, evaluated by croner) and `at` (one instant). Nothing here reads the
 * clock: callers pass `now`, so DST behaviour is unit-tested with fixed instants.
 *
 * DST (croner's rules, the same as croner-rust and Vixie cron): a fixed local time that a
 * spring-forward skips fires at the first valid instant after the gap (02:30 → 03:00); a fixed
 * local time that a fall-back repeats fires once, at its first occurrence. Patterns with a
 * wildcard or step in the hour follow elapsed time (`*\/30 * * * *` fires in both copies of a
 * repeated hour, as the clock shows each half-hour twice).
 * @module
 */
import { Cron } from "croner";

/** A rule as stored: one of `every` (seconds), `cron` with `tz`, or `at` (ISO instant). */
export type Rule = { every: number } | { cron: string; tz: string } | { at: string };

/** Bounds of a rule, ms since the epoch: due times are >= start and < end. */
export interface Bounds {
  start?: number;
  end?: number;
}

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** Parses an `every` value: seconds as a number, or `"90s"`, `"15m"`, `"2h"`, `"1d"`. Throws RangeError. */
export function parseEvery(value: unknown): number {
  let seconds: number;
  if (typeof value === "number") seconds = value;
  else if (typeof value === "string" && /^\s*\d+(\.\d+)?\s*[smhd]?\s*$/.test(value)) {
    const m = value.trim().match(/^(\d+(?:\.\d+)?)\s*([smhd]?)$/)!;
    seconds = Number(m[1]) * UNITS[m[2] || "s"];
  } else {
    throw new RangeError(`'every' must be seconds or a duration like "15m", "2h": current value is ${JSON.stringify(value)}`);
  }
  if (!Number.isFinite(seconds) || seconds < 1) {
    throw new RangeError(`'every' must be at least 1 second: current value is ${JSON.stringify(value)}`);
  }
  return seconds;
}

/** Checks an IANA time zone name; returns it. Throws RangeError. */
export function checkTimeZone(tz: unknown): string {
  if (typeof tz !== "string" || tz === "") throw new RangeError(`'tz' must be an IANA time zone name such as "Europe/Berlin": current value is ${JSON.stringify(tz)}`);
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: tz });
  } catch {
    throw new RangeError(`'tz' is not a known IANA time zone: '${tz}' (e.g. "UTC", "Europe/Berlin", "America/New_York")`);
  }
  return tz;
}

const crons = new Map<string, Cron>();

/** The croner evaluator of `cron` in `tz` (cached); throws RangeError on a bad pattern. */
export function cronOf(cron: string, tz: string): Cron {
  const key = `${tz} ${cron}`;
  let c = crons.get(key);
  if (c) return c;
  if (typeof cron !== "string" || cron.trim() === "") throw new RangeError("'cron' must be a cron expression such as \"0 9 * * 1-5\"");
  checkTimeZone(tz);
  try {
    c = new Cron(cron.trim(), { timezone: tz, mode: "5-or-6-parts" });
    c.nextRun(new Date(0)); // evaluates the zone too
  } catch (e) {
    throw new RangeError(`'cron' is not a valid expression: '${cron}': ${(e as Error).message.replace(/^CronPattern: /, "")}`);
  }
  if (crons.size > 50_000) crons.clear();
  crons.set(key, c);
  return c;
}

/** Checks a stored rule (throws RangeError/TypeError) and returns it. */
export function checkRule(rule: Rule): Rule {
  if ("every" in rule) parseEvery(rule.every);
  else if ("cron" in rule) cronOf(rule.cron, rule.tz);
  else if ("at" in rule) {
    if (Number.isNaN(Date.parse(rule.at))) throw new RangeError(`'at' must be a Date or ISO time: current value is ${JSON.stringify(rule.at)}`);
  } else throw new TypeError("A schedule needs one of 'every', 'cron' or 'at'");
  return rule;
}

/** A rule in words, for `taskd schedule list`. */
export function describeRule(rule: Rule): string {
  if ("every" in rule) return `every ${rule.every}s`;
  if ("cron" in rule) return `cron "${rule.cron}" ${rule.tz}`;
  return `at ${rule.at}`;
}

/** The first due time strictly after `after` (ms), within `bounds`; `null` when there is none. */
export function nextDue(rule: Rule, after: number, bounds: Bounds = {}): number | null {
  const from = bounds.start !== undefined ? Math.max(after, bounds.start - 1) : after;
  let t: number | null;
  if ("every" in rule) {
    const p = rule.every * 1000;
    const anchor = bounds.start ?? 0;
    t = anchor + (Math.floor((from - anchor) / p) + 1) * p;
  } else if ("cron" in rule) {
    t = cronOf(rule.cron, rule.tz).nextRun(new Date(from))?.getTime() ?? null;
  } else {
    const at = Date.parse(rule.at);
    t = at > from ? at : null;
  }
  if (t === null || (bounds.end !== undefined && t >= bounds.end)) return null;
  return t;
}

/** Due times in `(after, upTo]`: the latest `max` of them (ascending) and how many there are in all (capped). */
export interface DueTimes {
  /** The latest due times, oldest first (at most `max`). */
  times: number[];
  /** Whether earlier due times in the range were left out. */
  more: boolean;
  /** How many due times the range holds: exact for `every` and `at`, a lower bound for `cron` when `more`. */
  total: number;
}

/** The due times of `rule` in `(after, upTo]` within `bounds`: the latest `max` (>= 1). */
export function dueBetween(rule: Rule, after: number, upTo: number, max: number, bounds: Bounds = {}): DueTimes {
  const lo = bounds.start !== undefined ? Math.max(after, bounds.start - 1) : after;
  const hi = bounds.end !== undefined ? Math.min(upTo, bounds.end - 1) : upTo;
  if (hi <= lo) return { times: [], more: false, total: 0 };
  if ("every" in rule) {
    const p = rule.every * 1000;
    const anchor = bounds.start ?? 0;
    const first = Math.floor((lo - anchor) / p) + 1;
    const last = Math.floor((hi - anchor) / p);
    if (last < first) return { times: [], more: false, total: 0 };
    const from = Math.max(first, last - max + 1);
    const times: number[] = [];
    for (let k = from; k <= last; k++) times.push(anchor + k * p);
    return { times, more: from > first, total: last - first + 1 };
  }
  if ("at" in rule) {
    const at = Date.parse(rule.at);
    const times = at > lo && at <= hi ? [at] : [];
    return { times, more: false, total: times.length };
  }
  // cron: walk forward when the range is short, else take the latest from the end.
  const c = cronOf(rule.cron, rule.tz);
  const times: number[] = [];
  let d: Date | null = new Date(lo);
  for (let i = 0; i < max + 1; i++) {
    d = c.nextRun(d!);
    if (!d || d.getTime() > hi) return { times, more: false, total: times.length };
    times.push(d.getTime());
  }
  // More than `max` in range: the latest `max`, by looking back from `hi`.
  const latest = c.previousRuns(max + 1, new Date(hi + 1000)).map((x) => x.getTime()).filter((t) => t > lo && t <= hi).sort((a, b) => a - b);
  return { times: latest.slice(-max), more: true, total: max + 1 };
}
