/**
 * `EventReceiver`: listens to an app's events (what `taskd events` and any monitor use).
 * @module
 */
import type { Subscription } from "@nats-io/nats-core";
import type { NatsConnection } from "@nats-io/nats-core";
import type { TaskdEvent } from "./event.ts";

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
  private constructor(sub: Subscription) {
    this.#sub = sub;
  }

  /** Subscribes to `app`'s events (`filter`: e.g. `task.*`; default every event). Resolves once the server has the subscription. */
  static async open(app: { connection(): Promise<NatsConnection>; readonly names: { readonly eventsSubject: string } }, filter = ">"): Promise<EventReceiver> {
    const nc = await app.connection();
    const sub = nc.subscribe(`${app.names.eventsSubject}.${filter}`);
    await nc.flush();
    return new EventReceiver(sub);
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
  }
}
