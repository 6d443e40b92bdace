/**
 * `EventReceiver`: listens to an app's events (what `taskd events` and any monitor use).
 * @module
 */
import type { Subscription } from "@nats-io/nats-core";
import type { NatsConnection } from "@nats-io/nats-core";
import type { TaskdEvent } from "./event.ts";
import { type EventsLease, holdEventsLease } from "./listeners.ts";
import { getLogger } from "../log/logger.ts";

const log = getLogger("taskd.events");

/**
 * Receives events of `app` live, as an async iterator.
 * @example
 * ```ts
 * const events = await EventReceiver.open(app);
 * for await (const e of events) if (e.type === "task-failed") console.log(e.id, e.exception);
 * ```
 */
export class EventReceiver implements AsyncIterable<TaskdEvent> {
  readonly #sub: Subscription;
  readonly #lease?: EventsLease;
  private constructor(sub: Subscription, lease?: EventsLease) {
    this.#sub = sub;
    this.#lease = lease;
  }

  /**
   * Subscribes to `app`'s events (`filter`: e.g. `task.*`; default every event). Resolves once
   * the server has the subscription and, with `lease` (the default), once this receiver holds
   * an events lease: workers send task events while one is held (docs/observability.md).
   */
  static async open(
    app: { connection(): Promise<NatsConnection>; readonly names: { readonly eventsSubject: string; readonly prefix: string }; readonly config?: { replicas?: number } },
    filter = ">",
    options: { lease?: boolean } = {},
  ): Promise<EventReceiver> {
    const nc = await app.connection();
    const sub = nc.subscribe(`${app.names.eventsSubject}.${filter}`);
    await nc.flush();
    let lease: EventsLease | undefined;
    try {
      if (options.lease ?? true) lease = await holdEventsLease(app, "EventReceiver");
    } catch (e) {
      // No JetStream, or credentials without the bucket: events still arrive from workers that send them.
      log.warn(`cannot ask workers for task events (${(e as Error).message}); only workers started with -E or after enable_events send them`);
    }
    return new EventReceiver(sub, lease);
  }

  /** Events as they arrive, until `close()`. */
  async *[Symbol.asyncIterator](): AsyncIterator<TaskdEvent> {
    for await (const m of this.#sub) {
      try {
        yield m.json<TaskdEvent>();
      } catch {
        // Not an event taskd wrote: skip it.
      }
    }
  }

  /** Stops receiving; the iterator ends. */
  close(): void {
    this.#sub.unsubscribe();
    void this.#lease?.release();
  }
}
