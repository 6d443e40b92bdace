/**
 * Durable queue pauses: one KV entry per paused queue in bucket `<prefix>_paused` (key = queue
 * name, value = `{ at, reason }`), kept until the queue is resumed. Workers watch the bucket:
 * a paused queue's consumers stop fetching, so its messages stay on the server, and a worker
 * started while the queue is paused reads the entry before it consumes anything.
 * @module
 */
import type { KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";
import { openBucket } from "./kv.ts";
import { checkName } from "./names.ts";

/** One paused queue. */
export interface PauseEntry {
  /** When it was paused (ISO 8601). */
  at: string;
  /** Why, as given. */
  reason?: string;
}

/** The paused queues of one app prefix. */
export class PausedQueues {
  #kv?: Promise<KV>;

  constructor(readonly nc: () => Promise<NatsConnection>, readonly bucket: string, readonly replicas = 1) {}

  /** The bucket, opened (created) once. */
  open(): Promise<KV> {
    this.#kv ??= this.nc().then((nc) => openBucket(nc, this.bucket, { ttlSeconds: 0, replicas: this.replicas })).catch((e) => {
      this.#kv = undefined;
      throw e;
    });
    return this.#kv;
  }

  /** Pauses `queue` (idempotent). */
  async pause(queue: string, reason?: string): Promise<void> {
    checkName("queue", queue);
    const kv = await this.open();
    await kv.put(queue, JSON.stringify({ at: new Date().toISOString(), reason } satisfies PauseEntry));
  }

  /** Resumes `queue`; returns whether it was paused. */
  async resume(queue: string): Promise<boolean> {
    checkName("queue", queue);
    const kv = await this.open();
    const e = await kv.get(queue);
    if (!e || e.operation !== "PUT") return false;
    await kv.delete(queue);
    return true;
  }

  /** Every paused queue with its entry. */
  async list(): Promise<Map<string, PauseEntry>> {
    const kv = await this.open();
    const out = new Map<string, PauseEntry>();
    for await (const k of await kv.keys()) {
      const e = await kv.get(k);
      if (e && e.operation === "PUT") out.set(k, e.json<PauseEntry>());
    }
    return out;
  }

  /**
   * Calls `onChange(queue, paused)` for every paused queue now (before it resolves) and for every
   * later pause and resume, until `stop()`.
   */
  async watch(onChange: (queue: string, paused: boolean) => void): Promise<{ stop(): void }> {
    const kv = await this.open();
    // The watch replays the last value of every key, so it also repeats what list() found.
    const w = await kv.watch();
    for (const q of (await this.list()).keys()) onChange(q, true);
    (async () => {
      for await (const e of w) onChange(e.key, e.operation === "PUT");
    })().catch(() => {});
    return { stop: () => w.stop() };
  }
}
