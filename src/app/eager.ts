/**
 * Eager runs (`task.apply()`, Celery's `apply`): the task runs in this process through the same
 * trace as on a worker, retrying in place, and its outcome becomes an `EagerResult`.
 * @module
 */
import type { Task } from "./task.ts";
import { Request } from "./request.ts";
import type { ApplyOptions } from "./call.ts";
import { type Outcome, trace } from "./trace.ts";
import { type Batches, isBatches, SimpleRequest } from "./batches.ts";
import { currentTask } from "../context/task_context.ts";
import { serializeError } from "../errors/errors.ts";
import { states } from "../protocol/states.ts";
import { EagerResult } from "../result/eager_result.ts";

/** Runs `task` with `args` here, retrying in place, and returns its EagerResult. */
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
    const outcome = isBatches(task) ? await traceBatchOfOne(task, request) : await trace(task, request);
    if (outcome.kind === "retry") continue;
    const meta = { taskId: id, taskName: task.name, retries, dateDone: new Date().toISOString() };
    if (outcome.kind === "success") return new EagerResult(id, { ...meta, status: states.SUCCESS, result: outcome.value });
    if (outcome.kind === "ignored") return new EagerResult(id, { ...meta, status: states.PENDING, result: null });
    const error = serializeError(outcome.kind === "rejected" ? outcome.reject : outcome.error);
    return new EagerResult(id, { ...meta, status: states.FAILURE, result: error, traceback: error.stack });
  }
}

function traceBatchOfOne(task: Batches, request: Request): Promise<Outcome> {
  const one = new SimpleRequest(request.id, task.name, request.args, request.kwargs, { queue: "", subject: "", redelivered: false, deliveryCount: 1 }, "", request.retries);
  // The same trace, around the batch function called with one request.
  const batch = Object.assign(Object.create(task), { run: () => task.run([one]) }) as Batches;
  return trace(batch, request);
}
