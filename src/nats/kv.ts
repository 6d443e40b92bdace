/**
 * Opening taskd's KV buckets: one helper that creates a bucket with its settings or, when it
 * exists, brings it to them (on a connection that owns settings, see src/nats/settings.ts) or
 * warns that it differs. Every bucket (results, revocations, canvas, rate limits) is opened
 * here, so their settings have one owner. A bucket is the stream `KV_<name>`: its bounds are
 * that stream's `max_age`, `max_bytes`, `max_msgs` and `discard` (docs/limits.md).
 * @module
 */
import type { NatsConnection } from "@nats-io/nats-core";
import { jetstream } from "@nats-io/jetstream";
import { type KV, Kvm } from "@nats-io/kv";
import { ensureStream } from "./settings.ts";

/** How long results (and workflow state) are kept when the app does not say, in seconds. */
export const DEFAULT_RESULT_EXPIRES = 86_400;
/** JetStream replicas of streams and buckets when the app does not say. */
export const DEFAULT_REPLICAS = 1;
/**
 * Bytes the results bucket may hold when the app does not say (512 MiB): the oldest results go
 * first. JetStream reserves a stream's `max_bytes` in the server's `max_file_store` (on every
 * replica), so byte bounds are kept modest: all of taskd's add up to ~870 MiB (docs/limits.md).
 */
export const DEFAULT_RESULT_MAX_BYTES = 512 * 1024 ** 2;
/**
 * Results the bucket may hold when the app does not say (1,000,000): the server keeps ~150–250
 * bytes of memory per stored key, so this bounds the server's memory near 250 MiB for results.
 */
export const DEFAULT_RESULT_MAX_COUNT = 1_000_000;
/** Bytes the canvas bucket (chord and group state) may hold: 128 MiB, oldest entries go first. */
export const CANVAS_MAX_BYTES = 128 * 1024 ** 2;

/** The settings a bucket is created with and kept at. */
export interface BucketSettings {
  /** How long an entry is kept, in seconds; 0 keeps entries until deleted. */
  ttlSeconds: number;
  /** JetStream replicas. @default DEFAULT_REPLICAS */
  replicas?: number;
  /** Bytes the bucket may hold (oldest entries go first); -1: no bound. @default -1 */
  maxBytes?: number;
  /** Entries the bucket may hold (oldest entries go first); -1: no bound. @default -1 */
  maxCount?: number;
  /** The app settings behind these values, for messages. @default the stream config's names */
  settingNames?: { ttlSeconds?: string; maxBytes?: string; maxCount?: string };
}

/**
 * Opens bucket `name` on `nc`, creating it with `settings` when it does not exist yet. A bucket
 * made earlier with other settings is updated to `settings` on a connection that owns settings
 * (workers), and opened as it is, with a warning, elsewhere.
 */
export async function openBucket(nc: NatsConnection, name: string, settings: BucketSettings): Promise<KV> {
  const kvm = new Kvm(jetstream(nc));
  const replicas = settings.replicas ?? DEFAULT_REPLICAS;
  const maxBytes = settings.maxBytes ?? -1;
  const n = settings.settingNames ?? {};
  await ensureStream(nc, { name: `KV_${name}` }, {
    maxAgeSeconds: settings.ttlSeconds,
    maxBytes,
    maxMsgs: settings.maxCount ?? -1,
    discard: "old",
    replicas,
  }, {
    settings: { max_age: n.ttlSeconds, max_bytes: n.maxBytes, max_msgs: n.maxCount, num_replicas: "replicas" },
    create: () => kvm.create(name, { ttl: settings.ttlSeconds * 1000, history: 1, replicas, ...(maxBytes > 0 ? { max_bytes: maxBytes } : {}) }),
  });
  return kvm.open(name);
}
