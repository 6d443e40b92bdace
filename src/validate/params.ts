/**
 * The parameter names of a task's body, read from its source text, so a validation error can
 * say `argument 0 (arg)` rather than only `argument 0`. Names are a courtesy: destructured or
 * unreadable parameters simply have none.
 * @module
 */

import { parameterSources } from "./arity.ts";

/** A body's parameter list as keyword binding needs it (src/validate/bind.ts). */
export interface ParamList {
  /** Each parameter's name, the rest parameter's included; `undefined` for a destructured one. */
  names: (string | undefined)[];
  /** Whether the last parameter is a rest parameter (`...xs`). */
  rest: boolean;
  /** Whether the list could be read at all (not for a class or native code). */
  readable: boolean;
}

const lists = new WeakMap<object, ParamList>();

/** Remembers the body of `task` (called by `app.task()`); `skip` leading parameters are dropped (the bound task). */
export function noteBody(task: object, fn: (...args: never[]) => unknown, skip = 0): void {
  const list = paramList(fn);
  lists.set(task, { ...list, names: list.names.slice(skip), rest: list.rest && list.names.length > skip });
}

/** The parameter list noted for `task`, else read from `run` (once). */
export function paramListOf(task: { run: (...args: never[]) => unknown }): ParamList {
  let list = lists.get(task);
  if (list === undefined) lists.set(task, list = paramList(task.run));
  return list;
}

/** The parameter names noted for `task`, else read from `run`. */
export function paramNamesOf(task: { run: (...args: never[]) => unknown }): (string | undefined)[] {
  return paramListOf(task).names;
}

/** The names of `fn`'s parameters; `undefined` for a destructured one. */
export function paramNames(fn: (...args: never[]) => unknown): (string | undefined)[] {
  return paramList(fn).names;
}

function paramList(fn: (...args: never[]) => unknown): ParamList {
  const sources = parameterSources(fn);
  const names = (sources ?? []).map((p) => {
    const m = /^\s*(?:\.\.\.)?\s*([A-Za-z_$][\w$]*)\s*(?:=|$)/.exec(p);
    return m ? m[1] : undefined;
  });
  const rest = sources !== undefined && sources.length > 0 && sources[sources.length - 1].trim().startsWith("...");
  return { names, rest, readable: sources !== undefined };
}
