/**
 * The current task: which task and request this async call chain runs for. Task loggers,
 * `self.request`, subtask calls (parent/root ids) and `disableSyncSubtasks` read it.
 * @module
 */
import { AsyncLocalStorage } from "node:async_hooks";

/** What is known while a task runs. */
export interface TaskContext {
  /** The task object. */
  task: { name: string };
  /** Its request. */
  request: { id: string; rootId?: string; isEager?: boolean };
}

const storage = new AsyncLocalStorage<TaskContext>();

/** Runs `fn` as the body of a task. */
export function runInTask<T>(ctx: TaskContext, fn: () => T): T {
  return storage.run(ctx, fn);
}

/** The task this code runs in, if any. */
export function currentTask(): TaskContext | undefined {
  return storage.getStore();
}
