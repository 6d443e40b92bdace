/**
 * The canvas bucket, `<prefix>_canvas`: a JetStream KV bucket that holds what workflows need
 * on the server — chord counters (`chord.<id>`), the results of chord members
 * (`chord.<id>.<index>`), chord bodies (`chord.<id>.body`) and group memberships
 * (`group.<id>`). Entries expire with the app's `resultExpires`.
 * @module
 */
import type { NatsConnection } from "@nats-io/nats-core";
import { jetstream } from "@nats-io/jetstream";
import { type KV, Kvm } from "@nats-io/kv";
import type { App } from "../app/app.ts";
import { DEFAULTS } from "../app/options.ts";

const opened = new WeakMap<App, { nc: NatsConnection; kv: Promise<KV> }>();

/** The canvas bucket's name for `app`. */
export function canvasBucketName(app: App): string {
  return `${app.names.prefix}_canvas`;
}

/** The canvas bucket of `app`, created on first use (and reopened after `app.close()`). */
export async function canvasBucket(app: App): Promise<KV> {
  const nc = await app.connection();
  const known = opened.get(app);
  if (known && known.nc === nc && !nc.isClosed()) return known.kv;
  const kv = open(app, nc);
  opened.set(app, { nc, kv });
  kv.catch(() => opened.delete(app));
  return kv;
}

async function open(app: App, nc: NatsConnection): Promise<KV> {
  const kvm = new Kvm(jetstream(nc));
  const ttl = (app.config.resultExpires ?? DEFAULTS.resultExpires) * 1000;
  try {
    return await kvm.create(canvasBucketName(app), { ttl, history: 1, replicas: app.config.replicas ?? DEFAULTS.replicas });
  } catch (e) {
    if (/already in use|different configuration/i.test(String((e as Error)?.message))) return kvm.open(canvasBucketName(app));
    throw e;
  }
}

/** True when a KV `update`/`create` lost a compare-and-set race. */
export function isCasConflict(e: unknown): boolean {
  // deno-lint-ignore no-explicit-any
  const code = (e as any)?.api_error?.err_code ?? (e as any)?.code;
  return code === 10071 || code === 10164 || /wrong last sequence|key exists|already exists/i.test(String((e as Error)?.message));
}
