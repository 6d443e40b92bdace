/**
 * Workflows run in process (`apply()`, or any `applyAsync()` under `taskAlwaysEager`), as
 * Celery's `task_always_eager` runs them: a chain step by step, each result put first in the
 * next; a group member by member; a chord's header, then its body with the list of results —
 * or, when a member did not succeed, a `ChordError` naming each one and the body's `linkError`
 * callbacks. Nothing touches the broker or the canvas bucket.
 * @module
 */
import type { Signature } from "../app/signature.ts";
import { fromData } from "../app/signature.ts";
import { serializeError } from "../errors/errors.ts";
import { isSignatureData, toSignatureList } from "../protocol/signature_data.ts";
import { states } from "../protocol/states.ts";
import { EagerResult } from "../result/eager_result.ts";
import type { MemberFailure } from "./errors.ts";

/** Why an eager result did not succeed, as a phrase after the task's name. */
export function eagerReason(r: EagerResult): { state: string; reason: string } {
  if (r.meta.status === states.PENDING) return { state: "IGNORED", reason: "raised Ignore" };
  const e = r.meta.result as { type?: string; message?: string } | null;
  return { state: r.meta.status, reason: `raised ${e?.type ?? "Error"}: ${e?.message ?? ""}` };
}

/** A failed EagerResult holding `error`, for task `id` of `taskName`. */
export function eagerFailure(id: string, taskName: string, error: Error): EagerResult {
  const e = serializeError(error);
  return new EagerResult(id, { taskId: id, taskName, status: states.FAILURE, result: e, traceback: e.stack, dateDone: new Date().toISOString() });
}

/** The member failures among eager header results. */
export function eagerFailures(members: Signature[], results: EagerResult[]): MemberFailure[] {
  const out: MemberFailure[] = [];
  results.forEach((r, index) => {
    if (r.meta.status === states.SUCCESS) return;
    out.push({ index, taskId: r.id, taskName: r.meta.taskName ?? members[index]?.task ?? "?", ...eagerReason(r) });
  });
  return out;
}

/** Calls the `linkError` callbacks in `list` here with `(id, error)`. */
export async function eagerErrbacks(list: unknown, id: string, error: Error, app: Signature["app"]): Promise<void> {
  for (const d of (toSignatureList(list, "linkError") ?? []).filter(isSignatureData)) await fromData(d, app).apply([id, serializeError(error)]);
}
