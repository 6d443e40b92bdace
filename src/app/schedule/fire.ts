/**
 * Publishing one firing of a schedule: a task message with the deterministic task id
 * `<schedule>.<due>` and `Nats-Msg-Id` `<schedule>:<due ISO>` (so copies sent by other beats
 * are dropped by the stream), and the headers `taskd-schedule`, `taskd-scheduled-for` and
 * `taskd-backfilled` that become `request.schedule` on the worker.
 * @module
 */
import type { App } from "../app.ts";
import { buildMessage } from "../call.ts";
import { H } from "../../protocol/message.ts";
import { firingMsgId, firingTaskId, type StoredSchedule } from "./definition.ts";

/** What {@link publishFiring} sent. */
export interface Fired {
  /** The task id. */
  taskId: string;
  /** The due time it fired for (ms). */
  due: number;
  /** A catch-up run. */
  backfilled: boolean;
}

/**
 * Publishes the firing of `def` for `due` (ms). With `manual` (`schedule run`), the task id is
 * fresh and the message is not de-duplicated against the rule's firings.
 */
export async function publishFiring(app: App, def: StoredSchedule, due: number, backfilled: boolean, manual = false): Promise<Fired> {
  const o = def.options ?? {};
  const taskId = manual ? `${def.id}.run.${crypto.randomUUID()}` : firingTaskId(def.id, due);
  const task = app.tasks.get(def.task);
  const msg = buildMessage(def.task, app.queueFor(def.task, task, { queue: o.queue }), def.args ?? [], {
    taskId,
    kwargs: def.kwargs ?? {},
    // overlap "skip" reads the run's state from the result backend: it must be stored.
    ignoreResult: def.overlap === "skip" ? false : o.ignoreResult,
    expires: o.expires !== undefined ? new Date(due + o.expires * 1000) : undefined,
    timeLimit: o.timeLimit,
    softTimeLimit: o.softTimeLimit,
    headers: {
      ...o.headers,
      [H.schedule]: def.id,
      [H.scheduledFor]: new Date(due).toISOString(),
      [H.backfilled]: backfilled ? "1" : "0",
    },
  });
  if (!manual) msg.dedupeKey = firingMsgId(def.id, due);
  await app.publish(msg, {
    serializer: task?.effective("serializer") ?? app.config.taskSerializer,
    compression: task?.effective("compression") ?? app.config.taskCompression,
  });
  return { taskId, due, backfilled };
}
