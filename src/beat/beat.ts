/**
 * The beat: fires periodic tasks from the schedules stored on the server. Any number of beats
 * may run at once (`taskd beat`, `taskd worker -B`); no leader is elected. For each due time
 * every beat publishes the same message (task id `<schedule>.<due>`, `Nats-Msg-Id`
 * `<schedule>:<due ISO>`: the stream keeps one copy), then advances the schedule's cursor by
 * compare-and-set: one beat wins, the others re-read and move on. Publish comes before the
 * cursor, so a beat that dies in between leaves no gap: the next one republishes the same id.
 *
 * That holds while the beats' clocks agree within the stream's duplicate window; each beat
 * measures its clock against the server's every 30 s and refuses to fire while the skew is
 * more than half the window (logged as an error). docs/beat.md has the guarantees.
 * @module
 */
import { hostname as osHostname } from "node:os";
import process from "node:process";
import type { App } from "../app/app.ts";
import { getLogger } from "../log/logger.ts";
import { signals } from "../signals/signals.ts";
import { EventDispatcher } from "../events/dispatcher.ts";
import { DEFAULT_DEDUP_WINDOW } from "../nats/broker.ts";
import type { StoredSchedule } from "../app/schedule/definition.ts";
import { nextFiring, planFirings, type ScheduleState } from "./plan.ts";
import { isConflict, ScheduleStore } from "../app/schedule/store.ts";
import { codeSchedules } from "../app/schedule/schedules.ts";
import { publishFiring } from "../app/schedule/fire.ts";

const log = getLogger("taskd.beat");

/** Options of a beat. */
export interface BeatOptions {
  /** Started inside a worker (`-B`): sends `beatEmbeddedInit` instead of `beatInit`. @default false */
  embedded?: boolean;
  /** The name in events and logs. @default `beat@<host>` */
  hostname?: string;
  /** Seconds between clock checks against the server. @default 30 */
  clockCheckSeconds?: number;
  /** Send `schedule-fired` events. @default true */
  sendEvents?: boolean;
  /** The beat's clock, ms since the epoch (tests inject a skewed one). @default Date.now */
  clock?: () => number;
}

/** Firings in flight at once in one beat. */
const MAX_IN_FLIGHT = 256;

interface Entry {
  id: string;
  def?: StoredSchedule;
  state?: ScheduleState;
  stateRevision: number;
  /** When to look at it next (ms); Infinity: never (paused, finished, incomplete). */
  next: number;
  busy: boolean;
}

/** A beat serving the schedules of one app prefix. */
export class Beat {
  readonly store: ScheduleStore;
  readonly hostname: string;
  readonly #entries = new Map<string, Entry>();
  readonly #id = `${osHostname().replace(/[^A-Za-z0-9_-]/g, "_")}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  #timer?: ReturnType<typeof setTimeout>;
  #clockTimer?: ReturnType<typeof setInterval>;
  #stopWatch?: () => void;
  #stopped = false;
  #refusing = false;
  #skewMs = 0;
  #inFlight = 0;
  #events?: EventDispatcher;
  readonly #now: () => number;
  /** Firings this beat published (duplicates dropped by the stream included). */
  published = 0;

  /**
   * A beat for `apps` (they share one prefix; the first one's connection is used). Their
   * code-defined schedules are stored when it starts.
   */
  constructor(readonly apps: readonly App[], readonly options: BeatOptions = {}) {
    if (apps.length === 0) throw new TypeError("Cannot start a beat: no App");
    this.store = new ScheduleStore(apps[0]);
    this.hostname = options.hostname ?? `beat@${osHostname()}`;
    this.#now = options.clock ?? Date.now;
  }

  /** The app whose connection publishes. */
  get app(): App {
    return this.apps[0];
  }

  /** Checks the clock, stores the code-defined schedules, loads every schedule and starts firing. */
  async start(): Promise<void> {
    const app = this.app;
    app.sendReplies = false; // a beat never waits for results
    const broker = await app.broker();
    await broker.ensureStreams();
    await this.store.kv();
    await this.#checkClock();
    // New cursors start at the server's time, so a beat with a wrong clock cannot set them.
    const now = this.#now() - this.#skewMs;
    for (const a of this.apps) {
      for (const def of codeSchedules(a)) {
        if (a.tasks.size > 0 && !this.apps.some((x) => x.tasks.has(def.task))) {
          log.warn(`schedule '${def.id}': task ${def.task} is not registered in this module; its runs will be dead-lettered unless a worker serves it`);
        }
        const r = await this.store.upsert(def, now);
        if (r === "kept") log.warn(`schedule '${def.id}' was added at run time; its code definition is not applied (taskd schedule remove ${def.id} lets the code define it)`);
        else if (r !== "unchanged") log.info(`schedule '${def.id}' ${r} (from code)`);
      }
    }
    if (this.options.sendEvents ?? true) this.#events = new EventDispatcher(broker.nc, app.names.prefix, this.hostname);
    this.#clockTimer = setInterval(() => this.#checkClock().catch((e) => log.warn(`clock check failed: ${(e as Error).message}`)), (this.options.clockCheckSeconds ?? 30) * 1000);
    await this.#watch();
    const signal = this.options.embedded ? signals.beatEmbeddedInit : signals.beatInit;
    await signal.send(this, { service: this });
    log.info(`beat ready: ${this.#entries.size} schedule(s) in ${this.store.bucket}`);
    this.#tick();
  }

  /** Stops firing (a firing in progress completes). */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#clockTimer) clearInterval(this.#clockTimer);
    this.#stopWatch?.();
    for (let i = 0; i < 100 && this.#inFlight > 0; i++) await new Promise((r) => setTimeout(r, 20));
    this.#events?.flush();
    await this.store.forgetClock(this.#id);
  }

  /** Whether this beat is refusing to fire (its clock is too far from the server's). */
  get refusing(): boolean {
    return this.#refusing;
  }

  /** Refuses to fire while this machine's clock is off the server's by more than half the duplicate window. */
  async #checkClock(): Promise<void> {
    const { skewMs, rttMs } = await this.store.clockSkew(this.#id, this.#now);
    this.#skewMs = skewMs;
    let windowMs = (this.app.config.dedupWindow ?? DEFAULT_DEDUP_WINDOW) * 1000;
    try {
      const jsm = await (await this.app.broker()).jsm();
      windowMs = (await jsm.streams.info(this.app.names.tasksStream)).config.duplicate_window / 1e6;
    } catch { /* keep the default */ }
    const limit = windowMs / 2;
    const refusing = Math.abs(skewMs) > limit;
    if (refusing) {
      log.error(
        `REFUSING TO FIRE: this clock is ${(skewMs / 1000).toFixed(1)} s ${skewMs > 0 ? "ahead of" : "behind"} the NATS server's (limit ${limit / 1000} s, half the duplicate window of ${this.app.names.tasksStream}); fix the clock (NTP) — other beats keep the schedules running`,
      );
    } else if (this.#refusing) log.warn(`clock skew back to ${(skewMs / 1000).toFixed(2)} s: firing again`);
    else log.debug(`clock skew ${skewMs.toFixed(0)} ms (round trip ${rttMs} ms)`);
    this.#refusing = refusing;
  }

  /** Loads every schedule and follows changes (a KV watch, watched again if it ever ends). */
  async #watch(): Promise<void> {
    let loaded!: () => void;
    const initial = new Promise<void>((r) => (loaded = r));
    const follow = async () => {
      while (!this.#stopped) {
        try {
          const kv = await this.store.kv();
          // One filter: nats-server 2.9 has no multi-filter consumers (clock entries are skipped below).
          const iter = await kv.watch({ key: ">" });
          this.#stopWatch = () => iter.stop();
          if ((await kv.status()).values === 0) loaded();
          for await (const e of iter) {
            if (e.delta === 0) loaded();
            this.#apply(e.key, e.operation === "PUT" && e.length > 0 ? e.string() : undefined, e.revision);
          }
        } catch (e) {
          log.warn(`schedule watch failed: ${(e as Error).message}`);
        }
        if (this.#stopped) return;
        log.warn("schedule watch ended: watching again in 1 s");
        await new Promise((r) => setTimeout(r, 1000));
      }
    };
    follow();
    await initial;
  }

  /** Applies one watched change: `d.<id>` or `s.<id>`, `value` undefined for a delete. */
  #apply(key: string, value: string | undefined, revision: number): void {
    const kind = key.slice(0, 2);
    if (kind !== "d." && kind !== "s.") return;
    const id = key.slice(2);
    let entry = this.#entries.get(id);
    if (!entry) this.#entries.set(id, (entry = { id, stateRevision: 0, next: Infinity, busy: false }));
    try {
      if (kind === "d.") entry.def = value === undefined ? undefined : JSON.parse(value);
      else if (value === undefined) (entry.state = undefined), (entry.stateRevision = 0);
      else if (revision > entry.stateRevision) (entry.state = JSON.parse(value)), (entry.stateRevision = revision);
    } catch (err) {
      log.error(`schedule '${id}': cannot read its ${kind === "d." ? "definition" : "state"}: ${(err as Error).message}`);
    }
    if (!entry.def && !entry.state) this.#entries.delete(id);
    else this.#reschedule(entry);
    if (entry.next < this.#wakeAt) this.#kick();
  }

  #reschedule(e: Entry): void {
    if (!e.def || !e.state) {
      e.next = Infinity;
      return;
    }
    try {
      e.next = nextFiring(e.def, e.state) ?? Infinity;
    } catch (err) {
      log.error(`schedule '${e.id}': ${(err as Error).message}`);
      e.next = Infinity;
    }
  }

  #kicked = false;
  /** When the loop's timer is set to run next (ms). */
  #wakeAt = 0;

  /** Runs the loop soon (once per turn of the event loop, however many changes came in). */
  #kick(): void {
    if (this.#kicked || this.#stopped) return;
    this.#kicked = true;
    setTimeout(() => {
      this.#kicked = false;
      if (this.#timer) clearTimeout(this.#timer);
      this.#tick();
    }, 0);
  }

  #tick = (): void => {
    if (this.#stopped) return;
    const now = this.#now();
    let wake = now + 1000;
    for (const e of this.#entries.values()) {
      if (e.busy) continue;
      if (e.next <= now) {
        if (this.#refusing) continue;
        if (this.#inFlight >= MAX_IN_FLIGHT) {
          wake = Math.min(wake, now + 20); // a finishing firing kicks the loop sooner
          continue;
        }
        e.busy = true;
        this.#inFlight++;
        this.#handle(e)
          .catch((err) => {
            log.error(`schedule '${e.id}': firing failed, retrying in 1 s: ${(err as Error)?.message ?? err}`);
            e.next = this.#now() + 1000;
          })
          .finally(() => {
            e.busy = false;
            this.#inFlight--;
            if (e.next < this.#wakeAt || this.#inFlight === MAX_IN_FLIGHT - 1) this.#kick();
          });
      } else if (e.next < wake) wake = e.next;
    }
    this.#wakeAt = wake;
    this.#timer = setTimeout(this.#tick, Math.max(1, Math.min(wake - this.#now(), 1000)));
  };

  /** Fires what is due for one schedule and advances its cursor by compare-and-set. */
  async #handle(e: Entry): Promise<void> {
    try {
      if (e.def && e.state) await this.#fire(e, e.def, e.state, e.stateRevision);
    } finally {
      this.#reschedule(e);
    }
  }

  async #fire(e: Entry, def: StoredSchedule, state: ScheduleState, revision: number): Promise<void> {
    if (def.overlap === "skip") {
      // The decision reads the last run: take the freshest state, not the watch's copy.
      const fresh = await this.store.state(def.id);
      if (!fresh) return;
      ({ value: state, revision } = fresh);
    }
    for (let attempt = 0; attempt < 3; attempt++) {
      const now = this.#now();
      const plan = planFirings(def, state, now);
      if (plan.cursor === state.cursor && plan.fires.length === 0) break;
      let fires = plan.fires;
      let overlapSkips = 0;
      if (def.overlap === "skip" && fires.length > 0) {
        if (await this.#previousActive(def, state, now)) {
          overlapSkips = fires.length;
          fires = [];
        } else fires = fires.slice(-1);
      }
      const fired = [];
      for (const f of fires) {
        fired.push(await publishFiring(this.app, def, f.due, f.backfilled));
        this.published++;
      }
      const last = fired[fired.length - 1];
      const next: ScheduleState = {
        ...state,
        cursor: plan.cursor,
        ...(last ? { lastRun: last.due, lastTaskId: last.taskId, firedAt: now, runs: (state.runs ?? 0) + fired.length } : {}),
        ...(overlapSkips ? { overlapSkips: (state.overlapSkips ?? 0) + overlapSkips } : {}),
        ...(plan.dropped ? { dropped: (state.dropped ?? 0) + plan.dropped } : {}),
      };
      try {
        revision = await this.store.writeState(def.id, next, revision);
        if (revision > e.stateRevision) (e.state = next), (e.stateRevision = revision);
        for (const f of fired) this.#announce(def, f.taskId, f.due, f.backfilled);
        if (overlapSkips) log.info(`schedule '${def.id}': skipped ${overlapSkips} due time(s): the previous run ${state.lastTaskId} is still active (overlap "skip")`);
        if (plan.dropped) log.info(`schedule '${def.id}': dropped ${plan.dropped} missed due time(s) (catchup ${JSON.stringify(def.catchup)})`);
        break;
      } catch (err) {
        if (!isConflict(err)) throw err;
        // Another beat (or a command) moved the state first: re-read and plan again.
        const fresh = await this.store.state(def.id);
        if (!fresh) break;
        if (last && def.overlap === "skip") await this.#recordLateRun(def.id, fresh.value, fresh.revision, last.due, last.taskId, now);
        ({ value: state, revision } = fresh);
        if (revision > e.stateRevision) (e.state = state), (e.stateRevision = revision);
      }
    }
  }

  /**
   * overlap "skip" under a race: another beat skipped this due time while this one fired it
   * (the previous run finished in between). Record this run as the last one, so the next due
   * time waits for it.
   */
  async #recordLateRun(id: string, state: ScheduleState, revision: number, due: number, taskId: string, now: number): Promise<void> {
    if (state.cursor < due || (state.lastRun ?? -Infinity) >= due) return;
    try {
      await this.store.writeState(id, { ...state, lastRun: due, lastTaskId: taskId, firedAt: now }, revision);
    } catch (e) {
      if (!isConflict(e)) throw e;
    }
  }

  /** Whether the last run of `def` is still active: no ready result yet, and younger than `overlapTimeout`. */
  async #previousActive(def: StoredSchedule, state: ScheduleState, now: number): Promise<boolean> {
    if (!state.lastTaskId || state.firedAt === undefined) return false;
    if (now - state.firedAt > def.overlapTimeout * 1000) return false;
    return !(await this.app.asyncResult(state.lastTaskId).ready());
  }

  #announce(def: StoredSchedule, taskId: string, due: number, backfilled: boolean): void {
    log.info(`schedule '${def.id}' fired ${def.task}[${taskId}] for ${new Date(due).toISOString()}${backfilled ? " (backfilled)" : ""}`);
    this.#events?.send("schedule-fired", { id: taskId, name: def.task, schedule: def.id, scheduledFor: new Date(due).toISOString(), backfilled });
  }
}

/** Starts one beat per app prefix among `apps` (the apps of one module). */
export async function startBeats(apps: readonly App[], options: BeatOptions = {}): Promise<Beat[]> {
  const byPrefix = new Map<string, App[]>();
  for (const a of apps) {
    const list = byPrefix.get(a.names.prefix) ?? [];
    list.push(a);
    byPrefix.set(a.names.prefix, list);
  }
  const beats: Beat[] = [];
  for (const group of byPrefix.values()) {
    const beat = new Beat(group, options);
    await beat.start();
    beats.push(beat);
  }
  return beats;
}
