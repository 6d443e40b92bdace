/**
 * Eager runs (`task.apply()`, Celery's `apply`, and every call under `taskAlwaysEager`): the
 * task runs in this process through the same trace as on a worker, retrying in place, and its
 * outcome becomes an `EagerResult`. As Celery's `task_always_eager`, the workflow runs in
 * process too: `link` callbacks get the result, `linkError` callbacks get `(id, error)`, and the
 * rest of a chain (`options.chain`) runs step by step. Chains, groups and chords applied eagerly
 * run through their own `apply()` (src/canvas/). A Batches task applied eagerly runs its
 * function on a batch of that one request.
 * @module
 */
import type { Task } from "./task.ts";
import { Request } from "./request.ts";
import type { ApplyOptions } from "./call.ts";
import { type Outcome, trace } from "./trace.ts";
import type { Batches } from "./batches.ts";
import { SimpleRequest } from "./simple_request.ts";
import { currentTask } from "../context/task_context.ts";
import { serializeError } from "../errors/errors.ts";
import { states } from "../protocol/states.ts";
import { isSignatureData, toSignatureList } from "../protocol/signature_data.ts";
import { EagerResult } from "../result/eager_result.ts";
import { fromData } from "./signature.ts";

/** Runs `task` with `args` here, retrying in place, then its callbacks and chain; returns its EagerResult. */
export async function applyEager(task: Task, args: unknown[], options: ApplyOptions = {}): Promise<EagerResult> {
  const id = options.taskId ?? crypto.randomUUID();
  const kwargs = options.kwargs ?? {};
  // Nested in another run (eager or not): that run is the parent, its root the root (Celery's apply).
  const parent = currentTask()?.request;
  const family = parent ? { parentId: parent.id, rootId: parent.rootId ?? parent.id } : { rootId: id };
  for (let retries = options.retries ?? 0;; retries++) {
    const Req = task.Request ?? Request;
    const request = new Req({ id, taskName: task.name, args, kwargs, isEager: true, retries, ...family, correlationId: id, ignoreResult: options.ignoreResult ?? task.effective("ignoreResult") });
    // A Batches task applied eagerly runs its function on a batch of this one request.
    const outcome = (task as Partial<Batches>).batches === true ? await traceBatchOfOne(task as Batches, request) : await trace(task, request);
    if (outcome.kind === "retry") continue;
    const meta = { taskId: id, taskName: task.name, retries, dateDone: new Date().toISOString() };
    if (outcome.kind === "success") {
      const result = new EagerResult(id, { ...meta, status: states.SUCCESS, result: outcome.value });
      await eagerFollowUps(task, options, outcome.value);
      return result;
    }
    if (outcome.kind === "ignored") return new EagerResult(id, { ...meta, status: states.PENDING, result: null });
    const error = serializeError(outcome.kind === "rejected" ? outcome.reject : outcome.error);
    if (outcome.kind !== "rejected" || !outcome.reject.requeue) {
      for (const d of signaturesOf(options.linkError)) await fromData(d, task.app).apply([id, error]);
    }
    return new EagerResult(id, { ...meta, status: states.FAILURE, result: error, traceback: error.stack });
  }
}

function signaturesOf(list: unknown) {
  return (toSignatureList(list, "link") ?? []).filter(isSignatureData);
}

/** The in-process follow-ups of a success: link callbacks, then the next step of the chain. */
async function eagerFollowUps(task: Task, options: ApplyOptions, value: unknown): Promise<void> {
  for (const d of signaturesOf(options.link)) await fromData(d, task.app).apply([value]);
  const rest = signaturesOf(options.chain);
  if (rest.length) {
    const [next, ...after] = rest;
    await fromData(next, task.app).apply([value], { chain: after.length ? after : undefined });
  }
}

function traceBatchOfOne(task: Batches, request: Request): Promise<Outcome> {
  const one = new SimpleRequest(request.id, task.name, request.args, request.kwargs, { queue: "", subject: "", redelivered: false, deliveryCount: 1 }, "", request.retries);
  // The same trace, around the batch function called with one request.
  const batch = Object.assign(Object.create(task), { run: () => task.run([one]) }) as Batches;
  return trace(batch, request);
}
