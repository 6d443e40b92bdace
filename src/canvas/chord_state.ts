/**
 * Counting a chord's header on the server. `chord.<id>` in the canvas bucket holds the chord's
 * size, a bitset of the header members that are settled and a bitset of those that did not
 * succeed. Each settled member stores its outcome under `chord.<id>.<index>` (its value, or who
 * it was and why it did not succeed), then sets its bit with compare-and-set on the entry's
 * revision. Setting a bit twice changes nothing, so a member that runs again (redelivered,
 * retried after a crash) is counted once. The update that sets the last bit ends the chord —
 * exactly one update can do that, and no one polls: the body is sent when every member
 * succeeded, else the chord fails with a `ChordError` naming each member that did not succeed
 * and why. A `chordTimeout` ends a chord that is still incomplete (src/canvas/settle.ts sends
 * the check). The body is sent under its frozen id, so a member that crashed between firing and
 * acking, and runs again, sends it again under the same `Nats-Msg-Id` and the broker drops it.
 * @module
 */
import type { App } from "../app/app.ts";
import { getLogger } from "../log/logger.ts";
import { msgpack } from "../protocol/codec.ts";
import { isSignatureData, type SignatureData } from "../protocol/signature_data.ts";
import { ChordError, type MemberFailure } from "./errors.ts";
import { canvasBucket, storedChordMembers } from "../nats/canvas_store.ts";
import { isCasConflict } from "../nats/errors.ts";
import { fromData } from "../app/signature.ts";

const log = getLogger("taskd.canvas");

/** What a header member's message carries in `embed.chord`. */
export interface ChordMember {
  /** The chord's id (the header's group id). */
  id: string;
  /** This member's place in the header (its result's place in the body's list). */
  index: number;
  /** How many members the header has. */
  size: number;
}

/** The counter entry. */
interface ChordState {
  size: number;
  /** One bit per member: set when it is settled (succeeded or not). */
  done: Uint8Array;
  count: number;
  /** One bit per member: set when it settled without succeeding. */
  bad?: Uint8Array;
  badCount?: number;
  bodyId: string;
  bodyTask: string;
  /** The body was sent. */
  fired?: boolean;
  /** The chord ended without its body: the ChordError's message. */
  failed?: { message: string; timeout?: boolean };
  /** `chordTimeout`, seconds, when one was given. */
  timeout?: number;
  /** When it was applied (ISO). */
  created?: string;
}

/** A chord's progress, as `taskd inspect chord <id>` shows it. */
export interface ChordProgress {
  /** The chord's id (its header's group id). */
  id: string;
  /** `running`, `succeeded` (body sent), `failed`, or `timeout`. */
  state: "running" | "succeeded" | "failed" | "timeout";
  /** How many header members it has. */
  size: number;
  /** Settled members (succeeded or not). */
  done: number;
  /** Members that did not succeed, with why. */
  failed: MemberFailure[];
  /** Ids of the members not settled yet. */
  pending: string[];
  /** The body's task id and name. */
  body: { id: string; task: string };
  /** The ChordError's message, once it failed. */
  error?: string;
  /** `chordTimeout`, seconds, when one was given. */
  timeout?: number;
  /** When it was applied (ISO 8601). */
  created?: string;
}

/** What ended a chord without its body: the body (to mark and call errbacks) and the error. */
export interface ChordFailure {
  body: SignatureData | undefined;
  error: ChordError;
}

/** Whether `x` is the chord info of a header member. */
export function isChordMember(x: unknown): x is ChordMember {
  const c = x as ChordMember;
  return typeof c === "object" && c !== null && typeof c.id === "string" && Number.isInteger(c.index) && Number.isInteger(c.size);
}

/** Creates the counter and stores the body, before any header member is sent. */
export async function createChord(app: App, id: string, size: number, body: SignatureData, timeout?: number): Promise<void> {
  const kv = await canvasBucket(app);
  const bodyId = body.options.taskId;
  if (!bodyId) throw new TypeError(`Cannot apply chord ${id}: its body has no task id; freeze it first`);
  await kv.put(`chord.${id}.body`, msgpack.encode(body));
  const bits = Math.ceil(size / 8);
  const state: ChordState = { size, done: new Uint8Array(bits), count: 0, bad: new Uint8Array(bits), badCount: 0, bodyId, bodyTask: body.task, created: new Date().toISOString() };
  if (timeout !== undefined) state.timeout = timeout;
  try {
    await kv.create(`chord.${id}`, msgpack.encode(state));
  } catch (e) {
    if (isCasConflict(e)) {
      // The same chord applied again (a retried call): carry on, its members are sent again and de-duplicated.
      const existing = await kv.get(`chord.${id}`);
      const same = existing?.operation === "PUT" && (msgpack.decode(existing.value) as ChordState).bodyId === bodyId;
      if (same) return;
      throw new TypeError(`Cannot apply chord ${id}: a chord with this id was applied already; use a new id`);
    }
    throw e;
  }
}

async function read(app: App, id: string): Promise<{ state: ChordState; revision: number } | null> {
  const kv = await canvasBucket(app);
  const entry = await kv.get(`chord.${id}`);
  if (!entry || entry.operation !== "PUT") return null;
  const state = msgpack.decode(entry.value) as ChordState;
  state.done = new Uint8Array(state.done);
  state.bad = new Uint8Array(state.bad ?? new Uint8Array(state.done.length));
  state.badCount ??= 0;
  return { state, revision: entry.revision };
}

async function update(app: App, id: string, change: (s: ChordState) => boolean): Promise<{ state: ChordState; changed: boolean } | null> {
  const kv = await canvasBucket(app);
  for (let attempt = 0;; attempt++) {
    const r = await read(app, id);
    if (!r) return null;
    if (!change(r.state)) return { state: r.state, changed: false };
    try {
      await kv.update(`chord.${id}`, msgpack.encode(r.state), r.revision);
      return { state: r.state, changed: true };
    } catch (e) {
      if (!isCasConflict(e) || attempt > 1000) throw e;
    }
  }
}

const bitOf = (index: number) => [index >> 3, 1 << (index & 7)] as const;
const ended = (s: ChordState) => !!(s.fired || s.failed);

/** Who settles a member: the task's name and id, and the root of its workflow. */
export interface Settler {
  id: string;
  taskName: string;
  rootId?: string;
}

/**
 * Header member `c` is settled: with `{ value }` when it succeeded, else with why it did not.
 * Returns what ended the chord when this settlement made it fail; sends the body when it made
 * it complete.
 */
export async function settleChordMember(app: App, c: ChordMember, outcome: { value: unknown } | { failure: MemberFailure }, by: Settler): Promise<ChordFailure | undefined> {
  const kv = await canvasBucket(app);
  const [byte, bit] = bitOf(c.index);
  const before = await read(app, c.id);
  if (!before) {
    log.error(`chord ${c.id}: its counter is gone (expired or deleted); ${by.taskName}[${by.id}] cannot complete it`);
    return;
  }
  // A member settled already keeps its first outcome (its entry is not overwritten).
  if (!(before.state.done[byte] & bit)) await kv.put(`chord.${c.id}.${c.index}`, msgpack.encode(outcome));
  const bad = "failure" in outcome;
  let madeFull = false;
  const r = await update(app, c.id, (s) => {
    madeFull = false; // this callback runs again after a lost race: judge the fresh state only
    if (ended(s) || s.done[byte] & bit) return false;
    s.done[byte] |= bit;
    s.count++;
    if (bad) {
      s.bad![byte] |= bit;
      s.badCount = (s.badCount ?? 0) + 1;
    }
    madeFull = s.count === s.size;
    return true;
  });
  if (!r) return;
  const st = r.state;
  // The update that set the last bit ends the chord; a member running again after a crash
  // finds the chord full but not ended, and ends it too (the body's Nats-Msg-Id drops a copy).
  let fromEntries = false;
  if (!(madeFull || (!r.changed && !ended(st) && st.count === st.size))) {
    // On a replicated bucket nats-server 2.9 does not serialize compare-and-set (nats-server
    // #4320, fixed in 2.9.21): two members may both write over one revision, and a count or a
    // bit is lost. There the members' stored entries are counted too: the last one stored sees
    // them all, and who failed is read from the entries, not from the bits.
    if ((app.config.replicas ?? 1) <= 1 || ended(st)) return;
    if ((await storedChordMembers(app, c.id)) < st.size) return;
    fromEntries = true;
  }
  const failures = fromEntries ? await entryFailures(app, c.id, st.size) : st.badCount ? await memberFailures(app, c.id, st) : [];
  if (failures.length === 0) {
    await fire(app, c.id, st, by);
    return;
  }
  const list = failures.map((f) => `header task ${f.taskName}[${f.taskId}] ${f.reason}`).join("; ");
  return endFailed(
    app,
    c.id,
    `Chord ${c.id} failed: ${failures.length} of ${st.size} header task${st.size === 1 ? "" : "s"} did not succeed: ${list}; the body ${st.bodyTask} did not run`,
    failures,
    [],
  );
}

/** Ends chord `id` with a ChordError when it is still incomplete (`chordTimeout`). */
export async function chordTimedOut(app: App, id: string): Promise<ChordFailure | undefined> {
  const r = await read(app, id);
  if (!r || ended(r.state) || r.state.count === r.state.size) return;
  const progress = await chordProgress(app, id);
  if (!progress) return;
  const st = r.state;
  const pending = progress.pending;
  const pendingText = pending.length ? pending.join(", ") : `${st.size - st.count} member(s) of unknown id`;
  const failedText = progress.failed.length ? `; did not succeed: ${progress.failed.map((f) => `${f.taskName}[${f.taskId}] ${f.reason}`).join("; ")}` : "";
  const message = `Chord ${id} failed: timeout after ${st.timeout}s with ${st.size - st.count} of ${st.size} header tasks pending: ${pendingText}${failedText}; the body ${st.bodyTask} did not run`;
  return endFailed(app, id, message, progress.failed, pending, true);
}

async function endFailed(app: App, id: string, message: string, failures: MemberFailure[], pending: string[], timeout = false): Promise<ChordFailure | undefined> {
  const r = await update(app, id, (s) => {
    // A timeout never ends a chord whose members are all settled: the last one ends it (and
    // may be sending the body right now).
    if (ended(s) || (timeout && s.count === s.size)) return false;
    s.failed = timeout ? { message, timeout } : { message };
    return true;
  });
  if (!r?.changed) return;
  const st = r.state;
  const error = new ChordError(message, id, { taskId: st.bodyId, taskName: st.bodyTask }, failures, pending);
  log.warn(message);
  const kv = await canvasBucket(app);
  const bodyEntry = await kv.get(`chord.${id}.body`);
  const body = bodyEntry ? msgpack.decode(bodyEntry.value) : undefined;
  return { body: isSignatureData(body) ? body : undefined, error };
}

/** The failed members of chord `id`, read from every member's stored entry. */
async function entryFailures(app: App, id: string, size: number): Promise<MemberFailure[]> {
  const kv = await canvasBucket(app);
  const out: MemberFailure[] = [];
  for (let start = 0; start < size; start += 256) {
    const slice = Array.from({ length: Math.min(256, size - start) }, (_, k) => start + k);
    await Promise.all(slice.map(async (i) => {
      const e = await kv.get(`chord.${id}.${i}`);
      const o = e && e.operation === "PUT" ? (msgpack.decode(e.value) as { failure?: MemberFailure }) : undefined;
      if (o?.failure) out.push({ ...o.failure, index: i });
    }));
  }
  return out.sort((a, b) => (a.index ?? 0) - (b.index ?? 0));
}

async function memberFailures(app: App, id: string, st: ChordState): Promise<MemberFailure[]> {
  const kv = await canvasBucket(app);
  const indexes: number[] = [];
  for (let i = 0; i < st.size; i++) {
    const [byte, bit] = bitOf(i);
    if (st.bad![byte] & bit) indexes.push(i);
  }
  return Promise.all(indexes.map(async (i) => {
    const e = await kv.get(`chord.${id}.${i}`);
    const o = e && e.operation === "PUT" ? (msgpack.decode(e.value) as { failure?: MemberFailure }) : undefined;
    return { index: i, taskId: o?.failure?.taskId ?? "?", taskName: o?.failure?.taskName ?? "?", state: o?.failure?.state ?? "FAILURE", reason: o?.failure?.reason ?? "did not succeed" };
  }));
}

async function fire(app: App, id: string, st: ChordState, by: Settler): Promise<void> {
  const kv = await canvasBucket(app);
  const bodyEntry = await kv.get(`chord.${id}.body`);
  const body = bodyEntry ? msgpack.decode(bodyEntry.value) : undefined;
  if (!isSignatureData(body)) {
    log.error(`chord ${id}: its body is gone (expired or deleted); it cannot run`);
    return;
  }
  const results: unknown[] = new Array(st.size);
  for (let start = 0; start < st.size; start += 256) {
    const slice = Array.from({ length: Math.min(256, st.size - start) }, (_, k) => start + k);
    await Promise.all(slice.map(async (i) => {
      const e = await kv.get(`chord.${id}.${i}`);
      if (!e || e.operation !== "PUT") throw new Error(`chord ${id}: the result of header member ${i} is missing`);
      results[i] = (msgpack.decode(e.value) as { value: unknown }).value;
    }));
  }
  log.info(`chord ${id}: all ${st.size} header tasks finished; sending ${body.task}[${st.bodyId}]`);
  await fromData(body, app).applyAsync([results], { parentId: by.id, rootId: by.rootId ?? by.id });
  await update(app, id, (s) => {
    if (s.fired) return false;
    s.fired = true;
    return true;
  });
}

/** The member ids of chord `id`, in order (from its saved group), or `null`. */
async function memberIds(app: App, id: string): Promise<string[] | null> {
  const kv = await canvasBucket(app);
  const e = await kv.get(`group.${id}`);
  if (!e || e.operation !== "PUT") return null;
  const saved = msgpack.decode(e.value) as { ids?: unknown };
  return Array.isArray(saved.ids) ? saved.ids.map(String) : null;
}

/**
 * The chord membership of task `taskId` whose message names group `groupId`, looked up on the
 * server: for a message whose body (and so its `embed.chord`) cannot be decoded.
 */
export async function chordMembership(app: App, groupId: string, taskId: string): Promise<ChordMember | undefined> {
  const r = await read(app, groupId);
  if (!r) return;
  const ids = await memberIds(app, groupId);
  const index = ids?.indexOf(taskId) ?? -1;
  return index < 0 ? undefined : { id: groupId, index, size: r.state.size };
}

/** Chord `id`'s progress (`taskd inspect chord`); `null` when there is no such chord. */
export async function chordProgress(app: App, id: string): Promise<ChordProgress | null> {
  const r = await read(app, id);
  if (!r) return null;
  const st = r.state;
  const ids = (await memberIds(app, id)) ?? [];
  const pending: string[] = [];
  for (let i = 0; i < st.size; i++) {
    const [byte, bit] = bitOf(i);
    if (!(st.done[byte] & bit)) pending.push(ids[i] ?? `#${i}`);
  }
  const failed = st.badCount ? await memberFailures(app, id, st) : [];
  const state = st.fired ? "succeeded" : st.failed?.timeout ? "timeout" : st.failed ? "failed" : "running";
  const out: ChordProgress = { id, state, size: st.size, done: st.count, failed, pending, body: { id: st.bodyId, task: st.bodyTask } };
  if (st.failed) out.error = st.failed.message;
  if (st.timeout !== undefined) out.timeout = st.timeout;
  if (st.created) out.created = st.created;
  return out;
}
