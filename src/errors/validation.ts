/**
 * `TaskValidationError`: a validate-mode task (`validate: true`) got arguments, or returned a
 * value, that its valibot schemas refuse. Thrown by `delay`/`applyAsync` before anything is
 * sent, and stored as the task's FAILURE when a worker meets it (a call sent by name, or a
 * body whose return value does not fit `returns`).
 * @module
 */
import { TaskdError, type TaskdErrorOptions } from "./base.ts";

/**
 * One step of a valibot issue's path: the container (`type`), the key and the value found
 * there. The same union as valibot's `IssuePathItem`, spelled out so the docs need no valibot
 * internals; valibot's path items fit it and it fits them.
 */
export type IssuePathItem =
  | { readonly type: "array"; readonly origin: "value"; readonly input: readonly unknown[]; readonly key: number; readonly value: unknown }
  | { readonly type: "map"; readonly origin: "key" | "value"; readonly input: Map<unknown, unknown>; readonly key: unknown; readonly value: unknown }
  | { readonly type: "object"; readonly origin: "key" | "value"; readonly input: Record<string, unknown>; readonly key: string; readonly value: unknown }
  | { readonly type: "set"; readonly origin: "value"; readonly input: Set<unknown>; readonly key: null; readonly value: unknown }
  | { readonly type: "unknown"; readonly origin: "key" | "value"; readonly input: unknown; readonly key: unknown; readonly value: unknown };

/**
 * A valibot issue, as `TaskValidationError.issues` holds it: the fields of valibot's
 * `BaseIssue`, spelled out. valibot's issues fit it, and it can be passed back to valibot's
 * helpers (`v.getDotPath(issue)`).
 */
export interface ValidationIssue {
  /** `schema`, `validation` or `transformation`: what kind of valibot piece failed. */
  readonly kind: "schema" | "validation" | "transformation";
  /** The schema or action that failed, e.g. `number`, `min_length`. */
  readonly type: string;
  /** The value that failed. */
  readonly input: unknown;
  /** What was expected, e.g. `number`; `null` when the action says nothing. */
  readonly expected: string | null;
  /** What was received, e.g. `"nope"`. */
  readonly received: string;
  /** valibot's message, e.g. `Invalid type: Expected number but received "nope"`. */
  readonly message: string;
  /** The action's requirement (e.g. the minimum length), when it has one. */
  readonly requirement?: unknown;
  /** Where it failed: for arguments, the argument's index first, then the keys inside it. */
  readonly path?: [IssuePathItem, ...IssuePathItem[]] | undefined;
  /** Sub-issues (unions, variants). */
  readonly issues?: [ValidationIssue, ...ValidationIssue[]] | undefined;
}

/** One step of an issue's path, as it crosses the wire: the key, and where it came from. */
export interface PlainPathItem {
  /** The kind of container: `array`, `object`, `map`, `set`, `unknown`. */
  type: string;
  /** `value` (the key's value failed) or `key` (the key itself). */
  origin?: string;
  /** The array index or object key; argument `i` is the first item of an argument's path. */
  key: unknown;
}

/** A valibot issue reduced to plain data (what a worker stores and a client reads). */
export interface PlainIssue {
  /** `schema`, `validation` or `transformation`. */
  kind: string;
  /** The schema or action that failed, e.g. `number`, `min_length`. */
  type: string;
  /** What was expected, e.g. `number`. */
  expected: string | null;
  /** What was received, e.g. `"nope"`. */
  received: string;
  /** valibot's message, e.g. `Invalid type: Expected number but received "nope"`. */
  message: string;
  /** Where in the arguments (or the return value) it failed. */
  path?: PlainPathItem[];
  /** Sub-issues (unions). */
  issues?: PlainIssue[];
}

/** What failed validation: the call's arguments or the body's return value. */
export type ValidationTarget = "arguments" | "return";

/** Options of `TaskValidationError`. */
export interface TaskValidationErrorOptions extends TaskdErrorOptions {
  /** What failed. @default "arguments" */
  target?: ValidationTarget;
}

/**
 * Arguments or a return value refused by a task's valibot schemas. `issues` are valibot's,
 * with each argument's index prepended to its path (`[0, "value"]` = argument 0, field
 * `value`); the message names the argument, its parameter name and the field.
 * @example
 * ```ts
 * try {
 *   await x.delay({ value: "nope" } as never);
 * } catch (e) {
 *   if (e instanceof TaskValidationError) console.log(e.issues[0].path?.map((p) => p.key)); // [0, "value"]
 * }
 * ```
 */
export class TaskValidationError extends TaskdError {
  /** The class name, also on the wire (`remoteType`). */
  override name = "TaskValidationError" as const;
  /** The stable code of a validation failure. */
  override readonly code = "VALIDATION_FAILED";
  /** valibot's issues. They serialize (JSON, the result store) as {@link PlainIssue}s. */
  readonly issues: ValidationIssue[];
  /** Whether the arguments or the return value failed. */
  readonly target: ValidationTarget;

  /**
   * Builds the error from valibot's issues.
   * @param message what failed, naming the argument and field
   * @param issues valibot's issues, paths starting at the argument's index
   * @param options task name and id, the cause, and the target
   */
  constructor(message: string, issues: ValidationIssue[], options: TaskValidationErrorOptions = {}) {
    super(message, options);
    this.target = options.target ?? "arguments";
    // Raw issues hold the whole input (path items carry their parents) and functions; the
    // stored failure needs only what tells a person where and why, so JSON sees plain issues.
    const list = [...issues];
    Object.defineProperty(list, "toJSON", { value: () => issues.map(plainIssue), enumerable: false });
    this.issues = list;
  }
}

/** A valibot issue as plain data: no inputs, no functions, keys only in the path. */
export function plainIssue(issue: ValidationIssue): PlainIssue {
  const out: PlainIssue = {
    kind: issue.kind,
    type: issue.type,
    expected: issue.expected ?? null,
    received: issue.received,
    message: issue.message,
  };
  if (issue.path) {
    out.path = issue.path.map((p) => ({ type: p.type, origin: p.origin, key: plainKey(p.key) }));
  }
  if (issue.issues) out.issues = issue.issues.map(plainIssue);
  return out;
}

function plainKey(key: unknown): unknown {
  if (key === null || typeof key === "string" || typeof key === "number" || typeof key === "boolean") return key;
  if (key === undefined) return null;
  return String(key);
}
