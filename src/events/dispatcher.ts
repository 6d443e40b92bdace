/**
 * `EventDispatcher`: publishes events on core NATS. Sending never blocks or throws into the
 * caller: a monitor that is not listening costs one publish the server drops.
 * @module
 */
import type { NatsConnection } from "@nats-io/nats-core";
import process from "node:process";
import { getLogger } from "../log/logger.ts";
import { eventSubject, type EventType, type TaskdEvent } from "./event.ts";

const log = getLogger("taskd.events");

/** Publishes events under one prefix, as one host. */
export class EventDispatcher {
  #warned = false;

  /**
   * @param nc the connection to publish on
   * @param prefix the app's subject prefix
   * @param hostname the node name events carry
   * @param enabled whether events are sent at all
   */
  constructor(readonly nc: NatsConnection, readonly prefix: string, readonly hostname: string, public enabled = true) {}

  /** Sends one event of `type` with `fields`. */
  send(type: EventType, fields: Partial<TaskdEvent> = {}): void {
    if (!this.enabled || this.nc.isClosed()) return;
    const event: TaskdEvent = { type, timestamp: Date.now() / 1000, hostname: this.hostname, pid: process.pid, ...fields };
    try {
      this.nc.publish(eventSubject(this.prefix, type), JSON.stringify(event));
    } catch (e) {
      if (!this.#warned) log.warn(`could not send events: ${(e as Error).message}`);
      this.#warned = true;
    }
  }
}
