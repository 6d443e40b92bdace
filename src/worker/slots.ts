/**
 * `Slots`: a counting semaphore for the worker's concurrency.
 * @module
 */

/** At most `size` holders at once; `acquire` waits for a free slot. */
export class Slots {
  #free: number;
  /** Waiters by priority, highest first; first come, first served within one priority. */
  readonly #waiters: { priority: number; resolve: () => void }[] = [];

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`Cannot create a pool: concurrency must be a whole number >= 1: current value is ${size}`);
    this.#free = size;
  }

  /** Slots in use. */
  get busy(): number {
    return this.size - this.#free;
  }

  /** Takes a free slot at once if there is one (no promise, no microtask); false when none is free. */
  tryAcquire(): boolean {
    if (this.#free <= 0) return false;
    this.#free--;
    return true;
  }

  /** Resolves when a slot is taken; a freed slot goes to the highest `priority` waiting. */
  acquire(priority = 0): Promise<void> {
    if (this.#free > 0) {
      this.#free--;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      let i = this.#waiters.length;
      while (i > 0 && this.#waiters[i - 1].priority < priority) i--;
      this.#waiters.splice(i, 0, { priority, resolve });
    });
  }

  /** Gives a slot back. */
  release(): void {
    const next = this.#waiters.shift();
    if (next) next.resolve();
    else this.#free++;
  }

  /** Resolves when every slot is free. */
  async idle(pollMs = 50): Promise<void> {
    while (this.#free < this.size) await new Promise((r) => setTimeout(r, pollMs));
  }
}
