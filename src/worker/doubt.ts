/**
 * Periods of doubt about deliveries. A consumer whose leader changed may deliver again messages
 * whose acks the old leader had not replicated (JetStream replicates consumer acks
 * asynchronously), and as first deliveries, so the worker cannot tell them by their redelivered
 * flag. For a while after a consumer leader election (JetStream's advisory) or a reconnect, the
 * worker checks every message against the result store (src/worker/admit.ts): a task that has
 * already succeeded is acked, not run again.
 * @module
 */
import type { NatsConnection } from "@nats-io/nats-core";
import { ACK_WAIT_MS } from "../nats/broker.ts";

/** How long a period of doubt lasts (ms): ack_wait, after which any lost ack shows, and a margin. */
export const DOUBT_MS = 2 * ACK_WAIT_MS;

/** When deliveries are in doubt. */
export class DeliveryDoubt {
  #until = 0;

  /** Whether deliveries are in doubt now. */
  get doubtful(): boolean {
    return Date.now() < this.#until;
  }

  /** Starts (or extends) a period of doubt. */
  raise(): void {
    this.#until = Date.now() + DOUBT_MS;
  }

  /** Raises doubt on every leader election of a consumer of `stream` (JetStream's advisories). */
  watchLeaders(nc: NatsConnection, stream: string): void {
    try {
      nc.subscribe(`$JS.EVENT.ADVISORY.CONSUMER.LEADER_ELECTED.${stream}.>`, { callback: () => this.raise() });
    } catch {
      // Advisories may be off limits to this user: redeliveries are still checked.
    }
  }
}
