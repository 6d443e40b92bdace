/**
 * `Slots`: a counting semaphore for the worker's concurrency.
 * @module
 */

/** At most `size` holders at once; `acquire` waits for a free slot. */
export class Slots {
  #free: number;
  readonly #waiters: (() => void)[] = [];

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

  /** Resolves when a slot is taken. */
  acquire(): Promise<void> {
    if (this.#free > 0) {
      this.#free--;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Gives a slot back. */
  release(): void {
    const next = this.#waiters.shift();
    if (next) next();
    else this.#free++;
  }

  /** Resolves when every slot is free. */
  async idle(pollMs = 50): Promise<void> {
    while (this.#free < this.size) await new Promise((r) => setTimeout(r, pollMs));
  }
}
