/**
 * `validateStrict: true`: plain `v.object()` schemas refuse unknown keys, as `v.strictObject()`
 * does, without the user rewriting the schemas (Pydantic's strict mode, in valibot's terms:
 * valibot never coerces types, so extra keys are what is left to refuse).
 *
 * How: a strict copy of the schema tree is made once (the user's schemas are never changed).
 * Each `object`/`objectAsync` in it runs as before, then refuses the first key of its input
 * that its entries do not name, with strictObject's issue (`Invalid key: Expected never but
 * received "extra"`, path = the key). The copy reaches objects nested in wrappers whose run
 * reads its children from the schema (optional, nullable, array, tuple, union, variant,
 * intersect, record, map, set, lazy, objects' entries) and inside `v.pipe`/`v.pipeAsync`.
 *
 * Limits: wrappers that close over their schema (`v.fallback`, `v.config`, `v.message`,
 * `v.cache`) are made strict at their own level only, not inside; `looseObject`,
 * `objectWithRest` and `record` keep their declared openness; schemas hidden in custom code
 * (`v.custom`, a transform that parses with another schema) are not reached.
 * @module
 */
import * as v from "valibot";

// deno-lint-ignore no-explicit-any
type Schema = Record<string, any> & { kind: "schema"; "~run": (dataset: Dataset, config: Config) => Dataset | Promise<Dataset> };
type Dataset = { value: unknown; typed?: boolean; issues?: v.BaseIssue<unknown>[] };
type Config = v.Config<v.BaseIssue<unknown>>;

/** Props of a schema that hold child schemas, read by its run through `this`. */
const CHILD_PROPS = ["wrapped", "item", "items", "options", "entries", "rest", "key", "value"] as const;

const PIPE_RUNS = new Set([String(v.pipe(v.any())["~run"]), String(v.pipeAsync(v.any())["~run"])]);
const copies = new WeakMap<object, Schema>();

/** Whether `x` is a valibot schema. */
export function isSchema(x: unknown): x is Schema {
  return typeof x === "object" && x !== null && (x as Schema).kind === "schema" && typeof (x as Schema)["~run"] === "function";
}

/** The strict copy of `schema` (the schema itself when nothing in it changes). */
export function strictSchema<S>(schema: S): S {
  return isSchema(schema) ? strict(schema) as S : schema;
}

function strict(s: Schema): Schema {
  const done = copies.get(s);
  if (done) return done;
  let out: Schema;
  if (Array.isArray(s.pipe) && PIPE_RUNS.has(String(s["~run"]))) {
    const items = s.pipe.map((item: unknown) => (isSchema(item) ? strict(item) : item));
    out = items.every((item: unknown, i: number) => item === s.pipe[i]) ? s : ((s.async ? v.pipeAsync : v.pipe) as unknown as (...items: unknown[]) => Schema)(...items);
  } else if (s.type === "object") {
    out = refuseUnknownKeys(copy(s, { entries: mapEntries(s.entries) ?? s.entries }));
  } else if (s.type === "lazy" && typeof s.getter === "function") {
    const getter = s.getter as (input: unknown) => Schema;
    out = copy(s, { getter: (input: unknown) => strict(getter(input)) });
  } else {
    const changes: Record<string, unknown> = {};
    for (const prop of CHILD_PROPS) {
      const child = s[prop];
      if (isSchema(child)) {
        const c = strict(child);
        if (c !== child) changes[prop] = c;
      } else if (Array.isArray(child)) {
        const list = child.map((x) => (isSchema(x) ? strict(x) : x));
        if (list.some((x, i) => x !== child[i])) changes[prop] = list;
      } else if (prop === "entries") {
        const entries = mapEntries(child);
        if (entries) changes[prop] = entries;
      }
    }
    out = Object.keys(changes).length > 0 ? copy(s, changes) : s;
  }
  copies.set(s, out);
  return out;
}

/** Strict copies of an object's entries, or undefined when none changed. */
function mapEntries(entries: unknown): Record<string, Schema> | undefined {
  if (!entries || typeof entries !== "object") return undefined;
  const out: Record<string, Schema> = {};
  let changed = false;
  for (const [key, child] of Object.entries(entries)) {
    out[key] = isSchema(child) ? strict(child) : child;
    if (out[key] !== child) changed = true;
  }
  return changed ? out : undefined;
}

/** A copy of `s` (getters and all) with `changes`, whose standard-schema `validate` runs the copy. */
function copy(s: Schema, changes: Record<string, unknown>): Schema {
  const c = Object.create(Object.getPrototypeOf(s), Object.getOwnPropertyDescriptors(s)) as Schema;
  Object.assign(c, changes);
  if (s["~standard"]) {
    c["~standard"] = { ...s["~standard"], validate: (value: unknown) => c["~run"]({ value }, v.getGlobalConfig()) };
  }
  return c;
}

/** Makes `c`'s run refuse keys its entries do not name, after its own checks. */
function refuseUnknownKeys(c: Schema): Schema {
  const run = c["~run"];
  if (c.async) {
    c["~run"] = async function (this: Schema, dataset: Dataset, config: Config) {
      const input = dataset.value;
      return checkKeys(this, input, await run.call(this, dataset, config), config);
    };
  } else {
    c["~run"] = function (this: Schema, dataset: Dataset, config: Config) {
      const input = dataset.value;
      return checkKeys(this, input, run.call(this, dataset, config) as Dataset, config);
    };
  }
  return c;
}

function checkKeys(schema: Schema, input: unknown, dataset: Dataset, config: Config): Dataset {
  if (!input || typeof input !== "object" || Array.isArray(input)) return dataset;
  if (dataset.issues && config.abortEarly) return dataset;
  const entries = (schema.entries ?? {}) as Record<string, unknown>;
  for (const key in input) {
    if (Object.hasOwn(entries, key)) continue;
    const received = `"${key}"`;
    const issue = {
      kind: "schema",
      type: "strict_object",
      input: key,
      expected: "never",
      received,
      message: `Invalid key: Expected never but received ${received}`,
      requirement: undefined,
      path: [{ type: "object", origin: "key", input, key, value: (input as Record<string, unknown>)[key] }],
      issues: undefined,
      lang: config.lang,
      abortEarly: config.abortEarly,
      abortPipeEarly: config.abortPipeEarly,
    } as unknown as v.BaseIssue<unknown>;
    const custom = schema.message ?? v.getSpecificMessage(v.strictObject as never, config.lang) ?? v.getSchemaMessage(config.lang) ??
      config.message ?? v.getGlobalMessage(config.lang);
    if (custom !== undefined) (issue as { message: string }).message = typeof custom === "function" ? custom(issue) : custom;
    dataset.typed = false;
    if (dataset.issues) dataset.issues.push(issue);
    else dataset.issues = [issue];
    break;
  }
  return dataset;
}
