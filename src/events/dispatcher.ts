/**
 * `EventDispatcher`: publishes events on core NATS. Sending never blocks or throws into the
 * caller: a monitor that is not listening costs one publish the server drops.
 * @module
 */
import type { NatsConnection } from "@nats-io/nats-core";
import process from "node:process";
import { setImmediate } from "node:timers";
import { getLogger } from "../log/logger.ts";
import { eventSubject, type EventType, type TaskdEvent } from "./event.ts";

const log = getLogger("taskd.events");

/** Publishes events under one prefix, as one host. */
export class EventDispatcher {
  #warned = false;
  readonly #subjects = new Map<EventType, string>();
  readonly #pid = process.pid;

  /**
   * @param nc the connection to publish on
   * @param prefix the app's subject prefix
   * @param hostname the node name events carry
   * @param enabled whether events are sent at all
   */
  constructor(readonly nc: NatsConnection, readonly prefix: string, readonly hostname: string, public enabled = true) {}

  /**
   * Sends one event of `type` with `fields`. Task events go out in one batch at the end of the
   * event-loop turn (one socket write for many events); worker events, and everything queued
   * before them, at once.
   */
  send(type: EventType, fields: Partial<TaskdEvent> = {}): void {
    if (!this.enabled || this.nc.isClosed()) return;
    this.#queue.push({ type, timestamp: Date.now() / 1000, hostname: this.hostname, pid: this.#pid, ...fields });
    if (type.startsWith("worker-")) this.flush();
    else if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#flush);
    }
  }

  #queue: TaskdEvent[] = [];
  #scheduled = false;
  readonly #flush = () => this.flush();

  /** Publishes the events queued so far. */
  flush(): void {
    this.#scheduled = false;
    const events = this.#queue;
    if (events.length === 0) return;
    this.#queue = [];
    if (this.nc.isClosed()) return;
    try {
      for (const event of events) {
        let subject = this.#subjects.get(event.type);
        if (subject === undefined) this.#subjects.set(event.type, (subject = eventSubject(this.prefix, event.type)));
        this.nc.publish(subject, JSON.stringify(event));
      }
    } catch (e) {
      if (!this.#warned) log.warn(`could not send events: ${(e as Error).message}`);
      this.#warned = true;
    }
  }
}
