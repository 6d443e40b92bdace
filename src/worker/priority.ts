/**
 * Exact priorities within a queue. Each level 0…9 has its own subject and durable consumer
 * (docs/flow.md); a worker consumes every level, and a message may take a slot only when no
 * higher level of its queue has a message waiting — in this worker (ready for a slot: past its
 * rate limits) or on the server (the `pending` count each delivery carries, refreshed from
 * consumer info when it may be stale) while this worker has room to receive it. A higher level
 * whose received messages all wait for a rate limit does not hold lower ones up. Freed slots go
 * to the highest level first (`Slots.acquire(priority)`).
 * @module
 */
import { MAX_PRIORITY } from "../protocol/flow.ts";

/** How long a lower level waits on a higher level's server count before re-reading it. */
const REFRESH_MS = 200;

interface Waiter {
  level: number;
  resolve: () => void;
}

/** The turn-taking of one queue's levels on one worker. */
export class PriorityTurns {
  /** Messages of each level received here, past their rate limits, not yet holding a slot. */
  readonly waiting: number[] = new Array(MAX_PRIORITY + 1).fill(0);
  /** Messages of each level on the server not yet delivered (last known). */
  readonly pending: number[] = new Array(MAX_PRIORITY + 1).fill(0);
  readonly #waiters: Waiter[] = [];
  #timer?: ReturnType<typeof setTimeout>;

  /**
   * `refresh(level)` re-reads a level's server count (consumer info); `canReceive(level)` says
   * whether this worker has room to receive more of a level (its prefetch reserve).
   */
  constructor(readonly refresh: (level: number) => Promise<number | undefined>, readonly canReceive: (level: number) => boolean = () => true) {}

  #blocked(level: number): boolean {
    for (let h = level + 1; h <= MAX_PRIORITY; h++) if (this.waiting[h] > 0 || (this.pending[h] > 0 && this.canReceive(h))) return true;
    return false;
  }

  /** Notes a delivery of `level` with the server's count of messages left behind it. */
  delivered(level: number, pendingAfter: number): void {
    this.pending[level] = pendingAfter;
  }

  /** A message of `level` is ready for a slot (past its rate limits). */
  ready(level: number): void {
    this.waiting[level]++;
  }

  /** Something that `canReceive` reads changed: let through what no longer waits. */
  changed(): void {
    this.#wake();
  }

  /** Sets a level's server count (consumer info). */
  setPending(level: number, n: number): void {
    this.pending[level] = n;
    this.#wake();
  }

  /** Resolves when a message of `level` may take a slot (no higher level waits). */
  turn(level: number): Promise<void> {
    if (!this.#blocked(level)) return Promise.resolve();
    return new Promise((resolve) => {
      this.#waiters.push({ level, resolve });
      this.#schedule();
    });
  }

  /** A message of `level` took its slot (or left without one). */
  started(level: number): void {
    if (this.waiting[level] > 0) this.waiting[level]--;
    this.#wake();
  }

  /** Lets everything through (the worker is stopping). */
  releaseAll(): void {
    for (const w of this.#waiters.splice(0)) w.resolve();
    clearTimeout(this.#timer);
  }

  #wake(): void {
    for (let i = 0; i < this.#waiters.length;) {
      const w = this.#waiters[i];
      if (!this.#blocked(w.level)) {
        this.#waiters.splice(i, 1);
        w.resolve();
      } else i++;
    }
  }

  /** While something waits only on server counts, re-read them: another worker may have taken those messages. */
  #schedule(): void {
    if (this.#timer) return;
    this.#timer = setTimeout(async () => {
      this.#timer = undefined;
      if (this.#waiters.length === 0) return;
      const low = Math.min(...this.#waiters.map((w) => w.level));
      await Promise.all(this.pending.map(async (n, level) => {
        if (level <= low || n === 0 || this.waiting[level] > 0) return;
        const fresh = await this.refresh(level).catch(() => undefined);
        if (fresh !== undefined) this.pending[level] = fresh;
      }));
      this.#wake();
      if (this.#waiters.length > 0) this.#schedule();
    }, REFRESH_MS);
  }
}
