/**
 * Rate limits on task starts. `rateLimit` (Celery's): per worker instance, starts of one task
 * are spaced evenly — `"100/m"` lets one start every 0.6 s. `globalRateLimit` (beyond Celery):
 * one schedule shared by every worker of the app, kept on the server in a KV bucket
 * (`<prefix>_ratelimits`, one key per task): each start reserves the next free instant with a
 * compare-and-set, then waits for it. A waiting message holds no execution slot. See
 * docs/worker.md for how the global limit behaves when workers come and go.
 * @module
 */
import type { KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";
import { parseRate } from "../protocol/rate.ts";
import { openBucket } from "../nats/kv.ts";

/** Per-worker limits: the next instant each task may start. */
export class RateLimiter {
  readonly #perSecond = new Map<string, number>();
  readonly #next = new Map<string, number>();

  /** Sets (or with `undefined`, removes) the limit of `task`; throws `RangeError` on a bad rate. */
  set(task: string, rate: string | number | null | undefined): void {
    const r = parseRate(rate);
    if (r === undefined) this.#perSecond.delete(task);
    else this.#perSecond.set(task, r);
    this.#next.delete(task);
  }

  /** Whether `task` is limited here. */
  has(task: string): boolean {
    return this.#perSecond.has(task);
  }

  /** Reserves the next start of `task`; returns how many ms to wait for it (0: start now). */
  reserve(task: string, now = Date.now()): number {
    const r = this.#perSecond.get(task);
    if (r === undefined) return 0;
    const at = Math.max(now, this.#next.get(task) ?? 0);
    this.#next.set(task, at + 1000 / r);
    return at - now;
  }

  /** Limits in force, as tasks per second. */
  entries(): Record<string, number> {
    return Object.fromEntries(this.#perSecond);
  }
}

/** How long reservations live in the bucket without use (they are instants, soon stale). */
const GLOBAL_TTL_SECONDS = 3600;
/** Bytes the rate-limit bucket may hold: one small key per limited task, so 8 MiB is ample. */
const GLOBAL_MAX_BYTES = 8 * 1024 ** 2;

/** A limit shared by every worker of the app, kept in a KV bucket on the server. */
export class GlobalRateLimiter {
  #kv?: Promise<KV>;

  constructor(readonly nc: NatsConnection, readonly bucket: string, readonly replicas = 1) {}

  #open(): Promise<KV> {
    this.#kv ??= openBucket(this.nc, this.bucket, { ttlSeconds: GLOBAL_TTL_SECONDS, replicas: this.replicas, maxBytes: GLOBAL_MAX_BYTES }).catch((e) => {
      this.#kv = undefined;
      throw e;
    });
    return this.#kv;
  }

  /**
   * Reserves the next global start of `task` at `perSecond`; returns the ms to wait for it.
   * Compare-and-set on the task's key: when two workers race, one retries with the new value.
   */
  async reserve(task: string, perSecond: number): Promise<number> {
    const kv = await this.#open();
    const key = keyFor(task);
    const interval = 1000 / perSecond;
    for (let attempt = 0;; attempt++) {
      const now = Date.now();
      const e = await kv.get(key);
      const prev = e && e.operation === "PUT" ? Number(new TextDecoder().decode(e.value)) : 0;
      const at = Math.max(now, Number.isFinite(prev) ? prev : 0);
      const value = new TextEncoder().encode(String(at + interval));
      try {
        if (e && e.operation === "PUT") await kv.update(key, value, e.revision);
        else if (e) await kv.update(key, value, e.revision);
        else await kv.create(key, value);
        // Measured after the round trips, so the start lands on the reserved instant.
        return Math.max(0, at - Date.now());
      } catch (err) {
        if (attempt > 50) throw err;
        // Lost the race (wrong last sequence / key exists): read again.
      }
    }
  }
}

function keyFor(task: string): string {
  return task.replace(/[^-/_=.a-zA-Z0-9]/g, "_");
}
