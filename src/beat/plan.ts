/**
 * What a beat does for one schedule at one moment, as a pure function of the stored
 * definition, the stored state (the cursor: the last due time handled) and `now`: which due
 * times to fire, which are backfills, and where the cursor moves. Every beat computes the same
 * answer from the same state, which is what lets any number of them run at once.
 * @module
 */
import { jitterMs, type ScheduleState, type StoredSchedule } from "../app/schedule/definition.ts";
import { dueBetween, nextDue } from "../app/schedule/rules.ts";

export type { ScheduleState };

/** One firing to publish. */
export interface Firing {
  /** The due time it fires for (ms): `request.schedule.scheduledFor`. */
  due: number;
  /** A catch-up run for a due time missed while no beat ran. */
  backfilled: boolean;
}

/** The plan for one schedule now. */
export interface Plan {
  /** What to publish, oldest first. */
  fires: Firing[];
  /** The cursor after this plan. */
  cursor: number;
  /** Missed due times the catch-up policy dropped (a lower bound when there were many). */
  dropped: number;
}

/**
 * How late a due time may be handled and still count as on time, not missed (ms). A beat
 * that was down, or a beat stalled longer than this, treats older due times as missed and
 * applies `catchup`.
 */
export const ON_TIME_MS = 3000;

/** Plans the firings of `def` given `state` at `now` (ms). */
export function planFirings(def: StoredSchedule, state: ScheduleState, now: number, onTimeMs = ON_TIME_MS): Plan {
  const none = { fires: [], cursor: state.cursor, dropped: 0 };
  if (state.paused) return none;
  const catchup = def.catchup;
  const keep = typeof catchup === "object" ? catchup.all : 1;
  const { times, total } = dueBetween(def.rule, state.cursor, now, keep + 2, def);
  const listed = times.length;
  // A due time whose jittered firing moment has not come yet waits (with everything after it).
  while (times.length > 0 && times[times.length - 1] + jitterMs(def, times[times.length - 1]) > now) times.pop();
  if (times.length === 0) return none;
  const latest = times[times.length - 1];
  const onTime = now - (latest + jitterMs(def, latest)) <= onTimeMs;
  const missed = onTime ? times.slice(0, -1) : times;
  const fires: Firing[] = [];
  let backfill: number[] = [];
  if (catchup === "once") backfill = missed.slice(-1);
  else if (typeof catchup === "object") backfill = missed.slice(-catchup.all);
  for (const due of backfill) fires.push({ due, backfilled: true });
  if (onTime) fires.push({ due: latest, backfilled: false });
  // Due times not listed (older than the ones looked at) were missed too.
  const unlisted = total - listed;
  return { fires, cursor: latest, dropped: missed.length - backfill.length + unlisted };
}

/** When the next firing of `def` after `state`'s cursor is due to be published (ms, jitter included); `null`: never again. */
export function nextFiring(def: StoredSchedule, state: ScheduleState): number | null {
  if (state.paused) return null;
  const due = nextDue(def.rule, state.cursor, def);
  return due === null ? null : due + jitterMs(def, due);
}
