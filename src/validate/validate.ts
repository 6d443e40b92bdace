/**
 * Validate mode (`validate: true`): valibot schemas for a task's arguments and return value,
 * Pydantic's `pydantic=True` for TypeScript.
 *
 * - `args: [schemaA, schemaB]` describe the positional arguments (without a `kwargs` schema, a
 *   call's keyword arguments are bound by name first, as for any task: src/validate/bind.ts); `kwargs`
 *   describes the keyword arguments object, parsed even when empty so its defaults apply, and
 *   handed to the body after the positional ones; `returns` describes the return value.
 * - The client checks a call before sending it (`checkCall`) and sends the arguments as given;
 *   the worker parses them (`parseArgs`: defaults and transforms applied) and calls the body
 *   with the output, then parses what the body returns with `returns` and dumps it to plain
 *   data (`parseReturn`, see `dump.ts`).
 * - Async schemas (`v.pipeAsync`, `v.checkAsync`…) are parsed with valibot's async parser.
 * @module
 */
import * as v from "valibot";
import { currentTask } from "../context/task_context.ts";
import { TaskValidationError } from "../errors/validation.ts";
import { dump, DumpError } from "./dump.ts";
import { argumentSubject, describe, kwargsSubject, returnSubject, underArgument } from "./issues.ts";
import { paramNamesOf } from "./params.ts";
import { BindingError, bindCall, isBindingError } from "./bind.ts";
import { isSchema, strictSchema } from "./strict.ts";

/** How a task's calls and results are checked in validate mode. */
export interface ValidationSpec {
  /** Worker side: parse args and kwargs, returning what the body is called with. */
  parseArgs(args: unknown[], kwargs: Record<string, unknown>): Promise<unknown[]>;
  /** Worker side: parse the return value into plain data. */
  parseReturn(value: unknown): Promise<unknown>;
  /** Client side: check a call before it is sent. */
  checkCall(args: unknown[], kwargs: Record<string, unknown>): Promise<void>;
  /** Whether the schemas, not the body's parameter list, decide how many arguments a call takes. */
  readonly ownsArity: boolean;
}

type Schema = Parameters<typeof v.safeParse>[0] | Parameters<typeof v.safeParseAsync>[0];
type Issues = v.BaseIssue<unknown>[];

interface Cached {
  key: readonly unknown[];
  spec: ValidationSpec | undefined;
}
const cache = new WeakMap<ValidatedTask, Cached>();

/** What validate mode reads of a task (a `Task` is one). */
export interface ValidatedTask {
  /** The task's name, for messages. */
  readonly name?: string;
  /** Whether validate mode is on. */
  readonly validate?: boolean;
  /** Positional argument schemas. */
  readonly args?: unknown;
  /** Keyword argument schema. */
  readonly kwargs?: unknown;
  /** Return value schema. */
  readonly returns?: unknown;
  /** Object schemas refuse unknown keys. */
  readonly validateStrict?: boolean;
  /**
   * valibot's parse config (`lang`, `abortEarly`, `abortPipeEarly`, `message`), or a function of
   * the task's name giving it: Celery's `pydantic_context`, as valibot takes context.
   */
  readonly validateContext?: ValidateContext;
  /** Turns the parsed return value into what is stored (Celery's `pydantic_dump_kwargs`); default: plain data (Dates as ISO strings, class instances as plain objects). */
  readonly validateDump?: (value: unknown) => unknown;
  /** The body, whose parameter names label argument errors. */
  run(...args: never[]): unknown;
}
const refused = new WeakSet<object>();

/**
 * The validation of `task`, or `undefined` when it is not in validate mode. Built once per
 * task (again only if its schema fields change); bad schemas throw `TypeError`.
 */
export function validationOf(task: ValidatedTask): ValidationSpec | undefined {
  const hit = cache.get(task);
  // Compared field by field: this runs on every send and every run of a task.
  if (hit) {
    const k = hit.key;
    if (k[0] === task.validate && k[1] === task.args && k[2] === task.kwargs && k[3] === task.returns && k[4] === task.validateStrict && k[5] === task.validateContext && k[6] === task.validateDump) return hit.spec;
  }
  const key = [task.validate, task.args, task.kwargs, task.returns, task.validateStrict, task.validateContext, task.validateDump] as const;
  const spec = build(task);
  cache.set(task, { key, spec });
  return spec;
}

/** Whether `error` is the refusal of a call's arguments by `parseArgs` (not retried; dead-lettered). */
export function isRefusedCall(error: unknown): boolean {
  return typeof error === "object" && error !== null && (refused.has(error) || isBindingError(error));
}

function build(task: ValidatedTask): ValidationSpec | undefined {
  const name = task.name ?? "task";
  if (!task.validate) {
    const given = (["args", "kwargs", "returns"] as const).filter((k) => task[k] !== undefined);
    if (given.length > 0) {
      throw new TypeError(`Cannot register ${name}: ${given.join(", ")} schemas are given but validate is not true; add validate: true`);
    }
    return undefined;
  }
  if (task.args !== undefined && !Array.isArray(task.args)) {
    throw new TypeError(`Cannot register ${name}: 'args' must be an array of valibot schemas, one per positional argument`);
  }
  const check = (what: string, s: unknown): Schema => {
    if (!isSchema(s)) throw new TypeError(`Cannot register ${name}: ${what} is not a valibot schema (got ${typeof s}); use e.g. v.number()`);
    return s as unknown as Schema;
  };
  const strict = task.validateStrict === true ? strictSchema : <S>(s: S) => s;
  const args = task.args?.map((s, i) => strict(check(`args[${i}]`, s)));
  const kwargs = task.kwargs === undefined ? undefined : strict(check("kwargs", task.kwargs));
  // The return value is never strict: an object schema keeps its declared fields and drops the
  // rest, which is what dumping a model means.
  const returns = task.returns === undefined ? undefined : check("returns", task.returns);
  let names: (string | undefined)[] | undefined;
  const nameOf = () => (names ??= paramNamesOf(task));
  const context = task.validateContext;
  const config = () => (typeof context === "function" ? context({ task: name }) : context) as v.Config<v.BaseIssue<unknown>> | undefined;
  const parse = (schema: Schema, input: unknown) => parseWith(schema, input, config());
  const dumpValue = task.validateDump ?? dump;

  async function parseCall(rawArgs: unknown[], rawKwargs: Record<string, unknown>): Promise<{ out: unknown[]; issues: string; list: Issues }> {
    // Without a kwargs schema, kwargs bind by name as for any task (src/validate/bind.ts);
    // with one, they are all the options object that schema describes.
    let positional = rawArgs;
    if (kwargs === undefined) {
      try {
        positional = bindCall(task, rawArgs, rawKwargs);
      } catch (e) {
        if (!(e instanceof BindingError)) throw e;
        const issue = bindingIssue(e, rawKwargs);
        return { out: [], issues: e.reason, list: [issue] };
      }
    }
    const out: unknown[] = [];
    const argIssues: Issues = [];
    if (args) {
      for (let i = 0; i < args.length; i++) {
        const r = await parse(args[i], positional[i]);
        if (r.success) out.push(r.output);
        else argIssues.push(...underArgument(r.issues, i, positional));
        if (argIssues.length && config()?.abortEarly) break; // valibot's abortEarly, across arguments too
      }
      for (let i = args.length; i < positional.length; i++) argIssues.push(...underArgument([extraArgument(positional[i], args.length)], i, positional));
    } else {
      out.push(...positional);
    }
    let kwIssues: Issues = [];
    if (kwargs !== undefined) {
      const r = await parse(kwargs, rawKwargs ?? {});
      if (r.success) out.push(r.output);
      else kwIssues = r.issues;
    }
    const parts: string[] = [];
    if (argIssues.length) parts.push(describe(argIssues, argumentSubject(nameOf())));
    if (kwIssues.length) parts.push(describe(kwIssues, kwargsSubject));
    return { out, issues: parts.join("; "), list: [...argIssues, ...kwIssues] };
  }

  return {
    ownsArity: args !== undefined || kwargs !== undefined,
    async parseArgs(rawArgs, rawKwargs) {
      const r = await parseCall(rawArgs, rawKwargs);
      if (!r.list.length) return r.out;
      const error = new TaskValidationError(`Cannot run ${name}: ${r.issues}`, r.list, { taskName: name, taskId: currentTask()?.request.id });
      refused.add(error);
      throw error;
    },
    async checkCall(rawArgs, rawKwargs) {
      const r = await parseCall(rawArgs, rawKwargs);
      if (r.list.length) throw new TaskValidationError(`Cannot call ${name}: ${r.issues}`, r.list, { taskName: name });
    },
    async parseReturn(value) {
      if (returns === undefined) return value;
      const taskId = currentTask()?.request.id;
      const r = await parse(returns, value);
      if (!r.success) {
        throw new TaskValidationError(`Cannot store the result of ${name}: ${describe(r.issues, returnSubject)}; fix the body or its returns schema`, r.issues, {
          taskName: name,
          taskId,
          target: "return",
        });
      }
      try {
        return dumpValue(r.output);
      } catch (e) {
        if (!(e instanceof DumpError)) throw e;
        const issue = dumpIssue(e, r.output);
        throw new TaskValidationError(`Cannot store the result of ${name}: ${describe([issue], returnSubject)}`, [issue], { taskName: name, taskId, target: "return" });
      }
    },
  };
}

type Parsed = { success: true; output: unknown } | { success: false; issues: Issues };

/** The parts of valibot's parse config a task may set (valibot's `Config`). */
export interface ValidateConfig {
  /** The language of valibot's messages (with `@valibot/i18n`). */
  lang?: string;
  /** Stop at the first issue. */
  abortEarly?: boolean;
  /** Stop a pipe at its first issue. */
  abortPipeEarly?: boolean;
}

/** valibot's parse config, or a function of the task giving it (`validateContext`). */
export type ValidateContext = ValidateConfig | ((task: { task: string }) => ValidateConfig | undefined);

async function parseWith(schema: Schema, input: unknown, config?: v.Config<v.BaseIssue<unknown>>): Promise<Parsed> {
  const r = schema.async ? await v.safeParseAsync(schema, input, config) : v.safeParse(schema as Parameters<typeof v.safeParse>[0], input, config);
  return r.success ? { success: true, output: r.output } : { success: false, issues: r.issues as Issues };
}

function bindingIssue(e: BindingError, input: unknown): v.BaseIssue<unknown> {
  return { kind: "schema", type: "arguments", input, expected: "keyword arguments the task declares", received: "another keyword", message: e.reason };
}

function extraArgument(input: unknown, count: number): v.BaseIssue<unknown> {
  const expected = `at most ${count} argument${count === 1 ? "" : "s"}`;
  return {
    kind: "schema",
    type: "arguments",
    input,
    expected,
    received: "an extra argument",
    message: `Unexpected argument: the task takes ${expected}`,
  };
}

function dumpIssue(e: DumpError, input: unknown): v.BaseIssue<unknown> {
  const path = e.path.map((key) => ({ type: typeof key === "number" ? "array" : "object", origin: "value", input, key, value: undefined }));
  return {
    kind: "transformation",
    type: "dump",
    input,
    expected: "plain data",
    received: "a cycle",
    message: `Cannot dump to plain data: ${e.message}`,
    ...(path.length ? { path: path as unknown as [v.IssuePathItem, ...v.IssuePathItem[]] } : {}),
  };
}
