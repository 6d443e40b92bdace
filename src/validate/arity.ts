/**
 * How many arguments a task body takes, for the `typing` check that refuses a call with the
 * wrong count before anything is sent. JavaScript only tells the required count
 * (`fn.length`); the maximum is read from the parameter list, and is unbounded when there is
 * a rest parameter or when the list cannot be read.
 * @module
 */

/** Required and maximum argument counts. */
export interface Arity {
  min: number;
  max: number;
}

/** The arity of `fn`, less `skip` leading parameters (the bound task). */
export function arityOf(fn: (...args: never[]) => unknown, skip = 0): Arity {
  const min = Math.max(0, fn.length - skip);
  const params = parameterSources(fn);
  if (params === undefined || params.some((p) => p.trim().startsWith("..."))) return { min, max: Infinity };
  return { min, max: Math.max(min, params.length - skip) };
}

/**
 * The source text of each top-level parameter of `fn` (comments removed), or `undefined` when
 * the parameter list cannot be read (a class, native code).
 */
export function parameterSources(fn: (...args: never[]) => unknown): string[] | undefined {
  let src: string;
  try {
    src = Function.prototype.toString.call(fn);
  } catch {
    return undefined;
  }
  const list = paramList(src);
  return list === undefined ? undefined : splitTopLevel(stripComments(list));
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

/** Throws `TypeError` when `given` arguments do not fit `arity`. */
export function checkArity(taskName: string, arity: Arity, given: number): void {
  if (given >= arity.min && given <= arity.max) return;
  const expected = arity.min === arity.max
    ? `${arity.min}`
    : arity.max === Infinity
    ? `at least ${arity.min}`
    : `${arity.min} to ${arity.max}`;
  const plural = arity.max === 1 || (arity.min === 1 && arity.max === Infinity) ? "" : "s";
  throw new TypeError(`Cannot call ${taskName}: expected ${expected} argument${plural}, got ${given}`);
}
