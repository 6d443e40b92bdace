/**
 * The parameter names of a task's body, read from its source text, so a validation error can
 * say `argument 0 (arg)` rather than only `argument 0`. Names are a courtesy: destructured or
 * unreadable parameters simply have none.
 * @module
 */

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
  let src: string;
  try {
    src = Function.prototype.toString.call(fn);
  } catch {
    return [];
  }
  const list = paramList(src);
  if (list === undefined) return [];
  return splitTopLevel(stripComments(list)).map((p) => {
    const m = /^\s*(?:\.\.\.)?\s*([A-Za-z_$][\w$]*)\s*(?:=|$)/.exec(p);
    return m ? m[1] : undefined;
  });
}

function stripComments(s: string): string {
  return s.replace(/\/\*[\s\S]*?\*\//g, "").replace(/\/\/[^\n]*/g, "");
}

function paramList(src: string): string | undefined {
  if (src.startsWith("class ")) return undefined;
  const open = src.indexOf("(");
  const arrow = src.indexOf("=>");
  // `x => …`: one parameter without parentheses
  if (arrow >= 0 && (open < 0 || open > arrow)) return src.slice(0, arrow).replace(/^async\s+/, "");
  if (open < 0) return undefined;
  let depth = 0;
  for (let i = open; i < src.length; i++) {
    const c = src[i];
    if (c === "(" || c === "[" || c === "{") depth++;
    else if (c === ")" || c === "]" || c === "}") {
      depth--;
      if (depth === 0) return src.slice(open + 1, i);
    } else if (c === "'" || c === '"' || c === "`") {
      // A string in a default value: skip to its end so brackets inside it do not count.
      const end = src.indexOf(c, i + 1);
      if (end < 0) return undefined;
      i = end;
    }
  }
  return undefined;
}

function splitTopLevel(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = "";
  let quote = "";
  for (const c of s) {
    if (quote) {
      cur += c;
      if (c === quote) quote = "";
      continue;
    }
    if (c === "'" || c === '"' || c === "`") quote = c;
    if ("([{".includes(c)) depth++;
    if (")]}".includes(c)) depth--;
    if (c === "," && depth === 0) {
      out.push(cur);
      cur = "";
    } else cur += c;
  }
  if (cur.trim() !== "") out.push(cur);
  return out;
}
