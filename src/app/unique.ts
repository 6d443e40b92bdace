/**
 * Sending a `unique` task (docs/flow.md): claim its marker, then publish; a duplicate gets the
 * id of the task that holds the marker and nothing is published; a publish that fails gives
 * the marker back, so a failed send does not block the key for its ttl.
 * @module
 */
import type { UniqueMarkers } from "../nats/unique.ts";
import type { UniqueClaim } from "./flow.ts";

/**
 * Publishes (through `publish`) the task `id` unless `claim` names a key another task holds;
 * returns the id whose result the caller gets: `id`, or the existing task's.
 */
export async function sendOnce(markers: () => UniqueMarkers, claim: UniqueClaim | undefined, id: string, publish: () => Promise<void>): Promise<string> {
  if (!claim) {
    await publish();
    return id;
  }
  const existing = await markers().claim(claim.key, id, claim.ttl);
  if (existing !== undefined) return existing;
  try {
    await publish();
  } catch (e) {
    await markers().release(claim.key, id).catch(() => {});
    throw e;
  }
  return id;
}
