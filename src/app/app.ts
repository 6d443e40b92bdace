/**
 * `App`: the registry of tasks and the connection to the broker and result backend. Every App
 * created in a process is remembered, so a worker serves all the apps its module creates.
 * @module
 */
import type { NatsConnection } from "@nats-io/nats-core";
import process from "node:process";
import { Task } from "./task.ts";
import { type AppConfig, DEFAULTS, routeFor, type TaskOptions } from "./options.ts";
import { type ApplyOptions, buildMessage } from "./call.ts";
import { arityOf, checkArity } from "../validate/arity.ts";
import { type ExceptionInfo, Request, requestMessage } from "./request.ts";
import { NotRegistered, serializeError } from "../errors/errors.ts";
import { Broker } from "../nats/broker.ts";
import { ResultBackend } from "../nats/result_store.ts";
import { revokeTask } from "../nats/revoked.ts";
import { authOptions, DEFAULT_BROKER_URL, openConnection } from "../nats/connection.ts";
import { checkName, type Names, namesFor } from "../nats/names.ts";
import { encodeTask, type TaskMessage } from "../protocol/message.ts";
import { AsyncResult } from "../result/async_result.ts";
import { EagerResult } from "../result/eager_result.ts";
import { states } from "../protocol/states.ts";
import { signals } from "../signals/signals.ts";
import { trace } from "./trace.ts";
import { validationOf } from "../validate/validate.ts";
import { GroupResult } from "../result/group_result.ts";
import type { Batches, SimpleRequest } from "./batches.ts";
import { noteBody } from "../validate/params.ts";
import type { AnySchema, BodyArgs, BodyReturn, Returned, SchemaInputs, Unvalidated, } from "../validate/types.ts";
import { Control } from "../control/client.ts";
import { sendTaskSentEvent } from "../events/sent.ts";
import { callFlow, checkFlowOptions } from "./flow.ts";
import { sendOnce } from "./unique.ts";
import { UniqueMarkers } from "../nats/unique.ts";
import { FLOW_H, priorityOf } from "../protocol/flow.ts";

/** Any function: what `app.task()` accepts as a body. */
// deno-lint-ignore no-explicit-any
export type AnyFn = (...args: any[]) => any;
/** A class `app.task({ base })` can use: a `Task` subclass constructed with no arguments. */
// deno-lint-ignore no-explicit-any
export type TaskClass = new () => Task<any, any>;
/** The parameters of a bound body (`bind: true`) after `self`: what its `delay()` takes. */
export type BoundArgs<F> = F extends (self: never, ...args: infer A) => unknown ? A : never;

/** Options of `app.task()`: task options plus the base class. */
export interface TaskDecoratorOptions extends TaskOptions {
  /** The class the task is an instance of. @default the app's taskCls, else Task */
  base?: TaskClass;
  /** A Request subclass for this task's executions. */
  Request?: typeof Request;
  /** Batches: flush after this many messages. */
  flushEvery?: number;
  /** Batches: flush after this many seconds. */
  flushInterval?: number;
  /** Validate arguments and the return value with valibot schemas. */
  validate?: boolean;
  /** Validate mode: positional argument schemas. */
  args?: unknown[];
  /** Validate mode: keyword argument schema. */
  kwargs?: unknown;
  /** Validate mode: return value schema. */
  returns?: unknown;
  /** Validate mode: object schemas refuse unknown keys. */
  validateStrict?: boolean;
}

/** Options of a validated task (`app.task()` with schemas) (`validate: true` with schemas). */
export type ValidatedTaskOptions<S extends readonly AnySchema[] | undefined, K extends AnySchema | undefined, R extends AnySchema | undefined> =
  & Omit<TaskDecoratorOptions, "validate" | "args" | "kwargs" | "returns">
  & { validate: true; args?: S; kwargs?: K; returns?: R };


const apps: App[] = [];
const anonymousTasks = new WeakSet<Task>();

/** Every App created in this process, oldest first. */
export function allApps(): readonly App[] {
  return apps;
}

/**
 * An application: tasks, settings, and the connection used to send them and read results.
 * @example
 * ```ts
 * export const app = new App("tasks");
 * export const add = app.task(function add(x: number, y: number) { return x + y; });
 * const r = await add.delay(2, 3);
 * console.log(await r.get({ timeout: 10 })); // 5
 * await app.close();
 * ```
 */
export class App {
  /** Registered tasks by name. */
  readonly tasks: Map<string, Task> = new Map();
  /** The NATS names derived from the prefix. */
  readonly names: Names;
  /** The result backend (a KV bucket). */
  readonly backend: ResultBackend;
  #conn?: Promise<NatsConnection>;
  #broker?: Promise<Broker>;
  #brokerOverride?: string;
  #anonymousCount = 0;
  /**
   * Whether tasks sent ask for a reply (`resultReplies`). Workers set it to false for the apps
   * they serve: their subtasks' results are not awaited there.
   */
  sendReplies: boolean;

  /**
   * Creates an app and remembers it (see `allApps()`); it connects on first use, not here.
   * @param main the name tasks are prefixed with (`<main>.<function name>`)
   * @param config settings: broker, prefix, task defaults
   */
  constructor(readonly main: string = "__main__", readonly config: AppConfig = {}) {
    if (typeof main !== "string" || main === "") throw new TypeError("Cannot create App: its main name must be a non-empty string");
    this.names = namesFor(config.prefix ?? DEFAULTS.prefix);
    if (config.taskDefaultQueue) checkName("queue", config.taskDefaultQueue);
    const expires = config.resultExpires ?? DEFAULTS.resultExpires;
    if (!(expires > 0)) throw new RangeError(`Cannot create App: 'resultExpires' must be > 0 seconds: current value is ${expires}`);
    this.sendReplies = config.resultReplies ?? true;
    this.backend = new ResultBackend(() => this.connection(), this.names.resultsBucket, expires, config.replicas ?? DEFAULTS.replicas);
    apps.push(this);
  }

  /** The name a task gets when none is given. Override to change the scheme. */
  genTaskName(name: string): string {
    return `${this.main}.${name}`;
  }

  /**
   * Registers a function as a task.
   * @example
   * ```ts
   * export const add = app.task(function add(x: number, y: number) { return x + y; });
   * export const mul = app.task({ name: "math.mul", acksLate: true }, (x: number, y: number) => x * y);
   * export const up = app.task({ bind: true }, async function up(self, n: number) { return self.request.id; });
   * ```
   */
  task<F extends AnyFn>(fn: F): Task<Parameters<F>, ReturnType<F>>;
  /** Registers a Batches task: the function receives a list of SimpleRequest. */
  task(options: TaskDecoratorOptions & { base: typeof Batches }, fn: (requests: SimpleRequest[]) => unknown): Batches<unknown>;
  /** Registers `fn` with task options. */
  task<F extends AnyFn, O extends TaskDecoratorOptions & { bind?: false } = TaskDecoratorOptions & { bind?: false }>(options: O & Unvalidated<O>, fn: F): Task<Parameters<F>, ReturnType<F>>;
  /** Registers a bound `fn`: the task instance comes first. */
  // deno-lint-ignore no-explicit-any
  task<F extends (self: any, ...args: any[]) => any, O extends TaskDecoratorOptions & { bind: true } = TaskDecoratorOptions & { bind: true }>(
    options: O & Unvalidated<O>,
    fn: F,
  ): Task<BoundArgs<F>, ReturnType<F>>;
  // Validate mode (`validate: true`): listed last so that a type error shows the schemas' complaint.
  /** Validate mode, bound, without `args` schemas: the body's parameters type the call; `get()` gives the dumped `returns` output. */
  // deno-lint-ignore no-explicit-any
  task<K extends AnySchema | undefined = undefined, R extends AnySchema | undefined = undefined, F extends (self: any, ...args: any[]) => any = AnyFn>(
    options: ValidatedTaskOptions<undefined, K, R> & { bind: true },
    fn: F,
  ): Task<BoundArgs<F>, Returned<R, F>>;
  /** Validate mode without `args` schemas: the body's parameters type the call; `get()` gives the dumped `returns` output. */
  task<K extends AnySchema | undefined = undefined, R extends AnySchema | undefined = undefined, F extends AnyFn = AnyFn>(
    options: ValidatedTaskOptions<undefined, K, R> & { bind?: false },
    fn: F,
  ): Task<Parameters<F>, Returned<R, F>>;
  /** Validate mode, bound: `delay` takes the schemas' input types, the body (after the task) their outputs. */
  task<
    const S extends readonly AnySchema[],
    K extends AnySchema | undefined = undefined,
    R extends AnySchema | undefined = undefined,
    // deno-lint-ignore no-explicit-any
    F extends (self: any, ...args: BodyArgs<S, K>) => BodyReturn<R> = (self: Task, ...args: BodyArgs<S, K>) => BodyReturn<R>,
  >(options: ValidatedTaskOptions<S, K, R> & { args: S; bind: true }, fn: F): Task<SchemaInputs<S>, Returned<R, F>>;
  /**
   * Validate mode: `delay` takes the schemas' input types, the body gets their output types,
   * `get()` gives the `returns` output dumped to plain data.
   * @example
   * ```ts
   * export const x = app.task({ validate: true, args: [v.object({ value: v.number() })], returns: v.string() },
   *   function x(arg) { return `example: ${arg.value}`; });
   * ```
   */
  task<
    const S extends readonly AnySchema[],
    K extends AnySchema | undefined = undefined,
    R extends AnySchema | undefined = undefined,
    F extends (...args: BodyArgs<S, K>) => BodyReturn<R> = (...args: BodyArgs<S, K>) => BodyReturn<R>,
  >(options: ValidatedTaskOptions<S, K, R> & { args: S; bind?: false }, fn: F): Task<SchemaInputs<S>, Returned<R, F>>;
  task(a: AnyFn | TaskDecoratorOptions, b?: AnyFn): Task {
    const [options, fn] = typeof a === "function" ? [{} as TaskDecoratorOptions, a] : [a, b];
    if (typeof fn !== "function") throw new TypeError("Cannot register task: app.task() needs a function");
    // An arrow passed straight to app.task() has no name: number it in registration order,
    // the same in every process (and runtime) that loads the module; the worker also registers
    // it under its export name (see exportAliases).
    const anonymous = !options.name && !fn.name;
    const name = options.name ?? this.genTaskName(fn.name || `anonymous_${++this.#anonymousCount}`);
    const Base = options.base ?? this.config.taskCls ?? Task;
    const task = new Base() as Task;
    const { base: _base, ...rest } = options;
    Object.assign(task, rest);
    const bind = options.bind ?? false;
    task.run = bind ? (...args: unknown[]) => fn(task, ...args) : fn;
    task.arity = arityOf(fn, bind ? 1 : 0);
    noteBody(task, fn, bind ? 1 : 0);
    if (anonymous) anonymousTasks.add(task);
    return this.#add(task, name);
  }

  /**
   * Registers the anonymous tasks among a module's exports under their export names too
   * (`export const processRows = app.task({ bind: true }, async (self) => …)` answers to
   * `tasks.processRows` as well as to its derived name). The worker calls it after loading.
   */
  exportAliases(exports: Record<string, unknown>): string[] {
    const added: string[] = [];
    for (const [key, value] of Object.entries(exports)) {
      if (!(value instanceof Task) || value.app !== this || !anonymousTasks.has(value)) continue;
      const alias = this.genTaskName(key);
      if (this.tasks.has(alias)) continue;
      this.tasks.set(alias, value);
      added.push(alias);
    }
    return added;
  }

  /**
   * Registers a Task subclass; its one instance is returned. The name is `<main>.<ClassName>`
   * unless `options.name` or a `name` field is given.
   */
  register<T extends Task>(Cls: new () => T, options: TaskDecoratorOptions = {}): T {
    if (typeof Cls !== "function") throw new TypeError("Cannot register: app.register() needs a Task subclass");
    const task = new Cls();
    if (!(task instanceof Task)) throw new TypeError(`Cannot register ${Cls.name}: it does not extend Task`);
    const { base: _base, ...rest } = options;
    Object.assign(task, rest);
    const name = options.name ?? (Object.hasOwn(task, "name") ? task.name : undefined) ?? this.genTaskName(Cls.name);
    task.arity = arityOf(task.run);
    return this.#add(task, name);
  }

  #add<T extends Task>(task: T, name: string): T {
    task.name = name;
    task.app = this;
    if (task.queue) checkName("queue", task.queue);
    checkFlowOptions(name, task);
    if (validationOf(task)?.ownsArity) task.arity = undefined; // the schemas count the arguments
    this.tasks.set(name, task);
    return task;
  }

  /** The broker URL in force: `TASKD_BROKER_URL`, else the App's `broker`, else the dev server. */
  brokerUrl(): string | string[] {
    return this.#brokerOverride ?? process.env.TASKD_BROKER_URL ?? this.config.broker ?? DEFAULT_BROKER_URL;
  }

  /** Points the app at another broker before it connects (the CLI's `--broker`). */
  useBroker(url: string): void {
    this.#brokerOverride = url;
  }

  /**
   * The connection, opened on first use.
   * @ignore raw nats.js connection: wiring for the worker, CLI and tests, not part of the API.
   */
  connection(): Promise<NatsConnection> {
    this.#conn ??= openConnection({
      servers: this.brokerUrl(),
      name: `taskd ${this.main}`,
      timeout: (this.config.connectTimeout ?? 5) * 1000,
      ...authOptions(this.config),
    }).catch((e) => {
      this.#conn = undefined;
      throw e;
    });
    return this.#conn;
  }

  /**
   * Uses a connection opened elsewhere (the worker opens its own, retrying).
   * @ignore wiring for the worker, typed by nats.js.
   */
  adoptConnection(nc: NatsConnection): void {
    this.#conn = Promise.resolve(nc);
  }

  /**
   * The broker (streams, consumers, publishing).
   * @ignore wiring for the worker and the CLI, typed by nats.js.
   */
  broker(): Promise<Broker> {
    this.#broker ??= this.connection().then((nc) => new Broker(nc, this.names, this.config.replicas ?? DEFAULTS.replicas)).catch((e) => {
      this.#broker = undefined;
      throw e;
    });
    return this.#broker;
  }

  /** The queue a call of `name` goes to. */
  queueFor(name: string, task?: Task, options: ApplyOptions = {}): string {
    return checkName("queue", options.queue ?? task?.queue ?? routeFor(this.config.taskRoutes, name) ?? this.config.taskDefaultQueue ?? DEFAULTS.queue);
  }

  /** Sends a registered task (what `delay`/`applyAsync` call). */
  async sendTaskFor(task: Task, args: unknown[], options: ApplyOptions = {}): Promise<AsyncResult | EagerResult> {
    if (this.config.taskAlwaysEager) return this.applyEager(task, args, options);
    const kwargs = options.kwargs ?? {};
    if (task.arity && task.effective("typing")) {
      checkArity(task.name, task.arity, args.length + (Object.keys(kwargs).length > 0 ? 1 : 0));
    }
    const spec = validationOf(task);
    if (spec) await spec.checkCall(args, kwargs);
    // Keys are computed here, before anything is sent: a key function that throws fails the call.
    const flow = callFlow(task.name, task, args, kwargs, options.priority);
    const msg = buildMessage(task.name, this.queueFor(task.name, task, options), args, { ...options, headers: { ...options.headers, ...flow.headers } });
    const tl: [number | null, number | null] = [options.softTimeLimit ?? null, options.timeLimit ?? null];
    if (tl[0] !== null || tl[1] !== null) msg.timelimit = tl;
    // A unique duplicate gets the existing task's result handle, and nothing is sent (docs/flow.md).
    const id = await sendOnce(() => this.uniqueMarkers, flow.unique, msg.id, () =>
      this.publish(msg, { serializer: options.serializer ?? task.effective("serializer"), compression: options.compression ?? task.effective("compression") }));
    return new AsyncResult(id, this, task.name);
  }

  /**
   * Sends a task by name, without its module.
   * @example
   * ```ts
   * const r = await app.sendTask("tasks.add", [2, 3]);
   * ```
   */
  async sendTask(name: string, args: unknown[] = [], options: ApplyOptions = {}): Promise<AsyncResult> {
    if (typeof name !== "string" || !name) throw new TypeError("Cannot send task: its name must be a non-empty string");
    const task = this.tasks.get(name);
    const flow = callFlow(name, undefined, args, options.kwargs ?? {}, options.priority ?? task?.priority);
    const msg = buildMessage(name, this.queueFor(name, task, options), args, { ...options, headers: { ...options.headers, ...flow.headers } });
    await this.publish(msg, {
      serializer: options.serializer ?? task?.effective("serializer") ?? this.config.taskSerializer,
      compression: options.compression ?? task?.effective("compression") ?? this.config.taskCompression,
    });
    return new AsyncResult(msg.id, this, name);
  }

  /** Encodes and publishes a message: to its queue, or to the delayed stream when it has a future eta. */
  async publish(msg: TaskMessage, encode: { serializer?: string; compression?: "gzip" } = {}): Promise<void> {
    if (signals.beforeTaskPublish.hasReceivers) {
      await signals.beforeTaskPublish.send(msg.task, { body: [msg.args, msg.kwargs, msg.embed], exchange: "", routingKey: msg.queue, headers: msg, properties: {} });
    }
    const broker = await this.broker();
    // The result of a task sent from here comes back on this App's reply inbox (docs/results.md).
    const eta = msg.eta === undefined ? undefined : Date.parse(msg.eta);
    const delayed = eta !== undefined && eta > Date.now();
    if (msg.replyTo === undefined && this.sendReplies) msg.replyTo = this.backend.inbox(broker.nc)?.expect(msg.id, delayed ? eta : undefined);
    const wire = encodeTask(msg, encode);
    // Before the publish, on the same connection: a monitor sees task-sent before task-received.
    if (this.config.taskSendSentEvent) sendTaskSentEvent(broker.nc, this.names.prefix, msg);
    // A priority other than the default has its own subject (docs/flow.md); a delayed task keeps its header.
    await broker.publish(delayed ? this.names.delayedSubject(msg.queue) : broker.prioritySubject(msg.queue, priorityOf(msg.headers?.[FLOW_H.priority])), wire);
    if (signals.afterTaskPublish.hasReceivers) {
      await signals.afterTaskPublish.send(msg.task, { headers: msg, body: [msg.args, msg.kwargs, msg.embed], exchange: "", routingKey: msg.queue });
    }
  }

  /** Publishes the next attempt of `request` (same id, retries + 1, due at `when`). */
  async publishRetry(task: Task, request: Request, when: Date, queue?: string): Promise<void> {
    const queueName = queue ?? request.deliveryInfo?.queue ?? this.queueFor(task.name, task);
    const msg: TaskMessage = { ...requestMessage(request, queueName), task: task.name, retries: request.retries + 1, eta: when.toISOString() };
    await this.publish(msg, { serializer: task.effective("serializer"), compression: task.effective("compression") });
  }

  /** Runs `task` in this process (`apply()`), retrying in place, and returns its EagerResult. */
  async applyEager(task: Task, args: unknown[], options: ApplyOptions = {}): Promise<EagerResult> {
    const id = options.taskId ?? crypto.randomUUID();
    const kwargs = options.kwargs ?? {};
    for (let retries = options.retries ?? 0;; retries++) {
      const Req = task.Request ?? Request;
      const request = new Req({ id, taskName: task.name, args, kwargs, isEager: true, retries, rootId: id, correlationId: id, ignoreResult: options.ignoreResult ?? task.effective("ignoreResult") });
      const outcome = await trace(task, request);
      if (outcome.kind === "retry") continue;
      const meta = { taskId: id, taskName: task.name, retries, dateDone: new Date().toISOString() };
      if (outcome.kind === "success") return new EagerResult(id, { ...meta, status: states.SUCCESS, result: outcome.value });
      if (outcome.kind === "ignored") return new EagerResult(id, { ...meta, status: states.PENDING, result: null });
      const error = serializeError(outcome.kind === "rejected" ? outcome.reject : outcome.error);
      return new EagerResult(id, { ...meta, status: states.FAILURE, result: error, traceback: error.stack });
    }
  }

  /** An AsyncResult for a known task id. */
  asyncResult(id: string): AsyncResult {
    return new AsyncResult(id, this);
  }

  /** The saved GroupResult of a group applied earlier; `null` when none is saved under `id`. */
  groupResult<T = unknown>(id: string): Promise<GroupResult<T> | null> {
    return GroupResult.restore<T>(this, id);
  }

  /**
   * Revokes a task by id: a worker that receives it will not run it (state REVOKED). With
   * `terminate`, a worker running it stops it (see `app.control.revoke`).
   */
  async revoke(taskId: string, options: { terminate?: boolean } = {}): Promise<void> {
    await revokeTask(this, taskId, options.terminate ?? false);
  }

  #unique?: UniqueMarkers;
  /** @ignore The unique markers (docs/flow.md): wiring for sending and the worker. */
  get uniqueMarkers(): UniqueMarkers {
    return (this.#unique ??= new UniqueMarkers(() => this.connection(), this.names.uniqueBucket, this.config.replicas ?? DEFAULTS.replicas));
  }

  #control?: Control;
  /** Remote control and inspection of this app's workers (`inspect()`, `revoke()`, `rateLimit()`, `shutdown()`). */
  get control(): Control {
    return (this.#control ??= new Control(this));
  }

  /** The task registered as `name`; throws `NotRegistered` when there is none. */
  getTask(name: string): Task {
    const t = this.tasks.get(name);
    if (!t) throw new NotRegistered(name);
    return t;
  }

  /** Drains and closes the connection (pending publishes are flushed). */
  async close(): Promise<void> {
    const conn = this.#conn;
    this.#conn = undefined;
    this.#broker = undefined;
    if (!conn) return;
    const nc = await conn.catch(() => undefined);
    if (nc && !nc.isClosed()) await nc.drain().catch(() => nc.close());
  }
}

// Signal arguments name these classes (src/signals/args.ts).
declare module "../signals/args.ts" {
  interface SignalTypes {
    app: App;
    appConfig: AppConfig;
    exceptionInfo: ExceptionInfo;
    request: Request;
    task: Task;
  }
}
