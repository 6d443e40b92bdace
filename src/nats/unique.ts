/**
 * Unique markers: one KV entry per unique key in bucket `<prefix>_unique`, holding the id of the
 * task that owns the key and when the marker lapses. `claim` is a KV `create` (one round trip
 * when the key is free); a lapsed marker is taken over with a compare-and-set `update`. Workers
 * remove a marker when its task starts (`until: "queued"`) or ends (`"finished"`), and only
 * while it still names that task. nats-server 2.9 has no per-key TTL, so the lapse time is in
 * the value; the bucket itself keeps entries until they are removed or replaced.
 * @module
 */
import type { KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";
import { openBucket } from "./kv.ts";
import { isCasConflict } from "./errors.ts";

interface Marker {
  id: string;
  expiresAt: number;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

function read(v: Uint8Array): Marker | undefined {
  try {
    const m = JSON.parse(dec.decode(v));
    return typeof m?.id === "string" ? m : undefined;
  } catch {
    return undefined;
  }
}

/** The unique markers of one app prefix. */
export class UniqueMarkers {
  #kv?: Promise<KV>;

  constructor(readonly nc: () => Promise<NatsConnection>, readonly bucket: string, readonly replicas = 1) {}

  #open(): Promise<KV> {
    this.#kv ??= this.nc().then((nc) => openBucket(nc, this.bucket, { ttlSeconds: 0, replicas: this.replicas, maxBytes: 32 * 1024 ** 2 })).catch((e) => {
      this.#kv = undefined;
      throw e;
    });
    return this.#kv;
  }

  /**
   * Claims `key` for task `id` for `ttl` seconds. Returns `undefined` when claimed, or the id of
   * the task that holds it.
   */
  async claim(key: string, id: string, ttl: number): Promise<string | undefined> {
    const kv = await this.#open();
    const value = () => enc.encode(JSON.stringify({ id, expiresAt: Date.now() + ttl * 1000 } satisfies Marker));
    for (let attempt = 0; attempt < 20; attempt++) {
      try {
        await kv.create(key, value());
        return undefined;
      } catch (e) {
        if (!isCasConflict(e)) throw e;
      }
      const e = await kv.get(key);
      if (!e || e.operation !== "PUT") continue;
      const m = read(e.value);
      if (m && m.expiresAt > Date.now()) return m.id;
      try {
        await kv.update(key, value(), e.revision);
        return undefined;
      } catch (err) {
        if (!isCasConflict(err)) throw err;
      }
    }
    throw new Error(`Cannot claim unique key ${key}: too many concurrent claims`);
  }

  /** Removes `key` when it still names task `id` (a later owner's marker stays). */
  async release(key: string, id: string): Promise<void> {
    const kv = await this.#open();
    const e = await kv.get(key);
    if (!e || e.operation !== "PUT" || read(e.value)?.id !== id) return;
    try {
      await kv.delete(key, { previousSeq: e.revision });
    } catch (err) {
      if (!isCasConflict(err)) throw err;
    }
  }
}
