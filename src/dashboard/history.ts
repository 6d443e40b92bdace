/**
 * Task history kept on the server: a JetStream stream `<PREFIX>_HISTORY` that captures the task
 * events workers and clients already publish on core NATS (`<prefix>.events.task.>`), bounded
 * by age and count. The dashboard follows it with an ordered consumer from the first stored
 * event: the replay rebuilds its index after a restart, and the same consumer then delivers
 * events live. When the consumer ends (broker restart, missed heartbeats) it is re-created
 * from the next sequence, so nothing is applied twice or skipped.
 * @module
 */
import { DeliverPolicy, DiscardPolicy, type JetStreamManager, RetentionPolicy, StorageType } from "@nats-io/jetstream";
import type { ConsumerMessages } from "@nats-io/jetstream";
import type { Broker } from "../nats/broker.ts";
import { isNotFound } from "../nats/errors.ts";
import type { TaskdEvent } from "../events/event.ts";
import { getLogger } from "../log/logger.ts";

const log = getLogger("taskd.dashboard");

/** How long the history stream keeps events, in seconds. @default 7 days */
export const DEFAULT_HISTORY_AGE = 7 * 24 * 3600;
/** How many events the history stream keeps at most. @default 1,000,000 */
export const DEFAULT_HISTORY_EVENTS = 1_000_000;

/** Bounds of the history stream. */
export interface HistoryOptions {
  /** Seconds events are kept. @default DEFAULT_HISTORY_AGE */
  maxAge?: number;
  /** Events kept at most (the oldest go first). @default DEFAULT_HISTORY_EVENTS */
  maxEvents?: number;
}

// Its name lives with the events switch: workers treat the stream as a listener.
export { historyStream } from "../events/listeners.ts";
import { historyStream } from "../events/listeners.ts";

/** Creates the history stream, or updates its bounds when they changed. */
export async function ensureHistory(broker: Broker, o: HistoryOptions = {}): Promise<void> {
  const jsm: JetStreamManager = await broker.jsm();
  const name = historyStream(broker.names.prefix);
  const config = {
    name,
    subjects: [`${broker.names.eventsSubject}.task.>`],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    num_replicas: broker.replicas,
    max_age: (o.maxAge ?? DEFAULT_HISTORY_AGE) * 1e9,
    max_msgs: o.maxEvents ?? DEFAULT_HISTORY_EVENTS,
  };
  try {
    const info = await jsm.streams.info(name);
    if (info.config.max_age !== config.max_age || info.config.max_msgs !== config.max_msgs) {
      await jsm.streams.update(name, { ...info.config, max_age: config.max_age, max_msgs: config.max_msgs });
    }
  } catch (e) {
    if (!isNotFound(e)) throw e;
    try {
      await jsm.streams.add(config);
    } catch (e2) {
      if (!/already in use/i.test(String((e2 as Error).message))) throw e2;
    }
  }
}

/** Follows the history stream: replays it, then delivers new events, until `stop()`. */
export class HistoryFollower {
  #next = 1;
  #stopped = false;
  #messages?: ConsumerMessages;
  #replayTarget = 0;
  #replayed = false;
  readonly #onReplayed: Promise<void>;
  #resolveReplayed!: () => void;

  /**
   * @param broker where the stream is
   * @param apply called with each event in stream order
   */
  constructor(readonly broker: Broker, readonly apply: (e: TaskdEvent, live: boolean) => void) {
    this.#onReplayed = new Promise((r) => (this.#resolveReplayed = r));
  }

  /** Resolves once the events stored when following began have all been applied. */
  replayed(): Promise<void> {
    return this.#onReplayed;
  }

  /** Whether the replay is over. */
  get isReplayed(): boolean {
    return this.#replayed;
  }

  #markReplayed(): void {
    if (this.#replayed) return;
    this.#replayed = true;
    this.#resolveReplayed();
  }

  /** Starts following (returns at once; the loop runs until `stop()`). */
  start(): void {
    void this.#loop();
  }

  async #loop(): Promise<void> {
    while (!this.#stopped) {
      try {
        await this.#follow();
      } catch (e) {
        if (this.#stopped) return;
        log.warn(`history: ${(e as Error).message}; following again in 1 s`);
      }
      if (!this.#stopped) await new Promise((r) => setTimeout(r, 1000));
    }
  }

  async #follow(): Promise<void> {
    const jsm = await this.broker.jsm();
    const stream = historyStream(this.broker.names.prefix);
    const info = await jsm.streams.info(stream);
    if (!this.#replayed) {
      this.#replayTarget = info.state.last_seq;
      if (info.state.messages === 0 || this.#next > this.#replayTarget) this.#markReplayed();
    }
    // Events the stream dropped (age, count) while we were away are gone: start at its first.
    const start = Math.max(this.#next, info.state.first_seq);
    const consumer = await this.broker.js.consumers.get(stream, { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: start });
    const messages = await consumer.consume({ max_messages: 2000 });
    this.#messages = messages;
    if (this.#stopped) messages.stop();
    for await (const m of messages) {
      this.#next = m.seq + 1;
      try {
        this.apply(m.json<TaskdEvent>(), this.#replayed);
      } catch { /* not an event taskd wrote */ }
      if (!this.#replayed && m.seq >= this.#replayTarget) this.#markReplayed();
    }
  }

  /** Stops following. */
  stop(): void {
    this.#stopped = true;
    this.#messages?.stop();
  }
}
