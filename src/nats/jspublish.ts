/**
 * JetStream publishes on the hot path (task sends, result puts) with their acks collected on
 * one wildcard subscription per connection. nats.js's `js.publish` makes each publish a
 * request: a timer, a race of promises and, even on success, two `Error` objects (its async
 * stack trace and the cancellation of the finished request); at thousands of publishes a
 * second that was a tenth of a client's time. This sends the same message (subject, headers,
 * body, reply subject) and reads the same ack, and fails the same ways: a `TimeoutError`, a
 * `JetStreamNotEnabled` error when no stream answers (503, no responders), a
 * `JetStreamApiError` when the stream refuses the message, the connection's error when it is
 * closed. Header records become `MsgHdrs` without nats.js's per-header key scans.
 * @module
 */
import { MsgHdrsImpl, type Msg, type MsgHdrs, type NatsConnection, nuid, type Subscription, TimeoutError } from "@nats-io/nats-core";
import { JetStreamApiError, type PubAck } from "@nats-io/jetstream";

/** How long a publish waits for its ack (nats.js's JetStream default). */
export const PUBLISH_ACK_TIMEOUT_MS = 5_000;

interface Pending {
  resolve(ack: PubAck): void;
  reject(e: Error): void;
  deadline: number;
  subject: string;
}

const HEADER_NAME = /^[!-9;-~]+$/;
const decoder = new TextDecoder();

/**
 * `MsgHdrs` holding `record` (and `Nats-Msg-Id` when `msgId` is given), built directly:
 * names must be printable ASCII without `:`, values are trimmed and must not hold line breaks
 * (as nats.js's `headers().set()` requires).
 */
export function toMsgHdrs(record: Record<string, string>, msgId?: string, skip?: string): MsgHdrs {
  const h = new MsgHdrsImpl();
  for (const k in record) {
    if (k === skip) continue;
    const v = record[k];
    if (!HEADER_NAME.test(k)) throw new TypeError(`Cannot send header '${k}': a header name is printable ASCII without ':'`);
    if (/[\r\n]/.test(v)) throw new TypeError(`Cannot send header '${k}': its value holds a line break`);
    h.headers.set(k, [v.trim()]);
  }
  if (msgId !== undefined) h.headers.set("Nats-Msg-Id", [msgId]);
  return h;
}

/** Publishes to JetStream on one connection, acks demultiplexed from one subscription. */
export class JsPublisher {
  readonly #prefix = `_INBOX.${nuid.next()}.`;
  #sub?: Subscription;
  #next = 0;
  readonly #pending = new Map<string, Pending>();
  #sweeper?: ReturnType<typeof setInterval>;

  /**
   * @param nc the connection
   * @param timeoutMs how long an ack is waited for
   */
  constructor(readonly nc: NatsConnection, readonly timeoutMs = PUBLISH_ACK_TIMEOUT_MS) {}

  /** Publishes `data` to `subject` and resolves with the stream's ack. */
  publish(subject: string, data: Uint8Array, headers?: MsgHdrs): Promise<PubAck> {
    return new Promise<PubAck>((resolve, reject) => {
      const token = (this.#next++).toString(36);
      try {
        this.#sub ??= this.nc.subscribe(`${this.#prefix}*`, { callback: (err, msg) => this.#onAck(err, msg) });
        this.#pending.set(token, { resolve, reject, deadline: Date.now() + this.timeoutMs, subject });
        this.nc.publish(subject, data, { reply: this.#prefix + token, headers });
      } catch (e) {
        this.#pending.delete(token);
        reject(e);
        return;
      }
      this.#sweeper ??= setInterval(() => this.#sweep(), 250);
    });
  }

  #onAck(err: Error | null, msg: Msg): void {
    if (err) {
      // The subscription is gone (a permission violation): fail what waits, subscribe anew next time.
      this.#sub = undefined;
      this.#failAll(err);
      return;
    }
    const token = msg.subject.slice(this.#prefix.length);
    const p = this.#pending.get(token);
    if (!p) return;
    this.#pending.delete(token);
    if (this.#pending.size === 0) this.#stopSweeper();
    if (msg.data.length === 0 && msg.headers?.code === 503) {
      p.reject(notEnabled(p.subject));
      return;
    }
    try {
      const r = JSON.parse(decoder.decode(msg.data));
      if (r?.error) p.reject(new JetStreamApiError(r.error));
      else if (typeof r?.stream !== "string" || r.stream === "") p.reject(new Error(`Cannot publish to ${p.subject}: invalid ack response`));
      else p.resolve({ stream: r.stream, seq: r.seq, duplicate: r.duplicate === true, domain: r.domain });
    } catch (e) {
      p.reject(new Error(`Cannot publish to ${p.subject}: unreadable ack (${(e as Error).message})`));
    }
  }

  #sweep(): void {
    if (this.nc.isClosed()) {
      this.#failAll(new Error("Cannot publish: the connection is closed (closed connection)"));
      return;
    }
    const now = Date.now();
    // Insertion order is send order: stop at the first that still has time.
    for (const [token, p] of this.#pending) {
      if (p.deadline > now) break;
      this.#pending.delete(token);
      p.reject(new TimeoutError());
    }
    if (this.#pending.size === 0) this.#stopSweeper();
  }

  #failAll(e: Error): void {
    const all = [...this.#pending.values()];
    this.#pending.clear();
    this.#stopSweeper();
    for (const p of all) p.reject(e);
  }

  #stopSweeper(): void {
    if (this.#sweeper !== undefined) clearInterval(this.#sweeper);
    this.#sweeper = undefined;
  }
}

function notEnabled(subject: string): Error {
  const e = new Error(`Cannot publish to ${subject}: no responders (no stream takes the subject, or JetStream is not up yet)`);
  e.name = "JetStreamNotEnabled";
  return e;
}

const publishers = new WeakMap<NatsConnection, JsPublisher>();

/** The publisher of `nc` (one per connection). */
export function jsPublisher(nc: NatsConnection): JsPublisher {
  let p = publishers.get(nc);
  if (!p) publishers.set(nc, (p = new JsPublisher(nc)));
  return p;
}
