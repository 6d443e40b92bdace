/**
 * "Dumping" a parsed return value into plain data, as Pydantic's `model_dump(mode="json")`
 * does for Celery: what every client can read, whatever its serializer or language.
 *
 * The rules are JSON's (`JSON.parse(JSON.stringify(value))`), done in one walk, with four
 * differences: a `bigint` becomes its decimal string (JSON would throw), a `Map` becomes an
 * object (keys as strings), a `Set` an array, and a cycle is an error naming its path (JSON's
 * message names nothing). So: a Date becomes its ISO string (through `toJSON`), a class instance
 * its own enumerable fields, `undefined` fields and functions disappear, `NaN` becomes `null`.
 * @module
 */

/** A value that cannot be dumped (a cycle), with the path where it was found. */
export class DumpError extends Error {
  constructor(readonly path: (string | number)[], message: string) {
    super(message);
  }
}

/** The plain-data form of `value` (see the module doc for the rules). */
export function dump(value: unknown): unknown {
  // The top level keeps `undefined` (an optional return) instead of turning it into nothing.
  if (value === undefined) return undefined;
  return walk(value, [], new Set());
}

function walk(value: unknown, path: (string | number)[], seen: Set<object>): unknown {
  switch (typeof value) {
    case "string":
    case "boolean":
      return value;
    case "number":
      return Number.isFinite(value) ? value : null;
    case "bigint":
      return value.toString();
    case "undefined":
    case "function":
    case "symbol":
      return undefined;
  }
  if (value === null) return null;
  const obj = value as object;
  if (typeof (obj as { toJSON?: unknown }).toJSON === "function") {
    // Dates (an invalid one gives null, as in JSON) and any class that says how it serializes.
    return walk((obj as { toJSON(key: string): unknown }).toJSON(String(path.at(-1) ?? "")), path, seen);
  }
  if (seen.has(obj)) throw new DumpError(path, "it refers to itself (a cycle)");
  seen.add(obj);
  try {
    if (Array.isArray(obj)) return obj.map((v, i) => walk(v, [...path, i], seen) ?? null);
    if (obj instanceof Set) return [...obj].map((v, i) => walk(v, [...path, i], seen) ?? null);
    if (obj instanceof Map) {
      const out: Record<string, unknown> = {};
      for (const [k, v] of obj) put(out, String(k), walk(v, [...path, String(k)], seen));
      return out;
    }
    if (ArrayBuffer.isView(obj)) return Array.from(obj as unknown as ArrayLike<number>, (n) => (typeof n === "bigint" ? String(n) : n));
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(obj)) put(out, key, walk((obj as Record<string, unknown>)[key], [...path, key], seen));
    return out;
  } finally {
    seen.delete(obj);
  }
}

function put(out: Record<string, unknown>, key: string, value: unknown): void {
  if (value === undefined) return;
  // A "__proto__" key from data must be an own field, never the prototype.
  if (key === "__proto__") Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
  else out[key] = value;
}
