/**
 * Types for calls by name (`app.sendTask<typeof add>("tasks.add", [2, 3])`): a client that
 * does not import the worker's module still gets its arguments and `get()` typed, from
 * `import type` of the task (which loads nothing) or from a function signature written out.
 * @module
 */
import type { Task } from "./task.ts";
import type { ApplyOptions } from "./call.ts";

/**
 * The arguments of a task given as `typeof` its `Task` (what `app.task()` returned) or as a
 * function type; `unknown[]` when the type says nothing.
 * @example
 * ```ts
 * type A = TaskArgs<(x: number, y: number) => number>; // [x: number, y: number]
 * ```
 */
export type TaskArgs<F> = F extends Task<infer A, infer _R> ? A : F extends (...args: infer A) => unknown ? A : unknown[];

/**
 * What `get()` gives for a task given as `typeof` its `Task` or as a function type (a promise
 * is awaited); `unknown` when the type says nothing.
 */
export type TaskResult<F> = F extends Task<infer _A, infer R> ? Awaited<R> : F extends (...args: never[]) => infer R ? Awaited<R> : unknown;

/**
 * The arguments of `sendTask` after the name: the task's arguments (optional when it takes
 * none, or when the type says nothing) and the call options.
 */
export type SendTaskArgs<F> = [] extends TaskArgs<F> ? [args?: TaskArgs<F>, options?: ApplyOptions]
  : [args: TaskArgs<F>, options?: ApplyOptions];
