/**
 * Sending a call of a task: the client's checks (arity, validate mode), flow-control keys
 * (docs/flow.md), the message, unique tasks sent once, and the result handle; or, under
 * `taskAlwaysEager`, the run in this process.
 * @module
 */
import type { App } from "./app.ts";
import type { Task } from "./task.ts";
import { type ApplyOptions, buildMessage, resultIgnored } from "./call.ts";
import { applyEager } from "./eager.ts";
import { callFlow } from "./flow.ts";
import { sendOnce } from "./unique.ts";
import { checkCall } from "../validate/bind.ts";
import { validationOf } from "../validate/validate.ts";
import { AsyncResult } from "../result/async_result.ts";
import type { EagerResult } from "../result/eager_result.ts";

/** `task.applyAsync(args, options)` through `app`: checks, then sends (or runs eagerly). */
export async function sendCall(app: App, task: Task, args: unknown[], options: ApplyOptions = {}): Promise<AsyncResult | EagerResult> {
  if (app.config.taskAlwaysEager) return applyEager(task, args, options);
  const kwargs = options.kwargs ?? {};
  if (task.arity && task.effective("typing")) checkCall(task, args, kwargs);
  const spec = validationOf(task);
  if (spec) await spec.checkCall(args, kwargs);
  // Keys are computed here, before anything is sent: a key function that throws fails the call.
  const flow = callFlow(task.name, task, args, kwargs, options.priority);
  const callOptions = task.expires !== undefined && options.expires === undefined ? { ...options, expires: task.expires } : options;
  const msg = buildMessage(task.name, app.queueFor(task.name, task, options), args, { ...callOptions, headers: { ...options.headers, ...flow.headers } });
  const tl: [number | null, number | null] = [options.softTimeLimit ?? null, options.timeLimit ?? null];
  if (tl[0] !== null || tl[1] !== null) msg.timelimit = tl;
  // A unique duplicate gets the existing task's result handle, and nothing is sent (docs/flow.md).
  const id = await sendOnce(() => app.uniqueMarkers, flow.unique, msg.id, () =>
    app.publish(msg, { serializer: options.serializer ?? task.effective("serializer"), compression: options.compression ?? task.effective("compression") }));
  return new AsyncResult(id, app, task.name, resultIgnored(task, options));
}

/** `app.sendTask(name, args, options)`: a call by name, without the task's module. */
export async function sendByName(app: App, name: string, args: unknown[], options: ApplyOptions): Promise<AsyncResult> {
  if (typeof name !== "string" || !name) throw new TypeError("Cannot send task: its name must be a non-empty string");
  const task = app.tasks.get(name);
  const flow = callFlow(name, undefined, args, options.kwargs ?? {}, options.priority ?? task?.priority);
  const msg = buildMessage(name, app.queueFor(name, task, options), args, { ...options, headers: { ...options.headers, ...flow.headers } });
  await app.publish(msg, {
    serializer: options.serializer ?? task?.effective("serializer") ?? app.config.taskSerializer,
    compression: options.compression ?? task?.effective("compression") ?? app.config.taskCompression,
  });
  return new AsyncResult(msg.id, app, name, task ? resultIgnored(task, options) : options.ignoreResult === true);
}
