/**
 * The consume loops of a worker: one per queue, watched and re-created when it ends (as after a
 * broker restart). Each received message takes a place in the bounded prefetch reserve, waits
 * for its rate limits (per worker and global) without holding an execution slot, then for any
 * free slot — so a long task never holds up short ones — and is executed.
 * @module
 */
import type { ConsumerMessages, JsMsg } from "@nats-io/jetstream";
import type { Task } from "../app/task.ts";
import type { Broker } from "../nats/broker.ts";
import { PULL_EXPIRES_MS } from "../nats/broker.ts";
import { H } from "../protocol/message.ts";
import { getLogger } from "../log/logger.ts";
import type { TaskInfo } from "../control/protocol.ts";
import { execute, type ExecContext } from "./execute.ts";
import { type GlobalRateLimiter, RateLimiter } from "./ratelimit.ts";
import { batchPrefetch } from "./batch_buffer.ts";
import { headersOf } from "./headers.ts";
import { Slots } from "./slots.ts";

const log = getLogger("taskd.worker");

/** What the consume loops need to know of their worker. */
export interface ConsumeOptions {
  /** The worker's node name. */
  hostname: string;
  /** Tasks served, by name. */
  registry: Map<string, Task>;
  /** Received messages held at most. */
  prefetch: number;
  /** The execution slots. */
  slots: Slots;
  /** Whether a task id is revoked (a revoked message skips its global rate-limit reservation). */
  isRevoked(id: string): boolean;
}

/** The consume loops of one worker, with what they hold. */
export class ConsumeLoops {
  /** Per-worker rate limits. */
  readonly limits: RateLimiter = new RateLimiter();
  /** Global rate limits (tasks per second), by task name. */
  readonly globalRates: Map<string, number> = new Map();
  /** Tasks finished here, by name. */
  readonly counts: Map<string, number> = new Map();
  /** Tasks finished here. */
  processed = 0;
  readonly #held = new Map<JsMsg, TaskInfo>();
  readonly #reserve: Slots;
  readonly #wakers = new Set<() => void>();
  readonly #consumers = new Map<string, ConsumerMessages>();
  readonly #loops: Promise<void>[] = [];
  #global?: GlobalRateLimiter;
  #running = false;

  /** Loops for a worker described by `options` (call `start()`). */
  constructor(readonly options: ConsumeOptions) {
    this.#reserve = new Slots(options.prefetch);
  }

  /** Received messages waiting for a rate limit or a slot. */
  get held(): ReadonlyMap<JsMsg, TaskInfo> {
    return this.#held;
  }

  /** Starts one loop per queue, with `global` for global rate limits when any task has one. */
  start(broker: Broker, queues: readonly string[], ctx: ExecContext, global?: GlobalRateLimiter): void {
    this.#global = global;
    this.#running = true;
    for (const q of queues) this.#loops.push(this.#loop(broker, q, ctx));
  }

  /** Stops fetching; messages waiting for a rate limit give up their wait. */
  stop(): void {
    this.#running = false;
    for (const c of this.#consumers.values()) c.stop();
    for (const wake of [...this.#wakers]) wake();
  }

  async #loop(broker: Broker, queue: string, ctx: ExecContext): Promise<void> {
    while (this.#running) {
      try {
        const consumer = await broker.queueConsumer(queue);
        const messages = await consumer.consume({ max_messages: batchPrefetch(this.options.registry, queue, this.options.prefetch), expires: PULL_EXPIRES_MS });
        this.#consumers.set(queue, messages);
        for await (const m of messages) {
          // Bounded prefetch: at most `prefetch` received messages wait or run at once.
          if (!this.#reserve.tryAcquire()) await this.#reserve.acquire();
          if (!this.#running) {
            this.#reserve.release();
            m.nak();
            continue;
          }
          this.#dispatch(ctx, m, queue);
        }
      } catch (e) {
        if (this.#running) log.warn(`consumer of queue ${queue} failed: ${(e as Error).message}`);
      }
      if (this.#running) {
        log.warn(`consumer of queue ${queue} stopped; re-creating it in 1 s`);
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }

  /**
   * Runs one received message: waits for its rate limits (holding no execution slot), then for
   * a free slot — any free slot, so a long task never holds up short ones — then executes it.
   */
  async #dispatch(ctx: ExecContext, m: JsMsg, queue: string): Promise<void> {
    const { slots } = this.options;
    const h = headersOf(m);
    const name = h[H.task] || "";
    const id = h[H.id] || "";
    this.#held.set(m, {
      id,
      name,
      argsrepr: h[H.argsrepr] || undefined,
      kwargsrepr: h[H.kwargsrepr] || undefined,
      hostname: this.options.hostname,
      deliveryInfo: { queue, redelivered: m.info.redelivered },
    });
    let slot = false;
    try {
      let wait = this.limits.reserve(name);
      const perSecond = this.globalRates.get(name);
      if (perSecond !== undefined && this.#global && !this.options.isRevoked(id)) wait = Math.max(wait, await this.#globalReserve(name, perSecond));
      if (wait > 0) await this.#sleep(wait);
      if (this.#running) {
        if (!slots.tryAcquire()) await slots.acquire();
        slot = true;
      }
      this.#held.delete(m);
      if (!this.#running) {
        // Shutting down before it started: give it back at once.
        m.nak();
        return;
      }
      await execute(ctx, m, queue);
      this.processed++;
      this.counts.set(name, (this.counts.get(name) ?? 0) + 1);
    } catch (e) {
      log.error(`internal error while dispatching message ${m.seq}: ${(e as Error).message}; it will be delivered again`);
      m.nak(1000);
    } finally {
      this.#held.delete(m);
      if (slot) slots.release();
      this.#reserve.release();
    }
  }

  async #globalReserve(name: string, perSecond: number): Promise<number> {
    for (;;) {
      try {
        return await this.#global!.reserve(name, perSecond);
      } catch (e) {
        if (!this.#running) return 0;
        log.warn(`could not reserve a start of ${name} under its global rate limit: ${(e as Error).message}; retrying in 1 s`);
        await this.#sleep(1000);
      }
    }
  }

  /** Sleeps `ms`, or less when the loops stop. */
  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t);
        this.#wakers.delete(done);
        resolve();
      };
      const t = setTimeout(done, ms);
      this.#wakers.add(done);
    });
  }
}
