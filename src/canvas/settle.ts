/**
 * Settling the workflow of a task that will not give its workflow a result: revoked, expired,
 * dead-lettered (any reason), raised `Ignore`, or failed. Its chord counts it as not succeeded
 * (src/canvas/chord_state.ts ends the chord once every member is settled), the rest of its
 * chain is marked FAILURE with a `ChainError` naming it, and nothing it stood for is left
 * PENDING. A chord that ends without its body marks the body (and the chain after it) FAILURE
 * and calls the body's `linkError` callbacks.
 *
 * Where the membership comes from: a message's body carries `embed.chord` and `embed.chain`.
 * When the body cannot be decoded (a dead letter for its content type or encoding), the chord
 * membership is looked up on the server by task id: a header member's message names the chord
 * in `taskd-group`, and the chord's saved group lists its member ids. The rest of a chain lives
 * only in the body; a chain whose message cannot be decoded leaves its later steps unmarked.
 *
 * `chordTimeout` is fired by a built-in task, `taskd.chord_timeout`, sent with an eta when the
 * chord is applied: the delay scheduler of any worker releases it when due, and whichever worker
 * runs it ends the chord if it is still incomplete. A member whose message is simply gone from
 * the stream is only ever settled this way.
 * @module
 */
import type { App } from "../app/app.ts";
import { serializeError } from "../errors/errors.ts";
import { getLogger } from "../log/logger.ts";
import { decodeBody, decodeEnvelope, type Embed, type HeaderReader } from "../protocol/message.ts";
import { isSignatureData, type SignatureData } from "../protocol/signature_data.ts";
import { states } from "../protocol/states.ts";
import { ChainError, type ChordError, type MemberFailure } from "./errors.ts";
import { type ChordFailure, chordMembership, chordTimedOut, isChordMember, settleChordMember } from "./chord_state.ts";
import { fromData } from "../app/signature.ts";
import { guarded } from "./guard.ts";

const log = getLogger("taskd.canvas");

/** The name of the built-in task that ends a chord when its `chordTimeout` passed. */
export const CHORD_TIMEOUT_TASK = "taskd.chord_timeout";

/** How a task ended, for its workflow, when it did not succeed. */
export interface Unsuccessful {
  /** FAILURE, REVOKED, EXPIRED, DEAD_LETTERED or IGNORED. */
  state: string;
  /** A phrase after the task's name: "was revoked", "raised TypeError: boom". */
  reason: string;
}

/** The task being settled. */
export interface Settled {
  id: string;
  taskName: string;
  rootId?: string;
  /** Its `taskd-group` header: the chord id of a header member. */
  group?: string;
}

/** Signature data in a list (callbacks, the rest of a chain), skipping what is not. */
export function signatures(list: unknown): SignatureData[] {
  return Array.isArray(list) ? list.filter(isSignatureData) : [];
}

/** The task ids whose results a workflow step stands for (to mark them when it never runs). */
export function resultIds(d: SignatureData): string[] {
  if (d.subtaskType === null) return d.options.taskId ? [d.options.taskId] : [];
  if (d.subtaskType === "chord") return isSignatureData(d.kwargs.body) ? resultIds(d.kwargs.body) : [];
  if (d.subtaskType === "chain") {
    const steps = signatures(d.kwargs.tasks);
    return steps.length ? resultIds(steps[steps.length - 1]) : [];
  }
  return signatures(d.kwargs.tasks).flatMap(resultIds);
}

/**
 * Settles the workflow of task `t` (message embed `embed`, `undefined` when its body could not
 * be decoded) that ended `how`: counts it in its chord and stops its chain.
 */
export async function settleUnsuccessful(app: App, t: Settled, embed: Embed | undefined, how: Unsuccessful): Promise<void> {
  let chord = embed?.chord;
  if (!isChordMember(chord) && embed === undefined && t.group) {
    chord = await chordMembership(app, t.group, t.id).catch(() => undefined);
  }
  if (isChordMember(chord)) {
    const c = chord;
    const failure: MemberFailure = { index: c.index, taskId: t.id, taskName: t.taskName, state: how.state, reason: how.reason };
    await guarded(`settling ${t.taskName}[${t.id}] in chord ${c.id}`, async () => {
      const ended = await settleChordMember(app, c, { failure }, { id: t.id, taskName: t.taskName, rootId: t.rootId });
      if (ended) await chordFailed(app, ended, t);
    });
  }
  const rest = signatures(embed?.chain);
  if (rest.length) {
    // "failed with TypeError: boom" reads better than "raised …" in a chain's message.
    const why = how.state === states.FAILURE ? how.reason.replace(/^raised /, "failed with ") : how.reason;
    const err = new ChainError(`Chain stopped: ${t.taskName}[${t.id}] ${why}; later steps did not run`, { taskId: t.id, taskName: t.taskName });
    await stopChain(app, rest, err, t);
  }
}

/** Marks the steps `rest` of a stopped chain FAILURE with `err`; a chord member among them is settled. */
async function stopChain(app: App, rest: SignatureData[], err: ChainError | ChordError, by: Settled): Promise<void> {
  const ids = rest.flatMap(resultIds);
  await guarded(`marking the rest of the chain after ${by.taskName}[${by.id}]`, () => Promise.all(ids.map((id) => app.backend.markAsFailure(id, err))));
  // The last step of a chain that is itself a chord member carries that chord's info.
  for (const d of rest) {
    if (isChordMember(d.options.chord)) {
      const id = d.options.taskId ?? resultIds(d)[0] ?? "?";
      await settleUnsuccessful(app, { id, taskName: d.task, rootId: by.rootId }, { chord: d.options.chord }, { state: states.FAILURE, reason: `did not run: ${err.message}` });
    }
  }
}

/** A chord ended without its body: mark the body, call its errbacks, stop the chain after it. */
export async function chordFailed(app: App, ended: ChordFailure, by: Settled): Promise<void> {
  const { body, error } = ended;
  const bodyId = error.taskId ?? body?.options.taskId;
  const bodyTask = error.taskName ?? body?.task ?? "?";
  if (bodyId) await guarded(`storing the failure of chord ${error.chordId}`, () => app.backend.markAsFailure(bodyId, error, { taskName: bodyTask }));
  if (!body) return;
  const e = serializeError(error);
  const ids = { parentId: by.id, rootId: by.rootId ?? by.id };
  for (const d of signatures(toList(body.options.linkError))) {
    await guarded(`errback ${d.task} of chord ${error.chordId}`, () => fromData(d, app).applyAsync([bodyId, e], ids));
  }
  const rest = signatures(body.options.chain);
  if (rest.length) {
    const err = new ChainError(`Chain stopped: ${error.message}`, { taskId: bodyId, taskName: bodyTask });
    await stopChain(app, rest, err, by);
  }
  if (isChordMember(body.options.chord)) {
    await settleUnsuccessful(app, { id: bodyId ?? "?", taskName: bodyTask, rootId: by.rootId }, { chord: body.options.chord }, { state: states.FAILURE, reason: `raised ChordError: ${error.message}` });
  }
}

function toList(x: unknown): unknown[] {
  return Array.isArray(x) ? x : x ? [x] : [];
}

/**
 * The worker's call for a message it will not run (discarded as revoked or expired, or
 * dead-lettered): reads what it can of the message and settles its workflow. Errbacks run for
 * a dead letter (a FAILURE is stored for it), not for a revoked or expired task (as Celery).
 * Never throws.
 */
export async function settleUnrun(app: App, get: HeaderReader, data: Uint8Array, how: Unsuccessful): Promise<void> {
  try {
    let env;
    try {
      env = decodeEnvelope(get);
    } catch {
      return; // no task id: nothing of a workflow can be named
    }
    let embed: Embed | undefined;
    try {
      embed = decodeBody(get, data).embed;
    } catch {
      embed = undefined;
    }
    if (embed && !embed.chord && !signatures(embed.chain).length && !signatures(embed.errbacks).length) return;
    if (!embed && !env.group) return;
    const t: Settled = { id: env.id, taskName: env.task, rootId: env.rootId, group: env.group };
    if (how.state === "DEAD_LETTERED" && embed) {
      const e = { type: "DeadLettered", message: `${env.task}[${env.id}] ${how.reason}` };
      for (const d of signatures(embed.errbacks)) {
        await guarded(`errback ${d.task} of ${env.task}[${env.id}]`, () => fromData(d, app).applyAsync([env.id, e], { parentId: env.id, rootId: env.rootId ?? env.id }));
      }
    }
    await settleUnsuccessful(app, t, embed, how);
  } catch (e) {
    log.error(`settling the workflow of a message that did not run failed: ${(e as Error)?.message ?? e}`);
  }
}

/** Ends chord `id` if it is still incomplete: the body of the built-in `taskd.chord_timeout`. */
export async function endChordOnTimeout(app: App, id: string): Promise<void> {
  const ended = await chordTimedOut(app, id);
  if (ended) await chordFailed(app, ended, { id: `${CHORD_TIMEOUT_TASK}:${id}`, taskName: CHORD_TIMEOUT_TASK });
}

/** Registers the canvas's built-in tasks on `app` (the worker does, for each app it serves). */
export function registerCanvasTasks(app: App): void {
  if (app.tasks.has(CHORD_TIMEOUT_TASK)) return;
  app.task({ name: CHORD_TIMEOUT_TASK, ignoreResult: true, typing: false }, async (id: string) => {
    await endChordOnTimeout(app, id);
  });
}
