/**
 * The delay scheduler: moves delayed tasks (countdown, eta, retry delays) from the delayed
 * stream to their queue when they are due. Every worker runs one on the same durable
 * consumer, so the work is shared and each message is handled by one worker at a time. A
 * message not yet due is nak'ed with the time remaining: it waits on the server, in no worker's
 * memory and in no queue consumer's ack window, and survives restarts. Republishing keeps
 * `Nats-Msg-Id`, so a scheduler that dies between publish and ack yields no duplicate. A sweep
 * sends round again what the server stopped delivering (src/worker/delayed_sweep.ts).
 * docs/delays.md has the design and its measurements.
 * @module
 */
import type { ConsumerMessages, JsMsg } from "@nats-io/jetstream";
import { headers as natsHeaders, type MsgHdrs } from "@nats-io/nats-core";
import { jsPublisher, toMsgHdrs } from "../nats/jspublish.ts";
import { hasRepeatedHeaders, headersOf } from "./headers.ts";
import type { Broker } from "../nats/broker.ts";
import { H } from "../protocol/message.ts";
import { ProtocolError } from "../errors/errors.ts";
import { FLOW_H, priorityOf } from "../protocol/flow.ts";
import { getLogger } from "../log/logger.ts";
import { type DeadLetterContext, failDeadLetter } from "./dead_letter.ts";
import { SWEEP_MS, sweepDelayed } from "./delayed_sweep.ts";

const log = getLogger("taskd.scheduler");
/** Republishes in flight at once. */
const MAX_IN_FLIGHT = 1024;

/** Moves due delayed messages to their queues. */
export class Scheduler {
  #running = false;
  #messages?: ConsumerMessages;
  #inFlight = 0;
  #waiters: (() => void)[] = [];
  #sweeper?: ReturnType<typeof setInterval>;
  /** How many messages it released to their queues. */
  released = 0;

  /** `ctx`: where a dead-lettered message's FAILURE is stored (none without it). */
  constructor(readonly broker: Broker, readonly ctx?: DeadLetterContext) {}

  /** Starts the loop and the sweep for stranded messages (returns at once). */
  start(): void {
    this.#running = true;
    this.#loop();
    this.#sweeper = setInterval(() => {
      sweepDelayed(this.broker, this.ctx).catch((e) => log.warn(`could not sweep the delayed stream: ${(e as Error).message}`));
    }, SWEEP_MS);
  }

  async #loop(): Promise<void> {
    while (this.#running) {
      try {
        const consumer = await this.broker.delayedConsumer();
        this.#messages = await consumer.consume({ max_messages: 1000 });
        for await (const m of this.#messages) {
          if (!this.#running) break;
          await this.#handle(m);
        }
      } catch (e) {
        if (this.#running) log.warn(`delayed-task consumer stopped: ${(e as Error).message}; re-creating it`);
      }
      if (this.#running) await new Promise((r) => setTimeout(r, 1000));
    }
  }

  async #handle(m: JsMsg): Promise<void> {
    const h = headersOf(m);
    const eta = Date.parse(h[H.eta] ?? "");
    const queue = h[H.queue] || m.subject.split(".").pop() || "default";
    const remaining = Number.isNaN(eta) ? 0 : eta - Date.now();
    // Never early: Celery's promise for eta is "no earlier than", and so is ours.
    if (remaining > 0) {
      m.nak(remaining);
      return;
    }
    while (this.#inFlight >= MAX_IN_FLIGHT) await new Promise<void>((r) => this.#waiters.push(r));
    this.#inFlight++;
    this.#release(m, queue).finally(() => {
      this.#inFlight--;
      this.#waiters.shift()?.();
    });
  }

  async #release(m: JsMsg, queue: string): Promise<void> {
    let subject: string;
    try {
      // Released at its priority's subject (docs/flow.md).
      subject = this.broker.prioritySubject(queue, priorityOf(headersOf(m)[FLOW_H.priority]));
    } catch (e) {
      // No retry can fix a bad queue name: dead-letter it rather than nak it forever.
      const error = new ProtocolError(`Cannot release delayed task ${headersOf(m)[H.task] ?? "?"}[${headersOf(m)[H.id] ?? "?"}]: ${(e as Error).message}`);
      if (this.ctx) await failDeadLetter(this.ctx, m, error);
      return this.#deadLetter(m, queue, error.message);
    }
    try {
      let h: MsgHdrs;
      if (hasRepeatedHeaders(m)) {
        // Every value of a repeated header goes along (nats.js's reading keeps them all).
        h = natsHeaders();
        for (const [k, values] of m.headers ?? []) if (!k.startsWith("Nats-")) for (const v of values) h.append(k, v);
        const msgId = headersOf(m)[H.msgId];
        if (msgId) h.set(H.msgId, msgId);
      } else {
        const record = headersOf(m);
        h = toMsgHdrs(record, record[H.msgId] || undefined, (k) => k.startsWith("Nats-"));
      }
      await this.broker.ensureStreams();
      await jsPublisher(this.broker.nc).publish(subject, m.data, h);
      m.ack();
      this.released++;
    } catch (e) {
      log.warn(`could not move a delayed task to queue ${queue}: ${(e as Error).message}; retrying in 1 s`);
      m.nak(1000);
    }
  }

  async #deadLetter(m: JsMsg, queue: string, reason: string): Promise<void> {
    log.warn(`dead-lettered delayed message ${m.seq}: ${reason}`);
    try {
      await this.broker.deadLetter(m, queue, reason);
    } catch (e) {
      log.error(`could not dead-letter delayed message ${m.seq}: ${(e as Error).message}; retrying in 5 s`);
      m.nak(5000);
    }
  }

  /** Stops consuming. */
  stop(): void {
    this.#running = false;
    clearInterval(this.#sweeper);
    this.#messages?.stop();
  }
}
