/**
 * The canvas bucket, `<prefix>_canvas`: a JetStream KV bucket that holds what workflows need
 * on the server — chord counters (`chord.<id>`), the results of chord members
 * (`chord.<id>.<index>`), chord bodies (`chord.<id>.body`) and group memberships
 * (`group.<id>`). Entries expire with the app's `resultExpires`; the bucket holds at most
 * `CANVAS_MAX_BYTES`, the oldest entries going first.
 * @module
 */
import type { NatsConnection } from "@nats-io/nats-core";
import type { KV } from "@nats-io/kv";
import { jetstreamManager } from "@nats-io/jetstream";
import { CANVAS_MAX_BYTES, DEFAULT_RESULT_EXPIRES, openBucket } from "./kv.ts";
/** What the canvas bucket needs from an app (an `App` is one). */
export interface CanvasOwner {
  /** @ignore The app's connection, opened on first use: wiring, typed by nats.js. */
  connection(): Promise<NatsConnection>;
  /** Its names; the bucket is `<prefix>_canvas`. */
  readonly names: { readonly prefix: string };
  /** Its settings: entries live as long as results; replicas as its streams. */
  readonly config: { readonly resultExpires?: number; readonly replicas?: number };
}

const opened = new WeakMap<CanvasOwner, { nc: NatsConnection; kv: Promise<KV> }>();

/** The canvas bucket's name for `app`. */
export function canvasBucketName(app: CanvasOwner): string {
  return `${app.names.prefix}_canvas`;
}

/** The canvas bucket of `app`, created on first use (and reopened after `app.close()`). */
export async function canvasBucket(app: CanvasOwner): Promise<KV> {
  const nc = await app.connection();
  const known = opened.get(app);
  if (known && known.nc === nc && !nc.isClosed()) return known.kv;
  const kv = open(app, nc);
  opened.set(app, { nc, kv });
  kv.catch(() => opened.delete(app));
  return kv;
}

function open(app: CanvasOwner, nc: NatsConnection): Promise<KV> {
  return openBucket(nc, canvasBucketName(app), {
    ttlSeconds: app.config.resultExpires ?? DEFAULT_RESULT_EXPIRES,
    replicas: app.config.replicas,
    maxBytes: CANVAS_MAX_BYTES,
    settingNames: { ttlSeconds: "resultExpires" },
  });
}

/**
 * How many header members of chord `id` have their result stored (keys `chord.<id>.<index>`),
 * read from the bucket's stream state on its leader: a count no lost compare-and-set can skew.
 */
export async function storedChordMembers(app: CanvasOwner, id: string): Promise<number> {
  const bucket = canvasBucketName(app);
  const jsm = await jetstreamManager(await app.connection());
  const info = await jsm.streams.info(`KV_${bucket}`, { subjects_filter: `$KV.${bucket}.chord.${id}.*` });
  return Object.keys(info.state.subjects ?? {}).filter((subject) => /\.\d+$/.test(subject)).length;
}
