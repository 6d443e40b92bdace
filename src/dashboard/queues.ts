/**
 * Queues as the dashboard shows them: one row per queue consumer of the tasks stream
 * (`queue-<name>`), with JetStream's exact counts (waiting, ack-pending, redelivered, waiting
 * pulls), and the delayed stream's size. Read at most once a second, whatever the number of
 * browsers. Pausing is not available until flow control lands: `paused` is then `null`.
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
  /** Whether the queue is paused; `null` while pausing is not available. */
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

  /** @param broker the broker to read */
  constructor(readonly broker: () => Promise<Broker>, readonly ttlMs = 1000) {}

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
    const out: QueuesView = { queues: [], delayed: 0, stored: 0, pauseAvailable: false };
    try {
      const info = await jsm.streams.info(n.tasksStream);
      out.stored = info.state.messages;
      for await (const c of jsm.consumers.list(n.tasksStream)) {
        const name = c.config.durable_name ?? c.name;
        if (!name.startsWith("queue-")) continue;
        out.queues.push({
          name: name.slice("queue-".length),
          pending: c.num_pending,
          ackPending: c.num_ack_pending,
          redelivered: c.num_redelivered,
          waitingPulls: c.num_waiting,
          paused: null,
        });
      }
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
