/**
 * The result backend: one JetStream KV bucket, `<prefix>_results`, keyed by task id, whose
 * entries expire after `resultExpires`. Waiting on a result subscribes to the key's subject
 * (`$KV.<bucket>.<id>`, a plain core subscription that costs the server almost nothing) and
 * reads the key, then once more 250 ms later, so a result that landed before the subscription
 * is not missed (docs/PROTOCOL.md "Waiting for a result"). Results of
 * tasks this App sent usually arrive sooner and cheaper through its reply inbox
 * (src/nats/reply_inbox.ts); the KV watch is the fallback and the source of truth.
 * @module
 */
import type { NatsConnection } from "@nats-io/nats-core";
import type { KV } from "@nats-io/kv";
import { msgpack } from "../protocol/codec.ts";
import { READY_STATES, states } from "../protocol/states.ts";
import { PayloadTooLargeError, type SerializedError, serializeError, TimeoutError } from "../errors/errors.ts";
import { ReplyInbox, sendReply } from "./reply_inbox.ts";
import { checkTaskId, decodeMeta, isReplySubject, type ResultMeta } from "../protocol/result.ts";
import { jsPublisher } from "./jspublish.ts";
import { openBucket } from "./kv.ts";
import { retryTransient } from "./retry.ts";

/** A KV-backed result store. */
export class ResultBackend {
  #kv?: Promise<KV>;
  #nc?: NatsConnection;
  readonly #waiters = new Set<() => void>();
  #inbox?: ReplyInbox;

  /**
   * Built by the App (`app.backend`); the bucket is created or opened on first use.
   * @param connect the connection, opened on first use
   * @param bucket the KV bucket's name
   * @param expiresSeconds how long results are kept (the bucket's TTL)
   * @param replicas JetStream replicas of the bucket
   * @param bounds bytes and results the bucket may hold (`resultMaxBytes`, `resultMaxCount`)
   */
  constructor(
    /** @ignore Opens (or returns) the app's NATS connection: wiring, typed by nats.js. */
    readonly connect: () => Promise<NatsConnection>,
    /** The KV bucket's name (`<PREFIX>_RESULTS`). */
    readonly bucket: string,
    /** Seconds a result is kept: the bucket's TTL (`resultExpires`). */
    readonly expiresSeconds: number,
    /** JetStream replicas of the bucket. */
    readonly replicas = 1,
    /** Bounds of the bucket: bytes and results it may hold, the oldest going first (-1: none). */
    readonly bounds: { maxBytes?: number; maxCount?: number } = {},
  ) {}

  /**
   * The bucket, created on first use.
   * @ignore raw nats.js KV handle: wiring for the worker and the CLI, not part of the API.
   */
  kv(): Promise<KV> {
    // After app.close() the app opens a new connection: open the bucket on that one.
    if (this.#nc?.isClosed()) this.#kv = undefined;
    this.#kv ??= this.#open().then((kv) => {
      this.#kvReady = true;
      return kv;
    }, (e) => {
      this.#kv = undefined;
      throw e;
    });
    return this.#kv;
  }

  #kvReady = false;

  async #open(): Promise<KV> {
    this.#kvReady = false;
    this.#nc = await this.connect();
    return openBucket(this.#nc, this.bucket, {
      ttlSeconds: this.expiresSeconds,
      replicas: this.replicas,
      maxBytes: this.bounds.maxBytes,
      maxCount: this.bounds.maxCount,
      settingNames: { ttlSeconds: "resultExpires", maxBytes: "resultMaxBytes", maxCount: "resultMaxCount" },
    });
  }

  /**
   * The reply inbox of this App on `nc` (created on first use; a new one on a new connection),
   * or `undefined` when replies cannot be received (the subscription was refused).
   * @ignore internal: the client's reply path (docs/results.md)
   */
  inbox(nc: NatsConnection): ReplyInbox | undefined {
    if (this.#inbox?.nc !== nc) {
      this.#inbox?.close();
      this.#inbox = nc.isClosed() ? undefined : new ReplyInbox(nc);
    }
    return this.#inbox?.live ? this.#inbox : undefined;
  }

  /**
   * Stores `meta` under its task id; throws {@link PayloadTooLargeError} when it cannot fit a
   * message. With `replyTo` (the task's `taskd-reply-to`), a ready state is also published
   * there once stored.
   */
  async store(meta: ResultMeta, replyTo: string | undefined = this.#routes.get(meta.taskId)): Promise<void> {
    // The bucket is opened once per connection; only the first store waits for it.
    if (this.#nc === undefined || this.#nc.isClosed() || !this.#kvReady) await this.kv();
    const bytes = msgpack.encode(meta);
    // The KV put carries a subject and headers besides the entry: keep a margin for them.
    const max = this.#nc?.info?.max_payload ?? 1024 * 1024;
    if (bytes.length + 512 > max) {
      throw new PayloadTooLargeError(
        `Cannot store the result of ${meta.taskName ?? "task"}[${meta.taskId}]: it is ${bytes.length} bytes and the server's max_payload is ${max}; return large data by reference (a URL or object key)`,
        { taskId: meta.taskId, taskName: meta.taskName },
      );
    }
    // kv.put(key, bytes) through the connection's publisher (cheaper acks; same message).
    const nc = this.#nc!;
    const publisher = jsPublisher(nc);
    const subject = `$KV.${this.bucket}.${checkTaskId(meta.taskId)}`;
    if (!replyTo || !READY_STATES.has(meta.status) || !isReplySubject(replyTo)) {
      await publisher.publish(subject, bytes);
      return;
    }
    if (publisher.canShare) {
      // The stored ack goes to the client too; the data rides in the same write (docs/results.md).
      const stored = publisher.publishShared(subject, bytes, replyTo, meta.taskId);
      sendReply(nc, `${replyTo}.d`, bytes);
      await stored;
    } else {
      await publisher.publish(subject, bytes);
      sendReply(nc, `${replyTo}.r`, bytes);
    }
    this.#routes.delete(meta.taskId);
  }

  /**
   * Stores `meta` (a state on the way: RETRY, STARTED) unless the entry already holds a later
   * attempt's state (more retries) or this attempt's ready state. A retry's next attempt can run
   * and succeed before the RETRY of the attempt before it is stored (a write that waited out a
   * broker outage; a retry without countdown): that RETRY must not hide the SUCCESS. Returns
   * whether it stored.
   */
  async storeUnlessNewer(meta: ResultMeta): Promise<boolean> {
    const kv = await this.kv();
    const entry = await kv.get(checkTaskId(meta.taskId));
    if (entry && entry.operation === "PUT" && entry.length > 0) {
      // Status and retries stay outside a sealed result: no need to open it.
      const current = msgpack.decode(entry.value) as Partial<ResultMeta>;
      const mine = meta.retries ?? 0;
      const theirs = current.retries ?? 0;
      if (theirs > mine || (theirs === mine && current.status !== undefined && READY_STATES.has(current.status))) return false;
    }
    await this.store(meta, undefined);
    return true;
  }

  readonly #routes = new Map<string, string>();

  /**
   * Remembers that the ready result of `taskId`, stored later by id alone (a Batches task's
   * `markAsDone`), also goes to `replyTo`. The most recent 10,000 are kept.
   */
  routeReply(taskId: string, replyTo: string | undefined): void {
    if (!replyTo) return;
    this.#routes.set(taskId, replyTo);
    if (this.#routes.size > 10_000) this.#routes.delete(this.#routes.keys().next().value!);
  }

  /**
   * Marks `taskId` SUCCESS with `value` (used by Batches and custom flows). Rides out a broker
   * outage (a restart, an election) for up to 30 s (`PUBLISH_RETRY_MS`): a result put is idempotent.
   */
  markAsDone(taskId: string, value: unknown, extra: Partial<ResultMeta> = {}): Promise<void> {
    const meta: ResultMeta = { ...extra, taskId, status: states.SUCCESS, result: value, dateDone: new Date().toISOString() };
    return retryTransient(() => this.store(meta));
  }

  /** Marks `taskId` FAILURE with `error`; rides out a broker outage as {@link markAsDone} does. */
  markAsFailure(taskId: string, error: unknown, extra: Partial<ResultMeta> = {}): Promise<void> {
    const e: SerializedError = serializeError(error);
    const meta: ResultMeta = { ...extra, taskId, status: states.FAILURE, result: e, traceback: e.stack, dateDone: new Date().toISOString() };
    return retryTransient(() => this.store(meta));
  }

  /** Reads what is stored for `taskId`; `null` when nothing is (PENDING). */
  async get(taskId: string): Promise<ResultMeta | null> {
    const kv = await this.kv();
    const entry = await kv.get(taskId);
    if (!entry || entry.operation !== "PUT" || entry.length === 0) return null;
    return decodeMeta(entry.value);
  }

  /** Deletes what is stored for `taskId`. */
  async forget(taskId: string): Promise<void> {
    const kv = await this.kv();
    this.#inbox?.drop(taskId);
    await kv.purge(taskId);
  }

  /**
   * Resolves with the first stored meta that `accept` takes (by default: a ready state), or
   * rejects with {@link TimeoutError} after `timeoutMs`. A ready state of a task this App sent
   * comes from its reply inbox when it can; otherwise (and as a fallback) from the KV entry.
   */
  async wait(taskId: string, timeoutMs?: number, accept: (m: ResultMeta) => boolean = isReady): Promise<ResultMeta> {
    const kv = await this.kv();
    const nc = this.#nc!;
    const inbox = accept === isReady && this.#inbox?.nc === nc ? this.#inbox : undefined;
    const known = inbox?.lookup(taskId);
    if (known) return known;
    this.#watchReconnects(nc);
    return new Promise<ResultMeta>((resolve, reject) => {
      let done = false;
      let timer: ReturnType<typeof setTimeout> | undefined;
      let stopKv: (() => void) | undefined;
      const finish = (err: unknown, meta?: ResultMeta) => {
        if (done) return;
        done = true;
        if (timer !== undefined) clearTimeout(timer);
        stopKv?.();
        if (waiter) inbox!.unwait(taskId, waiter);
        if (err) reject(err);
        else resolve(meta!);
      };
      const watchKv = () => {
        if (!done && !stopKv) stopKv = this.#watchKv(kv, nc, taskId, accept, finish);
      };
      const waiter = known === null ? { settle: (m: ResultMeta) => finish(undefined, m), fallback: watchKv, since: Date.now() } : undefined;
      if (timeoutMs !== undefined && Number.isFinite(timeoutMs)) {
        timer = setTimeout(
          () => finish(new TimeoutError(`Cannot get the result of ${taskId}: not ready after ${timeoutMs / 1000} s`, { taskId })),
          timeoutMs,
        );
      }
      if (waiter) inbox!.wait(taskId, waiter);
      else watchKv();
    });
  }

  /**
   * Watches `taskId`'s KV entry: a core subscription on its subject plus reads (now, shortly
   * after, and after each reconnect). Calls `finish` with the first accepted meta or an
   * error; returns the function that stops watching.
   */
  #watchKv(kv: KV, nc: NatsConnection, taskId: string, accept: (m: ResultMeta) => boolean, finish: (err: unknown, meta?: ResultMeta) => void): () => void {
    let stopped = false;
    const sub = nc.subscribe(`$KV.${this.bucket}.${taskId}`, {
      callback: (err, msg) => {
        if (err) return finish(err);
        if (msg.data.length === 0 || msg.headers?.get("KV-Operation")) return;
        try {
          const meta = decodeMeta(msg.data);
          if (accept(meta)) finish(undefined, meta);
        } catch (e) {
          finish(e);
        }
      },
    });
    const check = () => {
      if (stopped) return;
      kv.get(taskId).then((entry) => {
        if (!entry || entry.operation !== "PUT" || entry.length === 0) return;
        const meta = decodeMeta(entry.value);
        if (accept(meta)) finish(undefined, meta);
      }).catch((e) => {
        // While the connection is away a read fails; the reconnect re-check covers it.
        if (!nc.isClosed() && !/disconnect|timeout|no responders/i.test(String((e as Error)?.message))) finish(e);
      });
    };
    this.#waiters.add(check);
    check();
    // A result published just before our subscription took effect reaches the stream a moment
    // after it was routed (JetStream stores asynchronously), so the first read can miss it
    // while the subscription never sees it: read again shortly after.
    const timers = RECHECK_MS.map((ms) => setTimeout(check, ms));
    return () => {
      stopped = true;
      for (const t of timers) clearTimeout(t);
      this.#waiters.delete(check);
      sub.unsubscribe();
    };
  }

  #watching?: NatsConnection;

  /** Re-reads every pending result after a reconnect: notifications sent meanwhile were lost. */
  #watchReconnects(nc: NatsConnection): void {
    if (this.#watching === nc) return;
    this.#watching = nc;
    (async () => {
      for await (const s of nc.status()) {
        if (s.type === "reconnect") for (const check of this.#waiters) check();
      }
    })().catch(() => {});
  }
}

function isReady(m: ResultMeta): boolean {
  return READY_STATES.has(m.status);
}

/** When `wait()` reads the key again after subscribing (ms). */
const RECHECK_MS = [250];
