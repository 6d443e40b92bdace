/**
 * The parameter names of a task's body, read from its source text, so a validation error can
 * say `argument 0 (arg)` rather than only `argument 0`. Names are a courtesy: destructured or
 * unreadable parameters simply have none.
 * @module
 */

import { parameterSources } from "./arity.ts";

const names = new WeakMap<object, (string | undefined)[]>();

/** Remembers the body of `task` (called by `app.task()`); `skip` leading parameters are dropped (the bound task). */
export function noteBody(task: object, fn: (...args: never[]) => unknown, skip = 0): void {
  names.set(task, paramNames(fn).slice(skip));
}

/** The parameter names noted for `task`, else read from `run`. */
export function paramNamesOf(task: { run: (...args: never[]) => unknown }): (string | undefined)[] {
  return names.get(task) ?? paramNames(task.run);
}

/** The names of `fn`'s parameters; `undefined` for a destructured one. */
export function paramNames(fn: (...args: never[]) => unknown): (string | undefined)[] {
  return (parameterSources(fn) ?? []).map((p) => {
    const m = /^\s*(?:\.\.\.)?\s*([A-Za-z_$][\w$]*)\s*(?:=|$)/.exec(p);
    return m ? m[1] : undefined;
  });
}
