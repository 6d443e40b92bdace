/**
 * Concurrency leases: a run of a task with `concurrency: N` holds one of N keys
 * `<task>.<key>.<i>` in KV bucket `<prefix>_leases`, taken with `create` (the server refuses a
 * second holder) and renewed with a compare-and-set `update` every third of the bucket's age
 * limit. A worker killed with -9 stops renewing: its lease disappears when the bucket's
 * `max_age` passes (nats-server 2.9 has no per-key TTL, so the bucket's age limit is the lease
 * expiry). A finishing run may hand its lease to the next waiting task instead of deleting it:
 * the value then names that task (`handed`), the giver keeps renewing it until the task adopts
 * it, and nobody else can take it meanwhile.
 * @module
 */
import type { KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";
import { openBucket } from "../nats/kv.ts";
import { isCasConflict } from "../nats/errors.ts";
import { getLogger } from "../log/logger.ts";

const log = getLogger("taskd.worker");

/** Seconds a lease lives without renewal: the longest a killed worker's slot stays taken. */
export const LEASE_TTL_SECONDS = 10;
/**
 * How long a handed-over lease is kept for its task (which may sit behind a backlog, or in a
 * paused queue). After that it lapses; the task, when it comes, takes a free lease or waits again.
 */
export const HANDED_KEEP_MS = 300_000;

/** A held lease. */
export interface Lease {
  /** The KV key. */
  key: string;
  /** Its last revision (renewals move it). */
  revision: number;
  /** The task id it names. */
  id: string;
  /** When it was handed over to `id` (ms since the epoch), while not adopted. */
  handedAt?: number;
}

interface Value {
  id: string;
  state: "running" | "handed";
  by: string;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

function read(v: Uint8Array): Value | undefined {
  try {
    return JSON.parse(dec.decode(v));
  } catch {
    return undefined;
  }
}

/** The leases one worker takes, renews, hands over and gives back. */
export class Leases {
  readonly #held = new Map<string, Lease>();
  #kv?: Promise<KV>;
  #timer?: ReturnType<typeof setInterval>;

  constructor(readonly nc: NatsConnection, readonly bucket: string, readonly hostname: string, readonly ttlSeconds = LEASE_TTL_SECONDS, readonly replicas = 1) {}

  #open(): Promise<KV> {
    this.#kv ??= openBucket(this.nc, this.bucket, { ttlSeconds: this.ttlSeconds, replicas: this.replicas, maxBytes: 16 * 1024 ** 2 }).catch((e) => {
      this.#kv = undefined;
      throw e;
    });
    return this.#kv;
  }

  #value(id: string, state: Value["state"]): Uint8Array {
    return enc.encode(JSON.stringify({ id, state, by: this.hostname } satisfies Value));
  }

  /** Starts renewing held leases. */
  start(): void {
    this.#timer ??= setInterval(() => this.#renewAll(), (this.ttlSeconds * 1000) / 3);
  }

  /** Stops renewing (the leases lapse within the TTL). */
  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** How many leases of `base` (any holder) exist now. */
  async count(base: string): Promise<number> {
    const kv = await this.#open();
    let n = 0;
    for await (const _ of await kv.keys(`${base}.*`)) n++;
    return n;
  }

  /** Takes a free one of `limit` leases `<base>.<i>` for task `id`; undefined when all are taken. */
  async acquire(base: string, limit: number, id: string): Promise<Lease | undefined> {
    const kv = await this.#open();
    const start = Math.floor(Math.random() * limit);
    for (let j = 0; j < limit; j++) {
      const key = `${base}.${(start + j) % limit}`;
      try {
        return this.#hold(key, await kv.create(key, this.#value(id, "running")), id);
      } catch (e) {
        if (!isCasConflict(e)) throw e;
      }
    }
    return undefined;
  }

  /** Records lease `key` at `revision` as held here for task `id` (renewed until released). */
  #hold(key: string, revision: number, id: string): Lease {
    const lease = { key, revision, id };
    this.#held.set(key, lease);
    return lease;
  }

  /** Adopts lease `key` when a finishing run handed it to task `id`; undefined otherwise. */
  async adopt(key: string, id: string): Promise<Lease | undefined> {
    const kv = await this.#open();
    for (let attempt = 0; attempt < 5; attempt++) {
      const e = await kv.get(key);
      const v = e && e.operation === "PUT" ? read(e.value) : undefined;
      if (!e || !v || v.id !== id || v.state !== "handed") return undefined;
      try {
        return this.#hold(key, await kv.update(key, this.#value(id, "running"), e.revision), id);
      } catch (err) {
        // The giver renewed it between our read and our update: read again.
        if (!isCasConflict(err)) throw err;
      }
    }
    return undefined;
  }

  /** Hands `lease` to task `next`: it stays taken, renewed here until `next` adopts it. */
  async handOver(lease: Lease, next: string): Promise<boolean> {
    const kv = await this.#open();
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        lease.revision = await kv.update(lease.key, this.#value(next, "handed"), lease.revision);
        lease.id = next;
        lease.handedAt = Date.now();
        this.#held.set(lease.key, lease);
        return true;
      } catch (e) {
        if (!isCasConflict(e)) throw e;
      }
      // A renewal in flight moved the revision: retry while it still names our task.
      const e = await kv.get(lease.key);
      const v = e && e.operation === "PUT" ? read(e.value) : undefined;
      if (!e || !v || v.id !== lease.id) break;
      lease.revision = e.revision;
    }
    this.#held.delete(lease.key);
    return false;
  }

  /** Gives `lease` back (only while it is still ours). */
  async release(lease: Lease): Promise<void> {
    this.#held.delete(lease.key);
    const kv = await this.#open();
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        await kv.delete(lease.key, { previousSeq: lease.revision });
        return;
      } catch (e) {
        if (!isCasConflict(e)) throw e;
      }
      // A renewal in flight moved the revision: delete it if it still names our task.
      const e = await kv.get(lease.key);
      const v = e && e.operation === "PUT" ? read(e.value) : undefined;
      if (!e || !v || v.id !== lease.id) return;
      lease.revision = e.revision;
    }
  }

  async #renewAll(): Promise<void> {
    const kv = await this.#open().catch(() => undefined);
    if (!kv) return;
    for (const lease of [...this.#held.values()]) {
      if (lease.handedAt !== undefined && Date.now() - lease.handedAt > HANDED_KEEP_MS) {
        this.#held.delete(lease.key);
        continue;
      }
      const rev = lease.revision;
      try {
        const e = await kv.get(lease.key);
        const v = e && e.operation === "PUT" ? read(e.value) : undefined;
        if (lease.revision !== rev) continue; // handed over meanwhile: renewed next round
        if (!e || e.revision !== rev || !v) {
          // Adopted by the task it was handed to, or lapsed: no longer ours.
          this.#held.delete(lease.key);
          continue;
        }
        const next = await kv.update(lease.key, enc.encode(JSON.stringify({ ...v, by: this.hostname })), rev);
        if (lease.revision === rev) lease.revision = next;
      } catch (e) {
        if (isCasConflict(e) && lease.revision === rev) this.#held.delete(lease.key);
        else log.warn(`could not renew concurrency lease ${lease.key}: ${(e as Error).message}`);
      }
    }
  }
}
