/**
 * Rates as Celery writes them (`"100/m"`): parsed once here, for the worker's limits, the
 * control client and the command line.
 * @module
 */

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600 };

/**
 * Parses a rate into tasks per second: `"100/m"`, `"10/s"`, `"5/h"`, `"/s"` forms, or a number
 * (per second). `0`, `""`, `null` and `undefined` mean no limit (returns `undefined`).
 * @example
 * ```ts
 * parseRate("100/m"); // 1.666…
 * parseRate(5);       // 5
 * ```
 */
export function parseRate(rate: string | number | null | undefined): number | undefined {
  if (rate === undefined || rate === null || rate === "" || rate === 0 || rate === "0") return undefined;
  if (typeof rate === "number") {
    if (!Number.isFinite(rate) || rate < 0) throw new RangeError(`Cannot use rate limit ${rate}: give tasks per second as a number > 0, or "100/m"`);
    return rate;
  }
  const m = /^\s*(\d+(?:\.\d+)?)\s*(?:\/\s*([smh]))?\s*$/.exec(String(rate));
  if (!m) throw new RangeError(`Cannot use rate limit '${rate}': write it as "<n>/s", "<n>/m" or "<n>/h" (e.g. "100/m")`);
  const n = Number(m[1]);
  if (n === 0) return undefined;
  return n / UNITS[m[2] ?? "s"];
}
