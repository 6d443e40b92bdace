/**
 * The reply inbox: how a client learns the results of the tasks it sent without watching the
 * KV bucket per task. Each App (on one connection) subscribes once to `<inbox>.>`, where
 * `<inbox>` is `_INBOX.<nuid>`, and sends `<inbox>` with every task (`taskd-reply-to`). A
 * worker storing a ready state (SUCCESS, FAILURE, REVOKED) publishes the KV put with its ack
 * addressed under the inbox (`<inbox>.s.<worker>.<token>.<id>`), so the server's "stored" ack
 * reaches the client and the worker at once, and in the same write core-publishes the stored
 * bytes to `<inbox>.d`. The client settles an id once it has both its data and its stored
 * ack: the KV entry stays the source of truth, and the result arrives as soon as it is stored,
 * without a hop through the worker. (`<inbox>.r` carries data already stored: a worker that
 * cannot share its acks sends that after its own ack.)
 *
 * The inbox keeps the results of ids it sent (bounded, oldest first out) and hands them to
 * `get()`. An id this inbox did not send (or no longer remembers), a reply lost in a
 * reconnect, or no reply within a grace period (a worker that died between its put and its
 * reply) sends the waiter back to the KV watch. docs/results.md tells the whole story.
 * @module
 */
import type { Msg, NatsConnection, Subscription } from "@nats-io/nats-core";
import { nuid } from "@nats-io/nats-core";
import { decodeMeta, type ResultMeta } from "../protocol/result.ts";
import { READY_STATES } from "../protocol/states.ts";

/** How many results that came before their `get()` an inbox keeps; older ones are read from the KV. */
export const REPLY_CACHE_SIZE = 10_000;
/** How many sent ids an inbox remembers (a few bytes each); `get()` on an older one reads the KV. */
export const REPLY_PENDING_SIZE = 100_000;
/** How long a waiter waits for a reply before it also watches the KV entry (ms). */
export const REPLY_GRACE_MS = 5_000;

/** Core-publishes `bytes` (a ready result) to `subject`. Never throws: the reply is an optimisation. */
export function sendReply(nc: NatsConnection, subject: string, bytes: Uint8Array): void {
  if (nc.isClosed()) return;
  try {
    nc.publish(subject, bytes);
  } catch {
    // The client falls back to the KV entry, which is stored.
  }
}

const decoder = new TextDecoder();

/** One `get()` waiting on the inbox. */
export interface ReplyWaiter {
  /** Called with the reply's result. */
  settle(meta: ResultMeta): void;
  /** Called when no reply can be counted on any more: watch the KV entry too. */
  fallback(): void;
  /** When its grace period starts (ms since the epoch): when it started waiting, or the task's eta if later. */
  since: number;
}

/** What the inbox knows of one id it sent. */
interface Entry {
  id: string;
  /** The stored result, once both its data and its stored ack came (or an `.r` reply). */
  meta: ResultMeta | null;
  /** Data that came before its stored ack. */
  data?: ResultMeta;
  /** A stored ack came before the data. */
  stored?: boolean;
  /** `get()` calls waiting. */
  waiters?: ReplyWaiter[];
  /** Out of the remembered window (kept only while someone waits). */
  evicted?: boolean;
  /** Replies may have been lost (a reconnect): new `get()` calls read the KV. */
  lost?: boolean;
  /** The task's eta (ms since the epoch): no reply is due before it. */
  eta?: number;
}

/** The reply inbox of one App on one connection. */
export class ReplyInbox {
  /** The subject sent as `taskd-reply-to`. */
  readonly subject: string;
  readonly #sub: Subscription;
  /**
   * Ids sent asking for a reply here (the last `pendingLimit` of them, and any still waited on):
   * `null` while nothing is known of one but that it was sent.
   */
  readonly #entries = new Map<string, Entry | null>();
  /** The remembered window: a ring of the last `pendingLimit` ids sent. */
  readonly #ring: (string | undefined)[];
  #next = 0;
  /** Ids whose results are kept: a ring of the last `limit`. */
  readonly #results: (string | undefined)[];
  #nextResult = 0;
  readonly #waiting = new Set<Entry>();
  #sweeper?: ReturnType<typeof setInterval>;
  #dead = false;
  readonly #prefixLength: number;

  /**
   * @param nc the connection (the App's)
   * @param limit how many results that came before their `get()` are kept
   * @param graceMs how long a waiter counts on the reply alone
   * @param pendingLimit how many sent ids are remembered
   */
  constructor(readonly nc: NatsConnection, readonly limit = REPLY_CACHE_SIZE, readonly graceMs = REPLY_GRACE_MS, readonly pendingLimit = REPLY_PENDING_SIZE) {
    this.subject = `_INBOX.${nuid.next()}`;
    this.#prefixLength = this.subject.length + 1;
    this.#ring = new Array(pendingLimit);
    this.#results = new Array(limit);
    this.#sub = nc.subscribe(`${this.subject}.>`, { callback: (err, msg) => (err ? this.#fail() : this.#onReply(msg)) });
    this.#watch();
  }

  /** Whether replies can be counted on (the subscription is live). */
  get live(): boolean {
    return !this.#dead && !this.nc.isClosed();
  }

  /**
   * Notes that `id` is being sent with this inbox as its reply subject (due at `eta`, ms since
   * the epoch, when it is delayed); returns the subject.
   */
  expect(id: string, eta?: number): string {
    const old = this.#entries.get(id);
    if (old === null || (old && !old.evicted)) {
      if (old) {
        old.lost = false;
        old.eta = eta;
      } else if (eta !== undefined) this.#entries.set(id, { id, meta: null, eta });
      return this.subject;
    }
    this.#entries.set(id, eta === undefined && !old?.waiters ? null : { id, meta: null, waiters: old?.waiters, eta });
    const slot = this.#next;
    this.#next = (slot + 1) % this.pendingLimit;
    const out = this.#ring[slot];
    this.#ring[slot] = id;
    if (out !== undefined && out !== id) {
      const e = this.#entries.get(out);
      if (e?.waiters?.length) e.evicted = true;
      else if (e !== undefined) this.#entries.delete(out);
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
    const e = this.#entries.get(id);
    if (e === null) return null;
    return !e || e.lost || (e.evicted && e.meta === null) ? undefined : e.meta;
  }

  /** Forgets the result of `id` (it was deleted). */
  drop(id: string): void {
    const e = this.#entries.get(id);
    if (e) e.lost = true;
    else if (e === null) this.#entries.set(id, { id, meta: null, lost: true });
  }

  /** Waits for `id`'s reply; the waiter falls back to the KV after the grace period or a reconnect. */
  wait(id: string, w: ReplyWaiter): void {
    let e = this.#entries.get(id);
    if (!e) this.#entries.set(id, (e = { id, meta: null, evicted: e === undefined }));
    // A delayed task's grace period starts at its eta.
    if (e.eta !== undefined && e.eta > w.since) w.since = e.eta;
    (e.waiters ??= []).push(w);
    this.#waiting.add(e);
    this.#sweeper ??= setInterval(() => this.#sweep(), Math.max(50, this.graceMs / 4));
  }

  /** Stops waiting (the waiter settled another way or timed out). */
  unwait(id: string, w: ReplyWaiter): void {
    const e = this.#entries.get(id);
    const list = e?.waiters;
    if (!e || !list) return;
    const i = list.indexOf(w);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.#idle(e);
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
    const kind = msg.subject.slice(this.#prefixLength);
    if (kind === "d" || kind === "r") {
      const meta = decodeReply(msg.data);
      const e = meta && this.#entry(meta.taskId);
      if (!e || e.meta) return;
      if (kind === "r" || e.stored) this.#settle(e, meta!);
      else e.data = meta!;
    } else if (kind.startsWith("s.")) {
      // s.<publisher>.<token>.<id>: the id may hold dots.
      const at = kind.indexOf(".", kind.indexOf(".", 2) + 1);
      const e = at < 0 ? undefined : this.#entry(kind.slice(at + 1));
      if (!e || e.meta || !isStoredAck(msg.data)) return;
      if (e.data) this.#settle(e, e.data);
      else e.stored = true;
    }
  }

  /** The entry of an id sent from here (made when the first thing about it comes). */
  #entry(id: string): Entry | undefined {
    const e = this.#entries.get(id);
    if (e !== null) return e;
    const made: Entry = { id, meta: null };
    this.#entries.set(id, made);
    return made;
  }

  /** `meta` is stored and here: keep it for `get()` (among the last `limit`) and wake the waiters. */
  #settle(e: Entry, meta: ResultMeta): void {
    e.meta = meta;
    e.data = undefined;
    const slot = this.#nextResult;
    this.#nextResult = (slot + 1) % this.limit;
    const out = this.#results[slot];
    this.#results[slot] = e.id;
    if (out !== undefined && out !== e.id) {
      const old = this.#entries.get(out);
      if (old?.meta && !old.waiters?.length) this.#entries.delete(out);
    }
    const list = e.waiters;
    if (list) {
      e.waiters = undefined;
      this.#idle(e);
      for (const w of list) w.settle(meta);
    }
  }

  /** Nobody waits on `e` any more. */
  #idle(e: Entry): void {
    e.waiters = undefined;
    this.#waiting.delete(e);
    if (e.evicted && this.#entries.get(e.id) === e) this.#entries.delete(e.id);
    if (this.#waiting.size === 0) this.#stopSweeper();
  }

  /** Waiters past the grace period also watch the KV (a worker may have died after its put). */
  #sweep(): void {
    const cutoff = Date.now() - this.graceMs;
    for (const e of this.#waiting) {
      for (const w of e.waiters ?? []) {
        if (w.since <= cutoff) {
          w.since = Infinity;
          w.fallback();
        }
      }
    }
  }

  /** Replies sent while the connection was away are lost: wait on the KV from now on. */
  #lost(): void {
    for (const [id, e] of this.#entries) {
      if (e === null) {
        this.#entries.delete(id);
        continue;
      }
      if (e.meta !== null) continue;
      e.lost = true;
      e.data = undefined;
      e.stored = undefined;
    }
    for (const e of [...this.#waiting]) {
      for (const w of e.waiters ?? []) {
        w.since = Infinity;
        w.fallback();
      }
    }
  }

  #fail(): void {
    this.#dead = true;
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

function decodeReply(bytes: Uint8Array): ResultMeta | undefined {
  try {
    const meta = decodeMeta(bytes);
    if (typeof meta.taskId === "string" && READY_STATES.has(meta.status)) return meta;
  } catch {
    // not a result: ignore it
  }
  return undefined;
}

/** Whether a JetStream ack says the message was stored (`{"stream":…,"seq":…}`, not `{"error":…}`). */
function isStoredAck(bytes: Uint8Array): boolean {
  try {
    const ack = JSON.parse(decoder.decode(bytes));
    return typeof ack?.stream === "string" && !ack.error;
  } catch {
    return false;
  }
}
