/**
 * What a worker does after a task's outcome is stored and before its message is acked: call
 * its callbacks (`link`, with the result put first unless immutable) or errbacks (`linkError`,
 * with the failed task's id and error), send the next step of its chain, or count it in its
 * chord. A failure here is logged and never fails the worker or the finished task.
 * @module
 */
import type { App } from "../app/app.ts";
import type { Request } from "../app/request.ts";
import { serializeError } from "../errors/errors.ts";
import { getLogger } from "../log/logger.ts";
import type { Outcome } from "../app/trace.ts";
import { isSignatureData, type SignatureData } from "../protocol/signature_data.ts";
import { ChainError } from "./errors.ts";
import { chordMemberDone, chordMemberFailed, isChordMember } from "./chord_state.ts";
import { fromData } from "../app/signature.ts";
// Registers chain, group and chord so their data can be rebuilt here.
import "./chain.ts";
import "./group.ts";
import "./chord.ts";

const log = getLogger("taskd.canvas");

function signatures(list: unknown): SignatureData[] {
  return Array.isArray(list) ? list.filter(isSignatureData) : [];
}

async function guarded(what: string, fn: () => Promise<unknown>): Promise<void> {
  try {
    await fn();
  } catch (e) {
    log.error(`${what} failed: ${(e as Error)?.message ?? e}`);
  }
}

/** The task ids whose results a workflow step stands for (to mark them when the chain stops). */
function resultIds(d: SignatureData): string[] {
  if (d.subtaskType === null) return d.options.taskId ? [d.options.taskId] : [];
  if (d.subtaskType === "chord") return isSignatureData(d.kwargs.body) ? resultIds(d.kwargs.body) : [];
  if (d.subtaskType === "chain") {
    const steps = signatures(d.kwargs.tasks);
    return steps.length ? resultIds(steps[steps.length - 1]) : [];
  }
  return signatures(d.kwargs.tasks).flatMap(resultIds);
}

/** Runs the follow-ups of `request` for outcome `o` (on the worker, after the result is stored). */
export async function runFollowUps(app: App, request: Request, o: Outcome): Promise<void> {
  const hasWork = request.callbacks?.length || request.errbacks?.length || request.chain?.length || request.chord;
  if (!hasWork) return;
  const ids = { parentId: request.id, rootId: request.rootId ?? request.id };
  if (o.kind === "success") {
    if (isChordMember(request.chord)) {
      const c = request.chord;
      await guarded(`counting ${request.taskName}[${request.id}] in chord ${c.id}`, () => chordMemberDone(app, c, o.value, request));
    }
    for (const d of signatures(request.callbacks)) {
      await guarded(`callback ${d.task} of ${request.taskName}[${request.id}]`, () => fromData(d, app).applyAsync([o.value], ids));
    }
    const rest = signatures(request.chain);
    if (rest.length) {
      const [next, ...after] = rest;
      await guarded(`next chain step ${next.task} after ${request.taskName}[${request.id}]`, () => fromData(next, app).applyAsync([o.value], { ...ids, chain: after.length ? after : undefined }));
    }
    return;
  }
  const failed = o.kind === "failure" || (o.kind === "rejected" && !o.reject.requeue);
  if (!failed) return;
  const error = o.kind === "failure" ? o.error : o.reject;
  const e = serializeError(error);
  for (const d of signatures(request.errbacks)) {
    await guarded(`errback ${d.task} of ${request.taskName}[${request.id}]`, () => fromData(d, app).applyAsync([request.id, e], ids));
  }
  const stopped = signatures(request.chain).flatMap(resultIds);
  if (isChordMember(request.chord)) {
    const c = request.chord;
    await guarded(`failing chord ${c.id}`, async () => {
      stopped.push(...(await chordMemberFailed(app, c, error, request)));
    });
  }
  if (stopped.length) {
    const err = new ChainError(`Chain stopped: ${request.taskName}[${request.id}] failed with ${e.type}: ${e.message}; later steps did not run`, {
      taskId: request.id,
      taskName: request.taskName,
    });
    await guarded(`marking the rest of the chain after ${request.taskName}[${request.id}]`, () => Promise.all(stopped.map((id) => app.backend.markAsFailure(id, err))));
  }
}
