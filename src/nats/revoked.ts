/**
 * Revocations: a KV bucket `<prefix>_revoked` keyed by task id, kept for three hours (as
 * Celery keeps its revoke list), so workers started after the revoke honour it too. Each worker
 * watches the bucket into a local set: checking a message costs no round trip.
 * @module
 */
import type { KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";
import { checkTaskId } from "../protocol/result.ts";
import { openBucket } from "./kv.ts";

/** How long a revocation is remembered, in seconds. */
export const REVOKE_TTL_SECONDS = 3 * 3600;
/** Bytes the revocations bucket may hold (32 MiB, some 150,000 revocations); the oldest go first. */
export const REVOKED_MAX_BYTES = 32 * 1024 ** 2;

interface RevokeOwner {
  connection(): Promise<NatsConnection>;
  readonly names: { revokedBucket: string };
  readonly config: { replicas?: number };
}

/** Opens (or creates) the revocations bucket. */
export async function revokedBucket(app: RevokeOwner): Promise<KV> {
  return openBucket(await app.connection(), app.names.revokedBucket, { ttlSeconds: REVOKE_TTL_SECONDS, replicas: app.config.replicas, maxBytes: REVOKED_MAX_BYTES });
}

/** Records that `taskId` is revoked. */
export async function revokeTask(app: RevokeOwner, taskId: string, terminate = false): Promise<void> {
  const kv = await revokedBucket(app);
  await kv.put(checkTaskId(taskId), new TextEncoder().encode(JSON.stringify({ at: new Date().toISOString(), terminate })));
}

/** A live set of revoked task ids, fed by a watch on the bucket. */
export class RevokedSet {
  readonly ids = new Set<string>();
  #stop?: () => void;

  /** Starts watching; resolves once the ids stored so far are loaded. */
  async start(app: RevokeOwner, onRevoke?: (id: string, terminate: boolean) => void): Promise<void> {
    const kv = await revokedBucket(app);
    const iter = await kv.watch();
    this.#stop = () => iter.stop();
    let resolveInitial!: () => void;
    const initial = new Promise<void>((r) => (resolveInitial = r));
    (async () => {
      for await (const e of iter) {
        if (e.operation === "PUT") {
          this.ids.add(e.key);
          let terminate = false;
          try {
            terminate = Boolean(JSON.parse(new TextDecoder().decode(e.value)).terminate);
          } catch { /* an entry written by hand: revoke without terminate */ }
          onRevoke?.(e.key, terminate);
        } else this.ids.delete(e.key);
        if (e.delta === 0) resolveInitial();
      }
    })().catch(() => {});
    const status = await kv.status();
    if (status.values === 0) resolveInitial();
    await initial;
  }

  /** Whether `id` is revoked. */
  has(id: string): boolean {
    return this.ids.has(id);
  }

  /** Stops watching. */
  stop(): void {
    this.#stop?.();
  }
}
