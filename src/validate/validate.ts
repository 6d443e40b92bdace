/**
 * Validate mode (`validate: true`): valibot schemas for a task's arguments and return value.
 * @module
 */
import type { Task } from "../app/task.ts";

/** How a task's calls and results are checked in validate mode. */
export interface ValidationSpec {
  /** Worker side: parse args and kwargs, returning what the body is called with. */
  parseArgs(args: unknown[], kwargs: Record<string, unknown>): Promise<unknown[]>;
  /** Worker side: parse the return value into plain data. */
  parseReturn(value: unknown): Promise<unknown>;
  /** Client side: check a call before it is sent. */
  checkCall(args: unknown[], kwargs: Record<string, unknown>): Promise<void>;
}

/** The validation of `task`, or `undefined` when it is not in validate mode. */
export function validationOf(task: Task): ValidationSpec | undefined {
  if (!task.validate) return undefined;
  throw new TypeError(`Cannot validate ${task.name}: validate mode is not built yet`);
}
