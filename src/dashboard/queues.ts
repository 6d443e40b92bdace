/**
 * Queues as the dashboard shows them: one row per queue consumer of the tasks stream
 * (`queue-<name>`), with JetStream's exact counts (waiting, ack-pending, redelivered, waiting
 * pulls), and the delayed stream's size. Read at most once a second, whatever the number of
 * browsers. A queue's priority levels (consumers `queue-<name>=p<N>`, docs/flow.md) are summed into
 * its row; `paused` comes from the paused-queues bucket.
 * @module
 */
import type { Broker } from "../nats/broker.ts";
import { isNotFound } from "../nats/errors.ts";

/** One queue. */
export interface QueueInfo {
  name: string;
  /** Messages waiting to be delivered. */
  pending: number;
  /** Delivered and not yet acknowledged (running or prefetched). */
  ackPending: number;
  /** Delivered more than once. */
  redelivered: number;
  /** Pull requests waiting (roughly: idle worker fetches). */
  waitingPulls: number;
  /** Whether the queue is paused (`taskd queue pause`). */
  paused: boolean | null;
  /** Alive workers that consume it (from their last `inspect stats`); `null` when none answered yet. */
  workers?: string[] | null;
}

/** The queues and the delayed tasks. */
export interface QueuesView {
  queues: QueueInfo[];
  /** Tasks waiting for their eta, countdown or retry delay. */
  delayed: number;
  /** Messages in the tasks stream (every queue). */
  stored: number;
  /** Whether pause/resume can be used. */
  pauseAvailable: boolean;
}

/** Reads queue facts from the broker, cached for `ttlMs`. */
export class QueueReader {
  #cache?: { at: number; value: Promise<QueuesView> };

  /**
   * @param broker the broker to read
   * @param paused the queues paused now (the paused-queues bucket)
   */
  constructor(readonly broker: () => Promise<Broker>, readonly paused: () => Promise<ReadonlyMap<string, unknown>> = () => Promise.resolve(new Map()), readonly ttlMs = 1000) {}

  /** Drops the cached reading: the next `read()` asks the server (after a pause or resume). */
  forget(): void {
    this.#cache = undefined;
  }

  /** The queues now (or as read less than `ttlMs` ago). */
  read(): Promise<QueuesView> {
    const now = Date.now();
    if (this.#cache && now - this.#cache.at < this.ttlMs) return this.#cache.value;
    const value = this.#read();
    this.#cache = { at: now, value };
    value.catch(() => (this.#cache = undefined));
    return value;
  }

  async #read(): Promise<QueuesView> {
    const broker = await this.broker();
    const jsm = await broker.jsm();
    const n = broker.names;
    const out: QueuesView = { queues: [], delayed: 0, stored: 0, pauseAvailable: true };
    const paused = await this.paused().catch(() => new Map<string, unknown>());
    const byName = new Map<string, QueueInfo>();
    try {
      const info = await jsm.streams.info(n.tasksStream);
      out.stored = info.state.messages;
      for await (const c of jsm.consumers.list(n.tasksStream)) {
        const durable = c.config.durable_name ?? c.name;
        if (!durable.startsWith("queue-")) continue;
        // `queue-<name>` and its priority levels `queue-<name>=p<N>` make one row.
        const name = durable.slice("queue-".length).replace(/=p\d$/, "");
        const q = byName.get(name) ?? { name, pending: 0, ackPending: 0, redelivered: 0, waitingPulls: 0, paused: paused.has(name) };
        q.pending += c.num_pending;
        q.ackPending += c.num_ack_pending;
        q.redelivered += c.num_redelivered;
        q.waitingPulls += c.num_waiting;
        byName.set(name, q);
      }
      out.queues = [...byName.values()];
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
    try {
      out.delayed = (await jsm.streams.info(n.delayedStream)).state.messages;
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
    out.queues.sort((a, b) => a.name.localeCompare(b.name));
    return out;
  }
}
