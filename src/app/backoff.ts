/**
 * Exponential backoff for automatic retries, as Celery computes it.
 * @module
 */

/**
 * Seconds before retry number `retries + 1`: `min(max, factor * 2 ** retries)`, then, with
 * `jitter`, a uniformly random whole number of seconds from 0 to that value.
 * @example
 * ```ts
 * backoffDelay({ factor: 1, retries: 3, max: 600, jitter: false }); // 8
 * ```
 */
export function backoffDelay(o: { factor: number; retries: number; max: number; jitter: boolean; random?: () => number }): number {
  if (!(o.factor >= 0)) throw new RangeError(`Cannot compute backoff: 'retryBackoff' must be >= 0: current value is ${o.factor}`);
  const delay = Math.min(o.max, o.factor * 2 ** o.retries);
  if (!o.jitter) return Math.max(0, delay);
  return Math.max(0, Math.floor((o.random ?? Math.random)() * (Math.floor(delay) + 1)));
}
