/**
 * Schedules on the server: one KV bucket `<prefix>_schedules` (history 1, no TTL) holding
 * `d.<id>` (the definition, JSON) and `s.<id>` (the state: cursor, last run, paused), each
 * changed by compare-and-set on its revision so concurrent beats and commands never lose an
 * update. Also the beat's clock check against the server (a KV entry's `created` time).
 * @module
 */
import type { KV, KvEntry } from "@nats-io/kv";
import { openBucket } from "../../nats/kv.ts";
import { isCasConflict } from "../../nats/errors.ts";
import type { App } from "../app.ts";
import type { ScheduleState, StoredSchedule } from "./definition.ts";

/** A value with the revision it was read at. */
export interface Versioned<T> {
  value: T;
  revision: number;
}

/**
 * What an upsert did: `kept` when a code definition met a schedule added at run time under the
 * same id (a deploy never changes those; remove it to let the code define it).
 */
export type UpsertResult = "created" | "updated" | "unchanged" | "kept";

const enc = new TextEncoder();
const dec = new TextDecoder();
const json = (v: unknown) => enc.encode(JSON.stringify(v));

/** True when a KV write failed because the revision moved (another writer won). */
export const isConflict: (e: unknown) => boolean = isCasConflict;

/** The schedules bucket of one app prefix. */
export class ScheduleStore {
  #kv?: Promise<KV>;
  /** The bucket's name: `<prefix>_schedules`. */
  readonly bucket: string;

  /** The store of `app`'s prefix (opened on first use). */
  constructor(readonly app: Pick<App, "connection" | "names" | "config">) {
    this.bucket = `${app.names.prefix}_schedules`;
  }

  /** The bucket, created on first use. */
  kv(): Promise<KV> {
    this.#kv ??= this.#open().catch((e) => {
      this.#kv = undefined;
      throw e;
    });
    return this.#kv;
  }

  async #open(): Promise<KV> {
    return openBucket(await this.app.connection(), this.bucket, { ttlSeconds: 0, replicas: this.app.config.replicas });
  }

  async #read<T>(key: string): Promise<Versioned<T> | null> {
    const e = await (await this.kv()).get(key);
    return live(e) ? { value: JSON.parse(dec.decode(e!.value)) as T, revision: e!.revision } : null;
  }

  /** The definition of `id`, or null. */
  definition(id: string): Promise<Versioned<StoredSchedule> | null> {
    return this.#read(`d.${id}`);
  }

  /** The state of `id`, or null. */
  state(id: string): Promise<Versioned<ScheduleState> | null> {
    return this.#read(`s.${id}`);
  }

  /** Writes the state of `id` if it is still at `revision` (0: if it does not exist); returns the new revision or throws a conflict. */
  async writeState(id: string, state: ScheduleState, revision: number): Promise<number> {
    const kv = await this.kv();
    return revision === 0 ? kv.create(`s.${id}`, json(state)) : kv.update(`s.${id}`, json(state), revision);
  }

  /**
   * Creates or replaces `def`. The same content (hash) changes nothing, so its cursor is kept
   * (a redeploy); new or changed content starts its cursor at the server's time of the write
   * (`now` when that cannot be read): nothing is backfilled for the time before it existed. A
   * pause survives a change.
   */
  async upsert(def: StoredSchedule, now: number): Promise<UpsertResult> {
    const kv = await this.kv();
    for (let attempt = 0; attempt < 5; attempt++) {
      const old = await this.definition(def.id);
      if (old && old.value.origin === "api" && def.origin === "code") return old.value.hash === def.hash ? "unchanged" : "kept";
      const same = old?.value.hash === def.hash;
      if (same && old!.value.origin === def.origin) {
        // Same content: keep it (and its cursor); repair a missing state.
        if (!(await this.state(def.id))) await this.#resetState(def.id, now);
        return "unchanged";
      }
      try {
        if (old) await kv.update(`d.${def.id}`, json(def), old.revision);
        else await kv.create(`d.${def.id}`, json(def));
      } catch (e) {
        if (isConflict(e)) continue;
        throw e;
      }
      // Only the origin changed (code → run time): the cursor stays. Otherwise it starts at the
      // server's time of this write, whatever the writer's clock says.
      if (!same || !(await this.state(def.id))) {
        const written = await kv.get(`d.${def.id}`);
        await this.#resetState(def.id, written?.created.getTime() ?? now);
      }
      return old ? "updated" : "created";
    }
    throw new Error(`Cannot store schedule '${def.id}': it kept changing under concurrent writers`);
  }

  async #resetState(id: string, now: number): Promise<void> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const old = await this.state(id);
      try {
        await this.writeState(id, { cursor: now, paused: old?.value.paused || undefined }, old?.revision ?? 0);
        return;
      } catch (e) {
        if (!isConflict(e)) throw e;
      }
    }
  }

  /** Removes `id` (definition and state); false when there was none. */
  async remove(id: string): Promise<boolean> {
    const kv = await this.kv();
    const had = await this.definition(id);
    await kv.delete(`d.${id}`);
    await kv.delete(`s.${id}`);
    return had !== null;
  }

  /** Pauses or resumes `id`; resuming moves the cursor to `now` (the paused time is not backfilled). False when there is no such schedule. */
  async setPaused(id: string, paused: boolean, now: number): Promise<boolean> {
    if (!(await this.definition(id))) return false;
    for (let attempt = 0; attempt < 10; attempt++) {
      const old = await this.state(id);
      const base: ScheduleState = old?.value ?? { cursor: now };
      const next: ScheduleState = paused ? { ...base, paused: true } : { ...base, paused: undefined, cursor: base.paused ? Math.max(base.cursor, now) : base.cursor };
      try {
        await this.writeState(id, next, old?.revision ?? 0);
        return true;
      } catch (e) {
        if (!isConflict(e)) throw e;
      }
    }
    throw new Error(`Cannot ${paused ? "pause" : "resume"} schedule '${id}': its state kept changing`);
  }

  /** Every definition with its state (state null when missing). */
  async list(): Promise<{ def: StoredSchedule; state: ScheduleState | null }[]> {
    const kv = await this.kv();
    const ids: string[] = [];
    for await (const k of await kv.keys("d.>")) ids.push(k.slice(2));
    ids.sort();
    const out: { def: StoredSchedule; state: ScheduleState | null }[] = [];
    for (const id of ids) {
      const def = await this.definition(id);
      if (def) out.push({ def: def.value, state: (await this.state(id))?.value ?? null });
    }
    return out;
  }

  /**
   * This process's clock minus the server's, in ms: a KV write's server timestamp against the
   * middle of the local round trip (accurate to half of it).
   */
  async clockSkew(beatId: string, clock: () => number = Date.now): Promise<{ skewMs: number; rttMs: number }> {
    const kv = await this.kv();
    const t0 = clock();
    const revision = await kv.put(`clock.${beatId}`, json({ at: t0 }));
    const t1 = clock();
    const e = await kv.get(`clock.${beatId}`, { revision });
    if (!e) throw new Error("Cannot measure the clock skew: the clock entry vanished");
    return { skewMs: (t0 + t1) / 2 - e.created.getTime(), rttMs: t1 - t0 };
  }

  /** Deletes this beat's clock entry. */
  async forgetClock(beatId: string): Promise<void> {
    await (await this.kv()).purge(`clock.${beatId}`).catch(() => {});
  }
}

function live(e: KvEntry | null): boolean {
  return e !== null && e.operation === "PUT" && e.length > 0;
}
