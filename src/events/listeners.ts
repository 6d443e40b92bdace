/**
 * Task events on demand, as Celery's `enable_events`: a worker sends task events only while
 * someone listens. A listener (`taskd events`, the dashboard, {@link holdEventsLease}) holds a
 * lease — a key in the KV bucket `<prefix>_events`, renewed every {@link LEASE_RENEW_SECONDS}
 * — and deletes it when it stops; workers watch the bucket ({@link TaskEventsSwitch}) and
 * count the live leases. A listener that dies without deleting its key is dropped by every
 * worker {@link LEASE_TTL_SECONDS} after its last renewal (the server also expires the key:
 * the bucket's TTL, which NATS 2.9 does not announce to watchers, hence the workers' own clock).
 *
 * The dashboard's history stream (`<PREFIX>_HISTORY`, which records task events on the server
 * so the dashboard loses nothing while it is down) counts as a listener while it exists:
 * workers look for it when they start and every {@link LEASE_RENEW_SECONDS}.
 * @module
 */
import type { NatsConnection } from "@nats-io/nats-core";
import type { KV, KvEntry } from "@nats-io/kv";
import { jetstreamManager } from "@nats-io/jetstream";
import { isNotFound } from "../nats/errors.ts";
import { openBucket } from "../nats/kv.ts";
import { getLogger } from "../log/logger.ts";

const log = getLogger("taskd.events");

/** Seconds a lease lives without renewal. */
export const LEASE_TTL_SECONDS = 30;
/** Seconds between a listener's renewals of its lease. */
export const LEASE_RENEW_SECONDS = 10;

/** The dashboard's history stream for a prefix: `<PREFIX>_HISTORY`. */
export function historyStream(prefix: string): string {
  return `${prefix.toUpperCase()}_HISTORY`;
}

/** What the lease functions need of an app. */
export interface LeaseOwner {
  connection(): Promise<NatsConnection>;
  readonly names: { readonly prefix: string };
  readonly config?: { replicas?: number };
}

/** The bucket of listener leases. */
export function leaseBucket(app: LeaseOwner): Promise<KV> {
  return app.connection().then((nc) => openBucket(nc, `${app.names.prefix}_events`, { ttlSeconds: LEASE_TTL_SECONDS, replicas: app.config?.replicas, maxBytes: 8 * 1024 ** 2 }));
}

/** A held lease: `release()` deletes it (workers stop sending once no lease is left). */
export interface EventsLease {
  /** The lease's key. */
  readonly key: string;
  /** Deletes the lease and stops renewing it. */
  release(): Promise<void>;
}

/**
 * Asks every worker of `app` to send task events until `release()`: puts a lease and renews
 * it. `who` is shown to people looking at the bucket.
 * @example
 * ```ts
 * const lease = await holdEventsLease(app, "my-monitor");
 * // … listen with EventReceiver …
 * await lease.release();
 * ```
 */
export async function holdEventsLease(app: LeaseOwner, who = "listener"): Promise<EventsLease> {
  const kv = await leaseBucket(app);
  const key = `listener.${crypto.randomUUID()}`;
  const value = JSON.stringify({ who, pid: (globalThis as { process?: { pid: number } }).process?.pid });
  await kv.put(key, value);
  const timer = setInterval(() => {
    kv.put(key, value).catch((e) => log.warn(`could not renew the events lease: ${(e as Error).message}`));
  }, LEASE_RENEW_SECONDS * 1000);
  (timer as { unref?: () => void }).unref?.();
  return {
    key,
    async release() {
      clearInterval(timer);
      await kv.delete(key).catch(() => {});
    },
  };
}

/**
 * A worker's switch of task events: on when forced (`-E`, `enable_events`) or while a listener
 * holds a lease. Reading {@link on} costs one field read.
 */
export class TaskEventsSwitch {
  /** Whether task events are sent now. */
  on: boolean;
  #forced: boolean;
  /** The history stream exists: the server records task events. */
  #recording = false;
  readonly #leases = new Map<string, number>();
  #stop?: () => void;
  #sweep?: ReturnType<typeof setInterval>;

  /**
   * @param forced on whatever the leases say (until `disable()`)
   * @param onChange called when {@link on} flips
   */
  constructor(forced: boolean, readonly onChange: (on: boolean) => void = () => {}) {
    this.#forced = forced;
    this.on = forced;
  }

  /** Live leases, plus one for the history stream when it exists. */
  get listeners(): number {
    return this.#leases.size + (this.#recording ? 1 : 0);
  }

  /** Forces task events on (`enable_events`). */
  enable(): void {
    this.#forced = true;
    this.#update();
  }

  /** Drops the forcing (`disable_events`); events stay on while a listener holds a lease. */
  disable(): void {
    this.#forced = false;
    this.#update();
  }

  /** Starts watching the leases of `app`; resolves once the current ones are read. */
  async start(app: LeaseOwner): Promise<void> {
    const kv = await leaseBucket(app);
    const iter = await kv.watch({ key: "listener.>" });
    this.#stop = () => iter.stop();
    let loaded!: () => void;
    const initial = new Promise<void>((r) => (loaded = r));
    (async () => {
      for await (const e of iter) {
        this.#apply(e);
        if (e.delta === 0) loaded();
      }
    })().catch((e) => log.warn(`stopped watching event listeners: ${(e as Error).message}`));
    if ((await kv.status()).values === 0) loaded();
    await initial;
    const nc = await app.connection();
    const jsm = await jetstreamManager(nc);
    const stream = historyStream(app.names.prefix);
    const look = async () => {
      try {
        await jsm.streams.info(stream);
        this.#recording = true;
      } catch (e) {
        if (isNotFound(e)) this.#recording = false;
      }
      this.#update();
    };
    await look();
    let ticks = 0;
    this.#sweep = setInterval(() => {
      this.#expire();
      if (++ticks % LEASE_RENEW_SECONDS === 0 && !nc.isClosed()) void look();
    }, 1000);
    (this.#sweep as { unref?: () => void }).unref?.();
  }

  #apply(e: KvEntry): void {
    if (e.operation === "PUT") this.#leases.set(e.key, e.created.getTime() + LEASE_TTL_SECONDS * 1000);
    else this.#leases.delete(e.key);
    this.#update();
  }

  #expire(): void {
    const now = Date.now();
    let changed = false;
    for (const [k, until] of this.#leases) {
      if (until < now) {
        this.#leases.delete(k);
        changed = true;
      }
    }
    if (changed) this.#update();
  }

  #update(): void {
    const on = this.#forced || this.#recording || this.#leases.size > 0;
    if (on === this.on) return;
    this.on = on;
    this.onChange(on);
  }

  /** Stops watching. */
  stop(): void {
    this.#stop?.();
    if (this.#sweep) clearInterval(this.#sweep);
  }
}
