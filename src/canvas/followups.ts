/**
 * What a worker does after a task's outcome is stored and before its message is acked: call
 * its callbacks (`link`, with the result put first unless immutable) or errbacks (`linkError`,
 * with the failed task's id and error), send the next step of its chain, or settle it in its
 * chord. A task that ends without succeeding — failed, terminated (revoked while running) or
 * `Ignore`d — is settled as such in its chord and stops its chain (src/canvas/settle.ts). Each
 * step rides out a short broker outage (src/canvas/guard.ts); one that still fails makes
 * {@link runFollowUps} answer `false` after a success, so that a late-acked message goes back for
 * redelivery, whose attempt runs the follow-ups again.
 * @module
 */
import type { App } from "../app/app.ts";
import type { Request } from "../app/request.ts";
import { serializeError } from "../errors/errors.ts";
import type { Outcome } from "../app/trace.ts";
import { states } from "../protocol/states.ts";
import { isChordMember, settleChordMember } from "./chord_state.ts";
import { chordFailed, settleUnsuccessful, signatures, type Unsuccessful } from "./settle.ts";
import { fromData } from "../app/signature.ts";
import { guarded } from "./guard.ts";
// Registers chain, group and chord so their data can be rebuilt here.
import "./chain.ts";
import "./group.ts";
import "./chord.ts";

/** How an outcome that is not a success ends the task for its workflow; `null` when it does not (a retry, a requeue). */
function unsuccessful(o: Outcome): Unsuccessful | null {
  switch (o.kind) {
    case "failure": {
      const e = serializeError(o.error);
      return { state: states.FAILURE, reason: `raised ${e.type}: ${e.message}` };
    }
    case "rejected":
      return o.reject.requeue ? null : { state: "REJECTED", reason: `was rejected: ${o.reject.reason}` };
    case "revoked":
      return { state: states.REVOKED, reason: `was revoked while running (${o.error.message})` };
    case "ignored":
      return { state: "IGNORED", reason: "raised Ignore" };
    default:
      return null;
  }
}

/**
 * Runs the follow-ups of `request` for outcome `o` (on the worker, after the result is stored).
 * Resolves `false` when a step failed after its retries (the caller may deliver the message
 * again to repeat them), `true` when every step ran.
 */
export async function runFollowUps(app: App, request: Request, o: Outcome): Promise<boolean> {
  const hasWork = request.callbacks?.length || request.errbacks?.length || request.chain?.length || request.chord;
  if (!hasWork) return true;
  let complete = true;
  const step = async (what: string, fn: () => Promise<unknown>) => {
    if (!await guarded(what, fn)) complete = false;
  };
  const ids = { parentId: request.id, rootId: request.rootId ?? request.id };
  const by = { id: request.id, taskName: request.taskName, rootId: request.rootId };
  if (o.kind === "success") {
    if (isChordMember(request.chord)) {
      const c = request.chord;
      await step(`counting ${request.taskName}[${request.id}] in chord ${c.id}`, async () => {
        const ended = await settleChordMember(app, c, { value: o.value }, by);
        if (ended) await chordFailed(app, ended, by);
      });
    }
    for (const d of signatures(request.callbacks)) {
      await step(`callback ${d.task} of ${request.taskName}[${request.id}]`, () => fromData(d, app).applyAsync([o.value], ids));
    }
    const rest = signatures(request.chain);
    if (rest.length) {
      const [next, ...after] = rest;
      await step(`next chain step ${next.task} after ${request.taskName}[${request.id}]`, () => fromData(next, app).applyAsync([o.value], { ...ids, chain: after.length ? after : undefined }));
    }
    return complete;
  }
  const how = unsuccessful(o);
  if (!how) return true;
  // Errbacks run for a failure (and a Reject without requeue), not for a revoke or an Ignore (as Celery).
  if (o.kind === "failure" || o.kind === "rejected") {
    const e = serializeError(o.kind === "failure" ? o.error : o.reject);
    for (const d of signatures(request.errbacks)) {
      await step(`errback ${d.task} of ${request.taskName}[${request.id}]`, () => fromData(d, app).applyAsync([request.id, e], ids));
    }
  }
  await settleUnsuccessful(app, { ...by, group: request.group }, { chord: request.chord, chain: request.chain }, how);
  return complete;
}
