/**
 * The schedule API on an App: `app.schedule(id, {...})` and `beatSchedule` record code-defined
 * schedules (checked at once, stored when a beat starts), and `app.schedules` manages the ones
 * stored on the server at run time (`list`, `add`, `remove`, `pause`, `resume`, `run`), as
 * `taskd schedule …` does from the shell.
 * @module
 */
import type { App } from "../app.ts";
import { AsyncResult } from "../../result/async_result.ts";
import { getLogger } from "../../log/logger.ts";
import { type BeatScheduleEntry, checkScheduleId, jitterMs, normalize, type ScheduleDefinition, type ScheduleState, type StoredSchedule } from "./definition.ts";
import { describeRule, nextDue } from "./rules.ts";
import { ScheduleStore, type UpsertResult } from "./store.ts";
import { publishFiring } from "./fire.ts";

const log = getLogger("taskd.beat");
const defined = new WeakMap<App, Map<string, StoredSchedule>>();

/** Records a code-defined schedule of `app` (what `app.schedule()` and `beatSchedule` do); throws on bad input. */
export function defineSchedule(app: App, id: string, def: ScheduleDefinition | BeatScheduleEntry): StoredSchedule {
  const stored = normalize(id, def, "code");
  let map = defined.get(app);
  if (!map) defined.set(app, (map = new Map()));
  map.set(id, stored);
  return stored;
}

/** The code-defined schedules of `app`, in definition order. */
export function codeSchedules(app: App): StoredSchedule[] {
  return [...(defined.get(app)?.values() ?? [])];
}

/** One row of `app.schedules.list()`. */
export interface ScheduleListing {
  /** The schedule's id. */
  id: string;
  /** The task name. */
  task: string;
  /** The rule in words (`every 30s`, `cron "0 9 * * 1-5" Europe/Madrid`, `at …`). */
  rule: string;
  /** When it fires next; null when paused or finished. */
  next: Date | null;
  /** The due time of the last firing; null before the first. */
  lastRun: Date | null;
  /** The task id of the last firing. */
  lastTaskId: string | null;
  /** Whether it is paused. */
  paused: boolean;
  /** `code` (defined in a module, upserted by beats) or `api` (added at run time, kept across deploys). */
  origin: "code" | "api";
  /** The stored definition. */
  definition: StoredSchedule;
}

/**
 * Schedules stored on the server, for one app's prefix.
 * @example
 * ```ts
 * await app.schedules.add("cleanup", { task: "tasks.cleanup", cron: "0 3 * * *", tz: "Europe/Berlin" });
 * for (const s of await app.schedules.list()) console.log(s.id, s.next);
 * await app.schedules.run("cleanup"); // now, the rule's cursor unchanged
 * ```
 */
export class Schedules {
  readonly #store: ScheduleStore;

  /** The schedules of `app`'s prefix. */
  constructor(readonly app: App) {
    this.#store = new ScheduleStore(app);
  }

  /** The KV store behind it. */
  private get store(): ScheduleStore {
    return this.#store;
  }

  /** Every stored schedule with its next and last run. */
  async list(): Promise<ScheduleListing[]> {
    const now = Date.now();
    return (await this.store.list()).map(({ def, state }) => listing(def, state, now));
  }

  /** One stored schedule, or null. */
  async get(id: string): Promise<ScheduleListing | null> {
    const def = await this.store.definition(checkScheduleId(id));
    if (!def) return null;
    return listing(def.value, (await this.store.state(id))?.value ?? null, Date.now());
  }

  /**
   * Stores a schedule at run time (kept across deploys); the same definition again changes
   * nothing. Throws TypeError/RangeError on bad input, before anything is stored. Warns when
   * this app knows tasks but not this one (a firing of an unknown task is dead-lettered).
   */
  async add(id: string, def: ScheduleDefinition): Promise<UpsertResult> {
    const stored = normalize(id, def, "api");
    if (this.app.tasks.size > 0 && !this.app.tasks.has(stored.task)) {
      log.warn(`schedule '${id}': task ${stored.task} is not registered in this app; its runs will be dead-lettered unless a worker serves it`);
    }
    return await this.store.upsert(stored, Date.now());
  }

  /** Removes a schedule; false when there was none. */
  remove(id: string): Promise<boolean> {
    return this.store.remove(checkScheduleId(id));
  }

  /** Pauses a schedule (nothing fires until `resume`); false when there is none. */
  pause(id: string): Promise<boolean> {
    return this.store.setPaused(checkScheduleId(id), true, Date.now());
  }

  /** Resumes a schedule from now (the paused time is not backfilled); false when there is none. */
  resume(id: string): Promise<boolean> {
    return this.store.setPaused(checkScheduleId(id), false, Date.now());
  }

  /** Fires a schedule now, whatever its rule, without moving its cursor; the run's AsyncResult. */
  async run(id: string): Promise<AsyncResult> {
    const def = await this.store.definition(checkScheduleId(id));
    if (!def) throw new RangeError(`Cannot run schedule '${id}': there is no such schedule`);
    const fired = await publishFiring(this.app, def.value, Date.now(), false, true);
    return new AsyncResult(fired.taskId, this.app, def.value.task);
  }
}

function listing(def: StoredSchedule, state: ScheduleState | null, now: number): ScheduleListing {
  const cursor = Math.max(state?.cursor ?? now, now);
  const due = state?.paused ? null : nextDue(def.rule, cursor, def);
  return {
    id: def.id,
    task: def.task,
    rule: describeRule(def.rule),
    next: due === null ? null : new Date(due + jitterMs(def, due)),
    lastRun: state?.lastRun !== undefined ? new Date(state.lastRun) : null,
    lastTaskId: state?.lastTaskId ?? null,
    paused: Boolean(state?.paused),
    origin: def.origin,
    definition: def,
  };
}
