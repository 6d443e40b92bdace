/**
 * The reply inbox: how a client learns the results of the tasks it sent without watching the
 * KV bucket per task. Each App (on one connection) subscribes once to `_INBOX.<nuid>.results`
 * and sends that subject with every task (`taskd-reply-to`); a worker that stores a ready state
 * (SUCCESS, FAILURE, REVOKED) core-publishes the same stored bytes there right after the KV put
 * succeeded. The inbox keeps the results of ids it sent (bounded, oldest first out) and hands
 * them to `get()`. The KV entry stays the source of truth: an id this inbox did not send (or
 * no longer remembers), a reply lost in a reconnect, or no reply within a grace period (a
 * worker that died between the put and the reply) sends the waiter back to the KV watch.
 * docs/results.md tells the whole story.
 * @module
 */
import type { Msg, NatsConnection, Subscription } from "@nats-io/nats-core";
import { nuid } from "@nats-io/nats-core";
import { msgpack } from "../protocol/codec.ts";
import type { ResultMeta } from "../nats/backend.ts";
import { READY_STATES } from "./states.ts";

/** How many sent ids (and their results) an inbox remembers; older ones fall back to the KV. */
export const REPLY_CACHE_SIZE = 10_000;
/** How long a waiter waits for a reply before it also watches the KV entry (ms). */
export const REPLY_GRACE_MS = 5_000;

// A reply subject a worker accepts: a literal subject under `_INBOX.` (never a wildcard, never
// an API subject a sender could aim a worker's permissions at).
const REPLY_SUBJECT = /^_INBOX(\.[A-Za-z0-9_-]+)+$/;

/** Whether a worker may publish a result to `subject` (a literal `_INBOX.…` subject). */
export function isReplySubject(subject: string | undefined): subject is string {
  return typeof subject === "string" && subject.length <= 255 && REPLY_SUBJECT.test(subject);
}

/** Publishes `bytes` (a stored ready result) to `replyTo` when it is a valid reply subject. Never throws. */
export function sendReply(nc: NatsConnection | undefined, replyTo: string | undefined, meta: ResultMeta, bytes: Uint8Array): void {
  if (!nc || !isReplySubject(replyTo) || !READY_STATES.has(meta.status) || nc.isClosed()) return;
  try {
    nc.publish(replyTo, bytes);
  } catch {
    // The reply is an optimisation: the client falls back to the KV entry, which is stored.
  }
}

/** One `get()` waiting on the inbox. */
export interface ReplyWaiter {
  /** Called with the reply's result. */
  settle(meta: ResultMeta): void;
  /** Called when no reply can be counted on any more: watch the KV entry too. */
  fallback(): void;
  /** When it started waiting (ms, `performance.now()`). */
  since: number;
}

/** The reply inbox of one App on one connection. */
export class ReplyInbox {
  /** The subject sent as `taskd-reply-to`. */
  readonly subject: string;
  readonly #sub: Subscription;
  /** Ids sent asking for a reply here, oldest first: `null` until the reply came, then its result. */
  readonly #known = new Map<string, ResultMeta | null>();
  readonly #waiters = new Map<string, ReplyWaiter[]>();
  #sweeper?: ReturnType<typeof setInterval>;
  #dead = false;

  /**
   * @param nc the connection (the App's)
   * @param limit how many ids and results are remembered
   * @param graceMs how long a waiter counts on the reply alone
   */
  constructor(readonly nc: NatsConnection, readonly limit = REPLY_CACHE_SIZE, readonly graceMs = REPLY_GRACE_MS) {
    this.subject = `_INBOX.${nuid.next()}.results`;
    this.#sub = nc.subscribe(this.subject, { callback: (err, msg) => (err ? this.#fail() : this.#onReply(msg)) });
    this.#watch();
  }

  /** Whether replies can be counted on (the subscription is live). */
  get live(): boolean {
    return !this.#dead && !this.nc.isClosed();
  }

  /** Notes that `id` is being sent with this inbox as its reply subject; returns the subject. */
  expect(id: string): string {
    if (!this.#known.has(id)) {
      this.#known.set(id, null);
      if (this.#known.size > this.limit) this.#known.delete(this.#known.keys().next().value!);
    }
    return this.subject;
  }

  /**
   * What the inbox knows of `id`: its result (a reply came), `null` (sent from here, no reply
   * yet: wait on the inbox), or `undefined` (not sent from here, forgotten, or replies may have
   * been lost: read the KV).
   */
  lookup(id: string): ResultMeta | null | undefined {
    if (!this.live) return undefined;
    return this.#known.get(id);
  }

  /** Forgets `id` (its result was deleted). */
  drop(id: string): void {
    this.#known.delete(id);
  }

  /** Waits for `id`'s reply; the waiter falls back to the KV after the grace period or a reconnect. */
  wait(id: string, w: ReplyWaiter): void {
    const list = this.#waiters.get(id);
    if (list) list.push(w);
    else this.#waiters.set(id, [w]);
    this.#sweeper ??= setInterval(() => this.#sweep(), Math.max(50, this.graceMs / 4));
  }

  /** Stops waiting (the waiter settled another way or timed out). */
  unwait(id: string, w: ReplyWaiter): void {
    const list = this.#waiters.get(id);
    if (!list) return;
    const i = list.indexOf(w);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.#waiters.delete(id);
    if (this.#waiters.size === 0) this.#stopSweeper();
  }

  /** Unsubscribes; every waiter falls back to the KV. */
  close(): void {
    this.#fail();
    try {
      this.#sub.unsubscribe();
    } catch {
      // closed with its connection
    }
  }

  #onReply(msg: Msg): void {
    let meta: ResultMeta;
    try {
      meta = msgpack.decode(msg.data) as ResultMeta;
    } catch {
      return;
    }
    if (!meta || typeof meta !== "object" || typeof meta.taskId !== "string" || !READY_STATES.has(meta.status)) return;
    const id = meta.taskId;
    if (this.#known.has(id)) this.#known.set(id, meta);
    const list = this.#waiters.get(id);
    if (!list) return;
    this.#waiters.delete(id);
    for (const w of list) w.settle(meta);
    if (this.#waiters.size === 0) this.#stopSweeper();
  }

  /** Waiters past the grace period also watch the KV (a worker may have died after its put). */
  #sweep(): void {
    const cutoff = performance.now() - this.graceMs;
    for (const list of this.#waiters.values()) {
      for (const w of list) {
        if (w.since <= cutoff) {
          w.since = Infinity;
          w.fallback();
        }
      }
    }
  }

  /** Replies sent while the connection was away are lost: wait on the KV from now on. */
  #lost(): void {
    for (const [id, v] of this.#known) if (v === null) this.#known.delete(id);
    for (const list of this.#waiters.values()) {
      for (const w of list) {
        w.since = Infinity;
        w.fallback();
      }
    }
  }

  #fail(): void {
    this.#dead = true;
    this.#known.clear();
    this.#lost();
    this.#stopSweeper();
  }

  #stopSweeper(): void {
    if (this.#sweeper !== undefined) clearInterval(this.#sweeper);
    this.#sweeper = undefined;
  }

  async #watch(): Promise<void> {
    try {
      for await (const s of this.nc.status()) {
        if (this.#dead) return;
        if (s.type === "reconnect") this.#lost();
      }
    } catch {
      // the status iterator ends with the connection
    }
    this.#fail();
  }
}
