/**
 * What happens to a message whose execution unit died while the worker lives (a pool thread or
 * child killed by a hard time limit, a crash, out of memory): Celery's `reject_on_worker_lost`.
 * By default the message is acked and the task FAILS with `WorkerLostError`, even under
 * acksLate, for Celery's reasons (a task that crashes its executor would crash it again, in a
 * hot loop). With `acksLate` and `rejectOnWorkerLost` the message is nak'ed and runs again; the
 * worker's delivery bound (maxDeliveries) still stops a task that kills every executor.
 *
 * In the async pool the only execution unit is the worker process itself: its death is what
 * Celery calls losing the whole worker, not a child. Nothing is left to ack, so an acksLate
 * message always comes back after ack_wait (see docs/failures.md), whatever rejectOnWorkerLost
 * says. Pools that can lose a unit and live (threads, processes) call {@link settleLost}.
 * @module
 */
import type { JsMsg } from "@nats-io/jetstream";
import type { Task } from "../app/task.ts";
import { TaskdError } from "../errors/base.ts";
import { serializeError } from "../errors/errors.ts";
import type { ResultMeta } from "../protocol/result.ts";
import { states } from "../protocol/states.ts";

/** The execution unit running a task died before the task returned. */
export class WorkerLostError extends TaskdError {
  override name = "WorkerLostError" as const;
  override readonly code = "WORKER_LOST";
}

/** What {@link settleLost} did with the message. */
export type LostDisposition = "requeued" | "failed";

/** Whether a task whose unit died is run again (`requeued`) or marked FAILED (`failed`). */
export function lostDisposition(task: Task): LostDisposition {
  return task.effective("acksLate") && task.effective("rejectOnWorkerLost") ? "requeued" : "failed";
}

/**
 * Settles `m` after its execution unit died: nak it (acksLate + rejectOnWorkerLost), or ack it
 * (when not acked yet) and store FAILURE with a `WorkerLostError` saying `why`.
 * @example
 * ```ts
 * // in a thread pool, when a thread running `request` exited or was terminated:
 * await settleLost({ m, task, taskId: request.id, retries: request.retries, acked: !acksLate,
 *   hostname, why: "thread terminated by the hard time limit (30 s)", store: (meta) => app.backend.store(meta) });
 * ```
 */
export async function settleLost(o: {
  m: Pick<JsMsg, "ack" | "nak">;
  task: Task;
  taskId: string;
  retries: number;
  /** The message was already acked (early ack). */
  acked: boolean;
  hostname: string;
  why: string;
  keepAlive?: Set<unknown>;
  store: (meta: ResultMeta) => Promise<unknown>;
}): Promise<LostDisposition> {
  o.keepAlive?.delete(o.m);
  const disposition = lostDisposition(o.task);
  if (disposition === "requeued" && !o.acked) {
    o.m.nak();
    return "requeued";
  }
  if (!o.acked) o.m.ack();
  const err = serializeError(new WorkerLostError(`Worker exited prematurely: ${o.why}`, { taskId: o.taskId, taskName: o.task.name }));
  await o.store({ taskId: o.taskId, taskName: o.task.name, status: states.FAILURE, result: err, traceback: err.stack, retries: o.retries, worker: o.hostname, dateDone: new Date().toISOString() });
  return "failed";
}
