/**
 * Opening taskd's KV buckets: one helper that creates a bucket with its settings or, when it
 * exists, opens it as it is. Every bucket (results, revocations, canvas, rate limits) is opened
 * here, so their settings have one owner.
 * @module
 */
import type { NatsConnection } from "@nats-io/nats-core";
import { jetstream } from "@nats-io/jetstream";
import { type KV, Kvm } from "@nats-io/kv";
import { isExistingStream } from "./errors.ts";

/** How long results (and workflow state) are kept when the app does not say, in seconds. */
export const DEFAULT_RESULT_EXPIRES = 86_400;
/** JetStream replicas of streams and buckets when the app does not say. */
export const DEFAULT_REPLICAS = 1;

/** The settings a bucket is created with. */
export interface BucketSettings {
  /** How long an entry is kept, in seconds; 0 keeps entries until deleted. */
  ttlSeconds: number;
  /** JetStream replicas. @default DEFAULT_REPLICAS */
  replicas?: number;
}

/**
 * Opens bucket `name` on `nc`, creating it with `settings` when it does not exist yet. A bucket
 * made earlier with other settings is opened as it is.
 */
export async function openBucket(nc: NatsConnection, name: string, settings: BucketSettings): Promise<KV> {
  const kvm = new Kvm(jetstream(nc));
  try {
    return await kvm.create(name, { ttl: settings.ttlSeconds * 1000, history: 1, replicas: settings.replicas ?? DEFAULT_REPLICAS });
  } catch (e) {
    if (isExistingStream(e)) return kvm.open(name);
    throw e;
  }
}
