/**
 * The types `app.task()` takes: task bodies, base classes, and the decorator's options (task
 * options plus the base class, the Request class, Batches and validate-mode settings).
 * @module
 */
import type { Task } from "./task.ts";
import type { Request } from "./request.ts";
import type { TaskOptions } from "./options.ts";
import type { AnySchema } from "../validate/types.ts";
import type { ValidateContext } from "../validate/validate.ts";

/** Any function: what `app.task()` accepts as a body. */
// deno-lint-ignore no-explicit-any
export type AnyFn = (...args: any[]) => any;
/** A class `app.task({ base })` can use: a `Task` subclass constructed with no arguments. */
// deno-lint-ignore no-explicit-any
export type TaskClass = new () => Task<any, any>;
/** The parameters of a bound body (`bind: true`) after `self`: what its `delay()` takes. */
export type BoundArgs<F> = F extends (self: never, ...args: infer A) => unknown ? A : never;

/** Options of `app.task()`: task options plus the base class. */
export interface TaskDecoratorOptions extends TaskOptions {
  /** The class the task is an instance of. @default the app's taskCls, else Task */
  base?: TaskClass;
  /** A Request subclass for this task's executions. */
  Request?: typeof Request;
  /** Batches: flush after this many messages. */
  flushEvery?: number;
  /** Batches: flush after this many seconds. */
  flushInterval?: number;
  /** Validate arguments and the return value with valibot schemas. */
  validate?: boolean;
  /** Validate mode: positional argument schemas. */
  args?: unknown[];
  /** Validate mode: keyword argument schema. */
  kwargs?: unknown;
  /** Validate mode: return value schema. */
  returns?: unknown;
  /** Validate mode: object schemas refuse unknown keys. */
  validateStrict?: boolean;
  /** Validate mode: valibot's parse config (or a function of the task giving it), Celery's `pydantic_context`. */
  validateContext?: ValidateContext;
  /** Validate mode: how a parsed return value is dumped for storing, Celery's `pydantic_dump_kwargs`. */
  validateDump?: (value: unknown) => unknown;
}

/** Options of a validated task: `app.task()` with `validate: true` and schemas. */
export type ValidatedTaskOptions<S extends readonly AnySchema[] | undefined, K extends AnySchema | undefined, R extends AnySchema | undefined> =
  & Omit<TaskDecoratorOptions, "validate" | "args" | "kwargs" | "returns">
  & { validate: true; args?: S; kwargs?: K; returns?: R };

/** A task on base class `B`: the base's own members, and a Task typed by its body. */
// deno-lint-ignore no-explicit-any
export type Based<B extends TaskClass, A extends any[], R> = Omit<InstanceType<B>, keyof Task> & Task<A, R>;
