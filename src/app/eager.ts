/**
 * Eager runs (`task.apply()`, Celery's `apply`): the task runs in this process through the same
 * trace as on a worker, retrying in place, and its outcome becomes an `EagerResult`.
 * @module
 */
import type { Task } from "./task.ts";
import { Request } from "./request.ts";
import type { ApplyOptions } from "./call.ts";
import { trace } from "./trace.ts";
import { serializeError } from "../errors/errors.ts";
import { states } from "../protocol/states.ts";
import { EagerResult } from "../result/eager_result.ts";

/** Runs `task` with `args` here, retrying in place, and returns its EagerResult. */
export async function applyEager(task: Task, args: unknown[], options: ApplyOptions = {}): Promise<EagerResult> {
  const id = options.taskId ?? crypto.randomUUID();
  const kwargs = options.kwargs ?? {};
  for (let retries = options.retries ?? 0;; retries++) {
    const Req = task.Request ?? Request;
    const request = new Req({ id, taskName: task.name, args, kwargs, isEager: true, retries, rootId: id, correlationId: id, ignoreResult: options.ignoreResult ?? task.effective("ignoreResult") });
    const outcome = await trace(task, request);
    if (outcome.kind === "retry") continue;
    const meta = { taskId: id, taskName: task.name, retries, dateDone: new Date().toISOString() };
    if (outcome.kind === "success") return new EagerResult(id, { ...meta, status: states.SUCCESS, result: outcome.value });
    if (outcome.kind === "ignored") return new EagerResult(id, { ...meta, status: states.PENDING, result: null });
    const error = serializeError(outcome.kind === "rejected" ? outcome.reject : outcome.error);
    return new EagerResult(id, { ...meta, status: states.FAILURE, result: error, traceback: error.stack });
  }
}
