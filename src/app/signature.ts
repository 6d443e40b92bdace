/**
 * `Signature`: a task call wrapped up to be passed around — the task's name, partial arguments
 * and call options — so it can be sent later, linked as a callback, or be a step of a chain,
 * group or chord. It serializes to plain data (`toJSON()`) and back (`signature(data)`), so it
 * travels in messages and is called by name on any worker that registered the task.
 * @module
 */
import { applyEager } from "./eager.ts";
import { allApps, type App } from "./app.ts";
import type { ApplyOptions } from "./call.ts";
import type { Task } from "./task.ts";
import { AsyncResult } from "../result/async_result.ts";
import type { EagerResult } from "../result/eager_result.ts";
import { type SignatureData, type SignatureOptions, type SubtaskType, toSignatureData, toSignatureList } from "../protocol/signature_data.ts";

export type { SignatureData, SignatureOptions, SubtaskType };

/**
 * The partial arguments a signature of a task taking `A` may hold: any tail of `A`, since the
 * parent's result (or the call's arguments) are put before them.
 */
export type TailOf<A extends unknown[]> = number extends A["length"] ? A
  : A extends readonly [unknown, ...infer Rest] ? A | TailOf<Rest>
  : A | [];

/** What `signature()` takes besides the task. */
export interface SignatureInit {
  /** Partial positional arguments. @default [] */
  args?: unknown[];
  /** Keyword arguments. @default {} */
  kwargs?: Record<string, unknown>;
  /** Call options (queue, countdown, link…). @default {} */
  options?: SignatureOptions;
  /** Ignore the parent's result when called as a callback or chain step. @default false */
  immutable?: boolean;
  /** The app that sends it. @default the task's app, else the first App created */
  app?: App;
}

type Builder = (data: SignatureData, app?: App) => Signature;
const builders = new Map<string, Builder>();

/** @internal chain/group/chord register how they are rebuilt from data. */
export function registerSubtaskType(type: Exclude<SubtaskType, null>, build: Builder): void {
  builders.set(type, build);
}

/**
 * Rebuilds a signature (or chain, group, chord) from its data.
 * @internal the public form is `signature(data)`.
 */
export function fromData(data: SignatureData, app?: App): Signature {
  if (data.subtaskType) {
    const build = builders.get(data.subtaskType);
    if (!build) throw new TypeError(`Cannot rebuild a ${data.subtaskType} signature: its module was not loaded; import it from "taskd"`);
    return build(data, app);
  }
  return new Signature(data.task, { args: data.args, kwargs: data.kwargs, options: data.options, immutable: data.immutable, app });
}

/**
 * A task call to be made later: task name, partial args, kwargs and options.
 * @example
 * ```ts
 * const s = add.s(2);                       // partial: the parent's result (or call args) come first
 * await s.set({ countdown: 1 }).delay(3);   // add(3, 2)
 * const data = JSON.stringify(s);           // { task, args, kwargs, options, immutable, subtaskType }
 * await signature(JSON.parse(data)).delay(5);
 * ```
 */
export class Signature<R = unknown> {
  /** The task's registered name. */
  readonly task: string;
  /** Partial positional arguments; call args are put before them. */
  args: unknown[];
  /** Keyword arguments; call kwargs are merged over them. */
  kwargs: Record<string, unknown>;
  /** Call options. */
  options: SignatureOptions;
  /** Ignores the parent's result (and call args) when true. */
  immutable: boolean;
  /** Plain call (`null`) or workflow node. */
  readonly subtaskType: SubtaskType = null;
  #app?: App;

  /** A signature of `task` (a Task or its registered name). */
  constructor(task: string | Task, init: SignatureInit = {}) {
    const name = typeof task === "string" ? task : task?.name;
    if (typeof name !== "string" || name === "") throw new TypeError("Cannot create a signature: give a task or a task name");
    if (init.args !== undefined && !Array.isArray(init.args)) throw new TypeError(`Cannot create a signature of ${name}: args must be an array`);
    this.task = name;
    this.args = [...(init.args ?? [])];
    this.kwargs = { ...(init.kwargs ?? {}) };
    this.options = { ...(init.options ?? {}) };
    this.immutable = init.immutable ?? false;
    this.#app = init.app ?? (typeof task === "string" ? undefined : task.app);
  }

  /** The app that sends this signature. */
  get app(): App {
    const app = this.#app ?? allApps()[0];
    if (!app) throw new TypeError(`Cannot send ${this.task}: no App exists; create one or pass { app } to signature()`);
    return app;
  }

  /** @internal the app given at construction, if any (`app` falls back to the first App). */
  get boundApp(): App | undefined {
    return this.#app;
  }

  /** The task id, once frozen or set. */
  get id(): string | undefined {
    return this.options.taskId;
  }

  /** Merges call options (and `immutable`) into this signature; returns it. */
  set(options: SignatureOptions & { immutable?: boolean }): this {
    const { immutable, ...rest } = options;
    if (immutable !== undefined) this.immutable = immutable;
    Object.assign(this.options, rest);
    return this;
  }

  /** Adds a callback run with this task's result on success; returns it. */
  link<S extends Signature>(callback: S): S {
    this.options.link = [...(toSignatureList(this.options.link) ?? []), toSignatureData(callback, "link")];
    return callback;
  }

  /** Adds an errback run with `(taskId, error)` when this task fails; returns it. */
  linkError<S extends Signature>(errback: S): S {
    this.options.linkError = [...(toSignatureList(this.options.linkError) ?? []), toSignatureData(errback, "linkError")];
    return errback;
  }

  /** A copy, with `args` put before the partial ones and kwargs/options merged over. */
  clone(args: unknown[] = [], kwargs: Record<string, unknown> = {}, options: SignatureOptions = {}): Signature<R> {
    const d = this.toJSON();
    const copy = fromData(structuredClone(d), this.#app) as Signature<R>;
    if (!copy.immutable) copy.args = [...args, ...copy.args];
    Object.assign(copy.kwargs, kwargs);
    Object.assign(copy.options, options);
    return copy;
  }

  /** Gives this signature (and its parts) task ids now, so its result is known before it runs. */
  freeze(taskId?: string): AsyncResult<R> {
    this.options.taskId = taskId ?? this.options.taskId ?? crypto.randomUUID();
    return new AsyncResult<R>(this.options.taskId, this.app, this.task);
  }

  /** A chain of this signature and `next` ones: each result feeds the following step. */
  pipe(...next: Signature[]): Signature {
    const build = builders.get("chain");
    if (!build) throw new TypeError("Cannot pipe signatures: the chain module was not loaded; import chain from \"taskd\"");
    const steps = [this, ...next].map((s) => toSignatureData(s, "chain step"));
    return build({ task: "chain", args: [], kwargs: { tasks: steps }, options: {}, immutable: false, subtaskType: "chain" }, this.#app);
  }

  /** The arguments and options of a call: `args` before the partial ones (unless immutable), kwargs and options merged over the signature's own. */
  #call(args: unknown[], options: ApplyOptions): [unknown[], ApplyOptions] {
    const { kwargs: callKwargs, ...callOptions } = options;
    const finalArgs = this.immutable ? [...this.args] : [...args, ...this.args];
    const kwargs = this.immutable ? { ...this.kwargs } : { ...this.kwargs, ...(callKwargs ?? {}) };
    return [finalArgs, { ...(this.options as ApplyOptions), ...callOptions, kwargs }];
  }

  /**
   * Sends the task: `args` go before the partial args (unless immutable), kwargs and options
   * merge over the signature's own.
   */
  async applyAsync(args: unknown[] = [], options: ApplyOptions = {}): Promise<AsyncResult<R>> {
    const app = this.app;
    const [finalArgs, merged] = this.#call(args, options);
    const task = app.tasks.get(this.task);
    const r = task ? await app.sendTaskFor(task, finalArgs, merged) : await app.sendTask(this.task, finalArgs, merged);
    return r as AsyncResult<R>;
  }

  /**
   * Runs the task here and now, in this process (Celery's `apply`): `args` go before the
   * partial args as in `applyAsync`; its `link`/`linkError` callbacks and the rest of a chain
   * run in process too. The task must be registered in this process.
   */
  apply(args: unknown[] = [], options: ApplyOptions = {}): Promise<EagerResult<R>> {
    const app = this.app;
    const [finalArgs, merged] = this.#call(args, options);
    const task = app.tasks.get(this.task);
    if (!task) {
      return Promise.reject(new TypeError(`Cannot run ${this.task} in process (apply, taskAlwaysEager): no task of that name is registered in this process; import the module that defines it`));
    }
    return applyEager(task, finalArgs, merged) as Promise<EagerResult<R>>;
  }

  /** Sends the task with these arguments before the partial ones. */
  delay(...args: unknown[]): Promise<AsyncResult<R>> {
    return this.applyAsync(args);
  }

  /** The signature as plain data. */
  toJSON(): SignatureData {
    return toSignatureData({
      task: this.task,
      args: this.args,
      kwargs: this.kwargs,
      options: this.options,
      immutable: this.immutable,
      subtaskType: this.subtaskType,
    });
  }

  /** `tasks.add(2, 2)`-style text, for logs. */
  toString(): string {
    const a = this.args.map((x) => JSON.stringify(x));
    const k = Object.entries(this.kwargs).map(([key, v]) => `${key}=${JSON.stringify(v)}`);
    return `${this.immutable ? "%" : ""}${this.task}(${[...a, ...k].join(", ")})`;
  }
}

/**
 * Makes a signature from a task, a task name (called by name, without its module), or
 * signature data received in a message.
 * @example
 * ```ts
 * const s = signature("tasks.add", { args: [2, 2], options: { countdown: 10 } });
 * const again = signature(JSON.parse(JSON.stringify(s)));
 * ```
 */
export function signature<R = unknown>(task: string | Task | SignatureData | Signature, init: SignatureInit = {}): Signature<R> {
  if (task instanceof Signature) return task.clone() as Signature<R>;
  if (typeof task === "object" && task !== null && !("app" in task && "run" in task)) {
    const d = toSignatureData(task);
    const s = fromData(d, init.app) as Signature<R>;
    if (init.args) s.args = [...init.args, ...s.args];
    if (init.kwargs) Object.assign(s.kwargs, init.kwargs);
    if (init.options) Object.assign(s.options, init.options);
    if (init.immutable !== undefined) s.immutable = init.immutable;
    return s;
  }
  return new Signature<R>(task as string | Task, init);
}
