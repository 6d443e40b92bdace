/**
 * Keyword arguments, bound as Celery binds them (docs/tasks.md "Keyword arguments"):
 *
 * 1. a kwarg whose name is a declared parameter of the body (read from its parameter list, the
 *    bound task and the rest parameter aside) fills that parameter; one already given by
 *    position is a `TypeError` ("multiple values");
 * 2. the other kwargs, if any, form one options object: the body's last declared parameter
 *    (the rest parameter aside) takes it when neither a position nor a name filled it; else it
 *    is appended when the body has a rest parameter; otherwise the call is a `TypeError` naming
 *    the unknown keyword(s);
 * 3. parameters left between the positional arguments and a bound kwarg or the options object
 *    (`f(x, y = 1, opts = {})` called with `x` and `{ verbose: true }`) get `undefined`, so
 *    their defaults apply.
 *
 * A body whose parameter list cannot be read (native code) gets its kwargs as one trailing
 * object, as before. The `typing` check additionally refuses a required parameter left empty.
 * @module
 */
import { type Arity, checkArity } from "./arity.ts";
import { type ParamList, paramListOf } from "./params.ts";

/** What binding reads of a task (a `Task` is one). */
export interface BindableTask {
  /** The task's name, for messages. */
  readonly name?: string;
  /** Its argument counts; `undefined` when schemas count them (validate mode). */
  arity?: Arity;
  /** The body. */
  run(...args: never[]): unknown;
}

const refusals = new WeakSet<object>();

/** Whether `error` is a call the body can never accept (bad kwargs): refused, not retried. */
export function isBindingError(error: unknown): boolean {
  return typeof error === "object" && error !== null && refusals.has(error);
}

/** Why a call cannot be bound, without the task's name (e.g. `unexpected keyword argument 'z'`). */
export class BindingError extends TypeError {
  constructor(readonly reason: string, taskName: string, verb = "call") {
    super(`Cannot ${verb} ${taskName}: ${reason}`);
    this.name = "TypeError";
    refusals.add(this);
  }
}

interface Bound {
  call: unknown[];
  /** Indexes of parameters left empty between the positional ones and a bound kwarg. */
  holes: number[];
}

function bind(name: string, list: ParamList, args: unknown[], kwargs: Record<string, unknown> | null | undefined, verb: string): Bound {
  const keys = kwargs ? Object.keys(kwargs) : [];
  if (keys.length === 0) return { call: args, holes: [] };
  if (!list.readable) return { call: [...args, kwargs], holes: [] };
  const params = list.rest ? list.names.slice(0, -1) : list.names;
  const call = args.slice();
  let filled = args.length;
  let extra: Record<string, unknown> | undefined;
  for (const k of keys) {
    const i = params.indexOf(k);
    if (i < 0) {
      (extra ??= {})[k] = kwargs![k];
      continue;
    }
    if (i < args.length) throw new BindingError(`got multiple values for argument '${k}'`, name, verb);
    call[i] = kwargs![k];
    if (i + 1 > filled) filled = i + 1;
  }
  if (extra !== undefined) {
    const last = params.length - 1;
    if (last >= filled) {
      call[last] = extra;
      filled = last + 1;
    } else if (list.rest) call[filled++] = extra;
    else {
      const unknown = Object.keys(extra);
      const takes = params.some((p) => p === undefined) ? "" : `; it takes ${params.length ? params.join(", ") : "no arguments"}`;
      throw new BindingError(`unexpected keyword argument${unknown.length === 1 ? "" : "s"} ${unknown.map((k) => `'${k}'`).join(", ")}${takes}`, name, verb);
    }
  }
  const holes: number[] = [];
  for (let i = args.length; i < filled; i++) {
    if (!(i in call)) {
      call[i] = undefined;
      holes.push(i);
    }
  }
  return { call, holes };
}

/**
 * The arguments the body of `task` is called with for `args` and `kwargs` (rules above);
 * throws a {@link BindingError} (a `TypeError`) when the kwargs cannot be bound.
 */
export function bindCall(task: BindableTask, args: unknown[], kwargs: Record<string, unknown> | null | undefined, verb = "run"): unknown[] {
  return hasKeys(kwargs) ? bind(task.name ?? "task", paramListOf(task), args, kwargs, verb).call : args;
}

function hasKeys(o: Record<string, unknown> | null | undefined): o is Record<string, unknown> {
  if (!o) return false;
  for (const _ in o) return true;
  return false;
}

/**
 * The `typing` check of a call (client before sending, worker before running): the kwargs bind
 * (rules above), the bound call fits the body's arity, and no required parameter is left empty.
 * Throws `TypeError`. Nothing to check when schemas count the arguments (`arity` undefined).
 */
export function checkCall(task: BindableTask, args: unknown[], kwargs: Record<string, unknown> | null | undefined, verb = "call"): void {
  if (!task.arity) return;
  const name = task.name ?? "task";
  if (!hasKeys(kwargs)) return checkArity(name, task.arity, args.length);
  const list = paramListOf(task);
  const { call, holes } = bind(name, list, args, kwargs, verb);
  checkArity(name, task.arity, call.length);
  const missing = holes.filter((i) => i < task.arity!.min);
  if (missing.length) {
    const names = missing.map((i) => list.names[i] === undefined ? `#${i}` : `'${list.names[i]}'`);
    throw new BindingError(`missing required argument${missing.length === 1 ? "" : "s"} ${names.join(", ")}`, name, verb);
  }
}
