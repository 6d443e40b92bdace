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
 *
 * A result put can also share its ack with the client waiting for it ({@link publishShared}):
 * the ack subject lies under the client's reply inbox (`<inbox>.s.<publisher>.<token>.<key>`),
 * where both the client (its inbox subscription) and this publisher (one wildcard subscription
 * `_INBOX.*.s.<publisher>.>`) receive it. docs/results.md tells why.
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
  /** Its ack comes through the shared subscription. */
  shared?: boolean;
}

const HEADER_NAME = /^[!-9;-~]+$/;
/** Header names already found valid (a client sends the same few on every message). */
const validNames = new Set<string>();
const decoder = new TextDecoder();

/**
 * `MsgHdrs` holding `record` (and `Nats-Msg-Id` when `msgId` is given), built directly:
 * names must be printable ASCII without `:`, values are trimmed and must not hold line breaks
 * (as nats.js's `headers().set()` requires).
 */
export function toMsgHdrs(record: Record<string, string>, msgId?: string, skip?: string | ((name: string) => boolean)): MsgHdrs {
  const h = new MsgHdrsImpl();
  for (const k in record) {
    if (typeof skip === "string" ? k === skip : skip?.(k)) continue;
    const v = record[k];
    if (!validNames.has(k)) {
      if (!HEADER_NAME.test(k)) throw new TypeError(`Cannot send header '${k}': a header name is printable ASCII without ':'`);
      if (validNames.size < 256) validNames.add(k);
    }
    if (/[\r\n]/.test(v)) throw new TypeError(`Cannot send header '${k}': its value holds a line break`);
    h.headers.set(k, [v.trim()]);
  }
  if (msgId !== undefined) h.headers.set("Nats-Msg-Id", [msgId]);
  return h;
}

/** Publishes to JetStream on one connection, acks demultiplexed from one subscription. */
export class JsPublisher {
  readonly #id = nuid.next();
  readonly #prefix = `_INBOX.${this.#id}.`;
  #sub?: Subscription;
  #sharedSub?: Subscription;
  /** The shared-ack subscription was refused: {@link publishShared} falls back to the plain path. */
  #sharedRefused = false;
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

  /**
   * Whether {@link publishShared} can be used: a publish whose ack goes to a subject under
   * `inbox` (a client's reply inbox, `_INBOX.<token>`), received both there and here.
   */
  get canShare(): boolean {
    return !this.#sharedRefused;
  }

  /**
   * Publishes `data` to `subject` with its ack sent to `<inbox>.s.<publisher>.<token>.<key>`:
   * the client subscribed to `<inbox>.>` learns that `key` is stored at the same moment as this
   * publisher, which resolves with the ack as {@link publish} does.
   */
  publishShared(subject: string, data: Uint8Array, inbox: string, key: string): Promise<PubAck> {
    return new Promise<PubAck>((resolve, reject) => {
      const token = (this.#next++).toString(36);
      try {
        this.#sharedSub ??= this.nc.subscribe(`_INBOX.*.s.${this.#id}.>`, {
          callback: (err, msg) => {
            if (!err) return this.#onAck(null, msg, msg.subject.split(".", 5)[4]);
            // Not allowed to listen there: fail these for a retry on the plain path.
            this.#sharedRefused = true;
            this.#sharedSub = undefined;
            this.#failAll(new Error(`Cannot receive shared acks (${err.message.replace(/permission/gi, "subscription")}); storing again with its own ack`), true);
          },
        });
        this.#pending.set(token, { resolve, reject, deadline: Date.now() + this.timeoutMs, subject, shared: true });
        this.nc.publish(subject, data, { reply: `${inbox}.s.${this.#id}.${token}.${key}` });
      } catch (e) {
        this.#pending.delete(token);
        reject(e);
        return;
      }
      this.#sweeper ??= setInterval(() => this.#sweep(), 250);
    });
  }

  #onAck(err: Error | null, msg: Msg, token = msg.subject.slice(this.#prefix.length)): void {
    if (err) {
      // The subscription is gone (a permission violation): fail what waits, subscribe anew next time.
      this.#sub = undefined;
      this.#failAll(err);
      return;
    }
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

  /** Fails every pending publish (only those with shared acks, when `shared`). */
  #failAll(e: Error, shared = false): void {
    const failed: Pending[] = [];
    for (const [token, p] of this.#pending) {
      if (shared && !p.shared) continue;
      this.#pending.delete(token);
      failed.push(p);
    }
    if (this.#pending.size === 0) this.#stopSweeper();
    for (const p of failed) p.reject(e);
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
