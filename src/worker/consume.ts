/**
 * The consume loops of a worker: one per queue and priority level in use (every queue's default
 * level; another once a message waits at it), watched and re-created when it ends (as after a
 * broker restart), stopped while the queue is paused. Each received message
 * takes a place in its level's bounded prefetch reserve, waits for its rate limits (per worker,
 * global, per key) without holding an execution slot, then for its priority's turn and any free
 * slot — so a long task never holds up short ones — takes a concurrency lease when its task has
 * a limit (or is parked on the server), and is executed. docs/flow.md.
 * @module
 */
import type { ConsumerMessages, JsMsg } from "@nats-io/jetstream";
import type { Task } from "../app/task.ts";
import type { Broker } from "../nats/broker.ts";
import { PULL_EXPIRES_MS } from "../nats/broker.ts";
import { H } from "../protocol/message.ts";
import { getLogger, getLogLevel } from "../log/logger.ts";
import type { TaskInfo } from "../control/protocol.ts";
import { execute, type ExecContext } from "./execute.ts";
import { type GlobalRateLimiter, RateLimiter } from "./ratelimit.ts";
import { batchPrefetch } from "./batch_buffer.ts";
import { headersOf } from "./headers.ts";
import { Slots } from "./slots.ts";
import { DEFAULT_PRIORITY, FLOW_H, keyToken, MAX_PRIORITY, MIN_PRIORITY } from "../protocol/flow.ts";
import { PriorityTurns } from "./priority.ts";
import { type LevelCount, LevelScan } from "./levels.ts";
import type { ConcurrencyGate, Entered } from "./concurrency.ts";

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

/** The flow-control parts the loops use when the worker has them (docs/flow.md). */
export interface FlowParts {
  /** Leases for tasks with `concurrency`. */
  gate?: ConcurrencyGate;
}

/** The fewest messages a level's reserve holds when the prefetch is shared by many queues. */
const MIN_RESERVE = 32;

const LEVELS = Array.from({ length: MAX_PRIORITY - MIN_PRIORITY + 1 }, (_, i) => MAX_PRIORITY - i);

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
  /** One prefetch reserve per queue and level: a full low level never keeps a high one out. */
  readonly #reserves = new Map<string, Slots>();
  readonly #turns = new Map<string, PriorityTurns>();
  readonly #wakers = new Set<() => void>();
  readonly #consumers = new Map<string, ConsumerMessages>();
  readonly #loops: Promise<void>[] = [];
  /** Queues paused (durably, docs/flow.md): their loops do not fetch. */
  readonly #paused = new Set<string>();
  readonly #resumers = new Map<string, (() => void)[]>();
  /** Queue levels consumed (`<queue>#<level>`): every default level, the others once used. */
  readonly #active = new Set<string>();
  #scan?: LevelScan;
  #global?: GlobalRateLimiter;
  #flow: FlowParts = {};
  #running = false;

  /** Loops for a worker described by `options` (call `start()`). */
  constructor(readonly options: ConsumeOptions) {}

  /** Marks `queue` paused (its consumers stop; messages stay on the server) or resumed. */
  setPaused(queue: string, paused: boolean): void {
    if (paused === this.#paused.has(queue)) return;
    if (paused) {
      this.#paused.add(queue);
      for (const [k, c] of this.#consumers) if (k.startsWith(`${queue}#`)) c.stop();
    } else {
      this.#paused.delete(queue);
      for (const wake of this.#resumers.get(queue)?.splice(0) ?? []) wake();
    }
  }

  /** Queues paused here. */
  get paused(): string[] {
    return [...this.#paused];
  }

  /** Whether `queue` is paused here. */
  isPaused(queue: string): boolean {
    return this.#paused.has(queue);
  }

  /** Received messages waiting for a rate limit or a slot. */
  get held(): ReadonlyMap<JsMsg, TaskInfo> {
    return this.#held;
  }

  /**
   * Starts consuming `queues`, with `global` for global rate limits when any task has one: the
   * default level of each at once, another level once a message waits at it (src/worker/levels.ts;
   * the first look is made before anything is consumed, so a backlog's priorities hold from the
   * first slot).
   */
  async start(broker: Broker, queues: readonly string[], ctx: ExecContext, global?: GlobalRateLimiter, flow: FlowParts = {}): Promise<void> {
    this.#global = global;
    this.#flow = flow;
    this.#running = true;
    for (const q of queues) {
      const share = this.#share(q, queues.length);
      for (const level of LEVELS) this.#reserves.set(`${q}#${level}`, new Slots(share));
      this.#turns.set(
        q,
        new PriorityTurns(
          async (level) => (await (await broker.queueConsumer(q, level)).info()).num_pending,
          (level) => this.#reserves.get(`${q}#${level}`)!.busy < share,
        ),
      );
    }
    const activate = ({ queue, level, count }: LevelCount) => {
      const key = `${queue}#${level}`;
      if (this.#active.has(key) || !this.#running) return;
      this.#active.add(key);
      const turns = this.#turns.get(queue)!;
      // Lower levels yield to it from now on, before its consumer is up.
      if (count > 0) turns.setPending(level, count);
      this.#loops.push(this.#loop(broker, queue, level, ctx, turns));
    };
    this.#scan = new LevelScan(broker, new Set(queues), activate, () => this.#active.size === queues.length * LEVELS.length);
    await this.#scan.scan();
    for (const q of queues) activate({ queue: q, level: DEFAULT_PRIORITY, count: 0 });
    this.#scan.start();
  }

  /** Stops fetching; messages waiting for a rate limit give up their wait. */
  stop(): void {
    this.#running = false;
    this.#scan?.stop();
    for (const c of this.#consumers.values()) c.stop();
    for (const wake of [...this.#wakers]) wake();
    for (const t of this.#turns.values()) t.releaseAll();
    for (const q of [...this.#resumers.keys()]) for (const wake of this.#resumers.get(q)!.splice(0)) wake();
  }

  async #loop(broker: Broker, queue: string, level: number, ctx: ExecContext, turns: PriorityTurns): Promise<void> {
    const key = `${queue}#${level}`;
    const reserve = this.#reserves.get(key)!;
    while (this.#running) {
      if (this.#paused.has(queue)) {
        await new Promise<void>((r) => (this.#resumers.get(queue) ?? this.#resumers.set(queue, []).get(queue)!).push(r));
        continue;
      }
      try {
        const consumer = await broker.queueConsumer(queue, level);
        // What waits on the server at this level, before any of it is delivered (docs/flow.md).
        turns.setPending(level, (await consumer.info()).num_pending);
        const messages = await consumer.consume({ max_messages: reserve.size, expires: PULL_EXPIRES_MS });
        this.#consumers.set(key, messages);
        if (this.#paused.has(queue)) messages.stop();
        for await (const m of messages) {
          if (getLogLevel() === "debug") log.debug(`delivered: message ${m.seq} (delivery ${m.info.deliveryCount}) of queue ${queue}`);
          turns.delivered(level, m.info.pending);
          // Bounded prefetch: at most the level's reserve of received messages wait or run at once.
          if (!reserve.tryAcquire()) await reserve.acquire();
          // A full reserve no longer holds lower levels up on this level's server count.
          if (reserve.busy === reserve.size) turns.changed();
          if (!this.#running || this.#paused.has(queue)) {
            reserve.release();
            m.nak();
            continue;
          }
          this.#dispatch(ctx, m, queue, level, reserve, turns);
        }
      } catch (e) {
        if (this.#running) log.warn(`consumer of queue ${queue}${level === DEFAULT_PRIORITY ? "" : ` (priority ${level})`} failed: ${(e as Error).message}`);
      }
      if (this.#running && !this.#paused.has(queue)) {
        log.warn(`consumer of queue ${queue}${level === DEFAULT_PRIORITY ? "" : ` (priority ${level})`} stopped; re-creating it in 1 s`);
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }

  /**
   * The prefetch reserve of each level of `queue` (received messages held at most, and pulled
   * ahead): the worker's prefetch shared by its `queues` queues, at least {@link MIN_RESERVE}, so
   * that a worker on 100 queues holds about `prefetch` received messages, not 100 × `prefetch`
   * (W6 of bench/scale.ts: 606 MiB against 132 for one queue); a queue with a Batches task
   * holds a whole batch.
   */
  #share(queue: string, queues: number): number {
    const { prefetch, registry } = this.options;
    const need = batchPrefetch(registry, queue, prefetch);
    return need > prefetch ? need : Math.max(Math.min(MIN_RESERVE, prefetch), Math.ceil(prefetch / queues));
  }

  /**
   * Runs one received message: waits for its rate limits (holding no execution slot), then for
   * its priority's turn and a free slot — any free slot, so a long task never holds up short
   * ones — then for a concurrency lease when its task has a limit, then executes it.
   */
  async #dispatch(ctx: ExecContext, m: JsMsg, queue: string, level: number, reserve: Slots, turns: PriorityTurns): Promise<void> {
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
    /** Counted among its level's messages ready for a slot (PriorityTurns). */
    let ready = false;
    let entered: Entered | undefined;
    try {
      let wait = this.limits.reserve(name);
      const perSecond = this.globalRates.get(name);
      if (perSecond !== undefined && this.#global && !this.options.isRevoked(id)) {
        // With rateLimitKey, the limit holds per key: one schedule per key on the server.
        const rateKey = h[FLOW_H.rateKey];
        const scope = rateKey === undefined ? name : `${name}.k.${keyToken(rateKey)}`;
        wait = Math.max(wait, await this.#globalReserve(scope, perSecond));
      }
      if (wait > 0) await this.#sleep(wait);
      turns.ready(level);
      ready = true;
      if (this.#running) {
        await turns.turn(level);
        if (!slots.tryAcquire()) await slots.acquire(level);
        slot = true;
      }
      turns.started(level);
      ready = false;
      if (!this.#running || this.#paused.has(queue)) {
        // Shutting down, or its queue was paused, before it started: give it back at once.
        this.#held.delete(m);
        m.nak();
        return;
      }
      const limit = this.#flow.gate?.limitOf(name);
      // Revoked ones too: one may hold a lease handed to it, which only its run passes on.
      if (limit !== undefined) {
        entered = await this.#flow.gate!.enter(m, h, queue, name, limit);
        // No lease free: the message now waits on the server (parked and acked).
        if (!entered) return;
      }
      this.#held.delete(m);
      const uniqueKey = h[FLOW_H.unique];
      const until = h[FLOW_H.uniqueUntil];
      if (uniqueKey && until === "queued") await this.#releaseUnique(name, uniqueKey, id);
      const outcome = await execute(ctx, m, queue);
      if (uniqueKey && until !== "queued" && outcome !== "retry") await this.#releaseUnique(name, uniqueKey, id);
      this.processed++;
      this.counts.set(name, (this.counts.get(name) ?? 0) + 1);
    } catch (e) {
      log.error(`internal error while dispatching message ${m.seq}: ${(e as Error).message}; it will be delivered again`);
      m.nak(1000);
    } finally {
      if (ready) turns.started(level);
      this.#held.delete(m);
      // The lease is passed on before the slot is freed, so a warm shutdown (which waits for
      // free slots) does not close the connection under it.
      if (entered) await this.#flow.gate!.leave(entered);
      if (slot) slots.release();
      reserve.release();
    }
  }

  async #releaseUnique(name: string, key: string, id: string): Promise<void> {
    try {
      await this.options.registry.get(name)?.app.uniqueMarkers.release(key, id);
    } catch (e) {
      log.warn(`could not remove the unique marker ${key} of task ${id}: ${(e as Error).message}; it lapses at its ttl`);
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
