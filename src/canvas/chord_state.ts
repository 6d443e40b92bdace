/**
 * Counting a chord's header on the server. `chord.<id>` in the canvas bucket holds the chord's
 * size and a bitset of the header members that finished; each finished member stores its
 * result under `chord.<id>.<index>`, then sets its bit with compare-and-set on the entry's
 * revision. Setting a bit twice changes nothing, so a member that runs again (redelivered,
 * retried after a crash) is counted once; the update that sets the last bit fires the body,
 * exactly one update can do that, and no one polls. The body is sent under its frozen id, so a
 * member that crashed between firing and acking, and runs again, sends it again under the same
 * `Nats-Msg-Id` and the broker drops the copy.
 * @module
 */
import type { App } from "../app/app.ts";
import type { Request } from "../app/request.ts";
import { serializeError } from "../errors/errors.ts";
import { getLogger } from "../log/logger.ts";
import { msgpack } from "../protocol/codec.ts";
import { isSignatureData, type SignatureData } from "../protocol/signature_data.ts";
import { ChordError } from "./errors.ts";
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
  /** One bit per member: set when it finished. */
  done: Uint8Array;
  count: number;
  bodyId: string;
  bodyTask: string;
  fired?: boolean;
  failed?: { taskId: string; taskName: string; message: string };
}

/** Whether `x` is the chord info of a header member. */
export function isChordMember(x: unknown): x is ChordMember {
  const c = x as ChordMember;
  return typeof c === "object" && c !== null && typeof c.id === "string" && Number.isInteger(c.index) && Number.isInteger(c.size);
}

/** Creates the counter and stores the body, before any header member is sent. */
export async function createChord(app: App, id: string, size: number, body: SignatureData): Promise<void> {
  const kv = await canvasBucket(app);
  const bodyId = body.options.taskId;
  if (!bodyId) throw new TypeError(`Cannot apply chord ${id}: its body has no task id; freeze it first`);
  await kv.put(`chord.${id}.body`, msgpack.encode(body));
  const state: ChordState = { size, done: new Uint8Array(Math.ceil(size / 8)), count: 0, bodyId, bodyTask: body.task };
  try {
    await kv.create(`chord.${id}`, msgpack.encode(state));
  } catch (e) {
    if (isCasConflict(e)) throw new TypeError(`Cannot apply chord ${id}: a chord with this id was applied already; use a new id`);
    throw e;
  }
}

async function update(app: App, id: string, change: (s: ChordState) => boolean): Promise<{ state: ChordState; changed: boolean } | null> {
  const kv = await canvasBucket(app);
  for (let attempt = 0;; attempt++) {
    const entry = await kv.get(`chord.${id}`);
    if (!entry || entry.operation !== "PUT") return null;
    const state = msgpack.decode(entry.value) as ChordState;
    state.done = new Uint8Array(state.done);
    if (!change(state)) return { state, changed: false };
    try {
      await kv.update(`chord.${id}`, msgpack.encode(state), entry.revision);
      return { state, changed: true };
    } catch (e) {
      if (!isCasConflict(e) || attempt > 1000) throw e;
    }
  }
}

/** A header member succeeded with `value`: count it, and fire the body if it was the last. */
export async function chordMemberDone(app: App, c: ChordMember, value: unknown, request: Request): Promise<void> {
  const kv = await canvasBucket(app);
  await kv.put(`chord.${c.id}.${c.index}`, msgpack.encode({ value }));
  const byte = c.index >> 3;
  const bit = 1 << (c.index & 7);
  let madeFull = false;
  const r = await update(app, c.id, (s) => {
    madeFull = false; // this callback runs again after a lost race: judge the fresh state only
    if (s.failed || s.done[byte] & bit) return false;
    s.done[byte] |= bit;
    s.count++;
    madeFull = s.count === s.size;
    return true;
  });
  if (!r) {
    log.error(`chord ${c.id}: its counter is gone (expired or deleted); ${request.taskName}[${request.id}] cannot complete it`);
    return;
  }
  const st = r.state;
  // The update that set the last bit fires; a member running again after a crash finds the
  // chord full but not fired, and fires too (the body's Nats-Msg-Id drops a second copy).
  if (!(madeFull || (!r.changed && !st.failed && !st.fired && st.count === st.size))) {
    // On a replicated bucket nats-server 2.9 does not serialize compare-and-set (nats-server
    // #4320, fixed in 2.9.21): two members may both write over one revision and a count is lost.
    // There, the members' stored results are counted as well: the last one stored sees them all.
    if ((app.config.replicas ?? 1) <= 1 || st.failed || st.fired) return;
    if ((await storedChordMembers(app, c.id)) < st.size) return;
  }
  await fire(app, c, st, request);
}

async function fire(app: App, c: ChordMember, st: ChordState, request: Request): Promise<void> {
  const kv = await canvasBucket(app);
  const bodyEntry = await kv.get(`chord.${c.id}.body`);
  const body = bodyEntry ? msgpack.decode(bodyEntry.value) : undefined;
  if (!isSignatureData(body)) {
    log.error(`chord ${c.id}: its body is gone (expired or deleted); it cannot run`);
    return;
  }
  const results: unknown[] = new Array(st.size);
  for (let start = 0; start < st.size; start += 256) {
    const slice = Array.from({ length: Math.min(256, st.size - start) }, (_, k) => start + k);
    await Promise.all(slice.map(async (i) => {
      const e = await kv.get(`chord.${c.id}.${i}`);
      if (!e || e.operation !== "PUT") throw new Error(`chord ${c.id}: the result of header member ${i} is missing`);
      results[i] = (msgpack.decode(e.value) as { value: unknown }).value;
    }));
  }
  log.info(`chord ${c.id}: all ${st.size} header tasks finished; sending ${body.task}[${st.bodyId}]`);
  await fromData(body, app).applyAsync([results], { parentId: request.id, rootId: request.rootId ?? request.id });
  await update(app, c.id, (s) => {
    if (s.fired) return false;
    s.fired = true;
    return true;
  });
}

/** A header member failed for good: fail the chord once, storing a ChordError as the body's result. */
export async function chordMemberFailed(app: App, c: ChordMember, error: unknown, request: Request): Promise<string[]> {
  const e = serializeError(error);
  const failed = { taskId: request.id, taskName: request.taskName, message: `${e.type}: ${e.message}` };
  const r = await update(app, c.id, (s) => {
    if (s.failed || s.fired) return false;
    s.failed = failed;
    return true;
  });
  if (!r?.changed) return [];
  const st = r.state;
  const err = new ChordError(
    `Chord ${c.id} failed: header task ${request.taskName}[${request.id}] raised ${failed.message}; the body ${st.bodyTask} did not run`,
    c.id,
    { taskId: st.bodyId, taskName: st.bodyTask },
  );
  log.warn(err.message);
  await app.backend.markAsFailure(st.bodyId, err, { taskName: st.bodyTask });
  const kv = await canvasBucket(app);
  const bodyEntry = await kv.get(`chord.${c.id}.body`);
  const body = bodyEntry ? msgpack.decode(bodyEntry.value) : undefined;
  // The steps a chain had after the chord fail too; the caller (followups) marks them.
  return isSignatureData(body) && Array.isArray(body.options.chain) ? (body.options.chain as SignatureData[]).map((d) => d.options.taskId ?? "").filter(Boolean) : [];
}
