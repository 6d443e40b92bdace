// The raw JetStream pipeline's names and codec, shared by its worker and its client:
// tasks stream + durable pull consumer, a delay stream for countdowns (DESIGN.md's 2.9 path:
// nak(remaining) until due, then republish with Nats-Msg-Id), and the KV results bucket.
import { AckPolicy, type JetStreamManager, RetentionPolicy, StorageType } from "@nats-io/jetstream";
import { Packr } from "msgpackr";

export const TASKS_STREAM = "BENCH_TASKS";
export const TASKS_SUBJECT = "bench.tasks.default";
export const TASKS_CONSUMER = "default";
export const DELAYED_STREAM = "BENCH_DELAYED";
export const DELAYED_SUBJECT = "bench.delayed.default";
export const DELAYED_CONSUMER = "delayed";
export const RESULTS_BUCKET = "bench_results";

/** msgpack with records off and no class revival: what taskd's protocol uses. */
export const packr = new Packr({ useRecords: false, moreTypes: false });

export const servers = (): string => process.env.NATS_URL ?? "nats://127.0.0.1:4222";

const ns = (ms: number): number => ms * 1_000_000;

/** Drop and recreate both streams and their consumers: each run starts empty. */
export async function resetStreams(jsm: JetStreamManager): Promise<void> {
  for (const name of [TASKS_STREAM, DELAYED_STREAM]) {
    await jsm.streams.delete(name).catch(() => false);
  }
  await jsm.streams.add({
    name: TASKS_STREAM, subjects: ["bench.tasks.>"], retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
  });
  await jsm.consumers.add(TASKS_STREAM, {
    durable_name: TASKS_CONSUMER, ack_policy: AckPolicy.Explicit, ack_wait: ns(30_000),
    max_ack_pending: 20_000,
  });
  await jsm.streams.add({
    name: DELAYED_STREAM, subjects: ["bench.delayed.>"], retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
  });
  // no ack-pending bound: nak'ed far-future messages must not hold up near-future ones
  await jsm.consumers.add(DELAYED_STREAM, {
    durable_name: DELAYED_CONSUMER, ack_policy: AckPolicy.Explicit, ack_wait: ns(30_000),
    max_ack_pending: -1,
  });
}
