/**
 * The plain-data form of a signature: what travels in a message's embed (callbacks, errbacks,
 * the rest of a chain) and what a chord keeps on the server. It names the task, not its module,
 * so any worker that registered the task can call it. This file imports nothing from the app,
 * so the message builder can use it.
 * @module
 */

/** What kind of workflow node a signature is; `null` for a plain task call. */
export type SubtaskType = "chain" | "group" | "chord" | null;

/** Call options a signature carries (a serializable subset of `ApplyOptions`). */
export interface SignatureOptions {
  /** The task id to use; set when the signature is frozen. */
  taskId?: string;
  /** The queue to send to. */
  queue?: string;
  /** Seconds from now before the task may run. */
  countdown?: number;
  /** When the task may run (ISO string or Date). */
  eta?: string | Date;
  /** Seconds from now, or a time, after which the task is not run. */
  expires?: number | string | Date;
  /** Store no result. */
  ignoreResult?: boolean;
  /** A signature (or list) called with the result on success. */
  link?: unknown;
  /** A signature (or list) called on failure. */
  linkError?: unknown;
  /** Body serializer. */
  serializer?: string;
  /** Hard time limit, seconds. */
  timeLimit?: number;
  /** Soft time limit, seconds. */
  softTimeLimit?: number;
  /** Extra message headers. */
  headers?: Record<string, string>;
  /** How the args appear in logs and events. */
  argsrepr?: string;
  /** How the kwargs appear in logs and events. */
  kwargsrepr?: string;
  /** Other options, passed through. */
  [key: string]: unknown;
}

/** A signature as plain data: `{ task, args, kwargs, options, immutable, subtaskType }`. */
export interface SignatureData {
  /** The task's registered name (`"chain"`, `"group"`, `"chord"` for workflow nodes). */
  task: string;
  /** Partial positional arguments. */
  args: unknown[];
  /** Keyword arguments; for workflow nodes: `{ tasks }` or `{ header, body }`. */
  kwargs: Record<string, unknown>;
  /** Call options. */
  options: SignatureOptions;
  /** Immutable signatures ignore the parent's result. */
  immutable: boolean;
  /** Plain call or workflow node. */
  subtaskType: SubtaskType;
}

/** Something that turns itself into signature data (a `Signature`). */
interface HasData {
  toJSON(): SignatureData;
}

function hasData(x: unknown): x is HasData {
  return typeof x === "object" && x !== null && typeof (x as HasData).toJSON === "function";
}

/** Whether `x` looks like signature data. */
export function isSignatureData(x: unknown): x is SignatureData {
  if (typeof x !== "object" || x === null) return false;
  const d = x as SignatureData;
  return typeof d.task === "string" && d.task !== "" && (d.args === undefined || Array.isArray(d.args));
}

/**
 * Turns a signature or signature-like object into plain data, with defaults filled in and
 * nested link/linkError converted too; throws `TypeError` for anything else.
 */
export function toSignatureData(x: unknown, what = "signature"): SignatureData {
  const raw = hasData(x) ? x.toJSON() : x;
  if (!isSignatureData(raw)) {
    throw new TypeError(`Cannot use ${what}: expected a signature (task.s(...)) or { task, args, kwargs, options }: current value is ${describe(x)}`);
  }
  const options: SignatureOptions = { ...(raw.options ?? {}) };
  if (options.link !== undefined && options.link !== null) options.link = toSignatureList(options.link, "link");
  if (options.linkError !== undefined && options.linkError !== null) options.linkError = toSignatureList(options.linkError, "linkError");
  if (options.eta instanceof Date) options.eta = options.eta.toISOString();
  if (options.expires instanceof Date) options.expires = options.expires.toISOString();
  return {
    task: raw.task,
    args: raw.args ?? [],
    kwargs: raw.kwargs ?? {},
    options,
    immutable: raw.immutable ?? false,
    subtaskType: raw.subtaskType ?? null,
  };
}

/** A signature or list of signatures as a list of data (`null`/`undefined` give `null`). */
export function toSignatureList(x: unknown, what = "signature"): SignatureData[] | null {
  if (x === undefined || x === null) return null;
  return (Array.isArray(x) ? x : [x]).map((s) => toSignatureData(s, what));
}

/**
 * Callbacks as they go into a message: data, each frozen with a task id, so a parent that is
 * delivered twice sends its callback under the same id (and `Nats-Msg-Id` drops the second).
 */
export function frozenCallbacks(x: unknown, what: string): SignatureData[] | null {
  const list = toSignatureList(x, what);
  if (!list) return null;
  return list.map((d) => (d.subtaskType === null && !d.options.taskId ? { ...d, options: { ...d.options, taskId: crypto.randomUUID() } } : d));
}

function describe(x: unknown): string {
  if (x === null) return "null";
  if (Array.isArray(x)) return "an array";
  if (typeof x === "object") return `an object with keys ${Object.keys(x as object).join(", ") || "(none)"}`;
  return `${typeof x} ${String(x)}`;
}
