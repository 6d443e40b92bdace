/**
 * `App`: the registry of tasks and the connection to the broker and result backend. Every App
 * created in a process is remembered, so a worker serves all the apps its module creates.
 * @module
 */
import type { NatsConnection } from "@nats-io/nats-core";
import process from "node:process";
import type { Task } from "./task.ts";
import { registerSharedTasks, setCurrentApp } from "./shared.ts";
import { defineTask, exportAliases, registerClass } from "./registry.ts";
import { signerOf, trustedKeysOf } from "./signing.ts";
import type { AnyFn, Based, BoundArgs, TaskClass, TaskDecoratorOptions, ValidatedTaskOptions } from "./decorator.ts";
import { type AppConfig, brokerSettings, checkAppConfig, DEFAULTS, routeFor } from "./options.ts";
import type { ApplyOptions } from "./call.ts";
import { sendByName, sendCall } from "./send.ts";
import type { SendTaskArgs, TaskResult } from "./by_name.ts";
import { type ExceptionInfo, type Request, requestMessage } from "./request.ts";
import { NotRegistered } from "../errors/errors.ts";
import { Broker } from "../nats/broker.ts";
import { ResultBackend } from "../nats/result_store.ts";
import { revokeTask } from "../nats/revoked.ts";
import { authOptions, DEFAULT_BROKER_URL, openConnection } from "../nats/connection.ts";
import { checkName, type Names, namesFor } from "../nats/names.ts";
import { encodeTask, type TaskMessage } from "../protocol/message.ts";
import type { Compression } from "../protocol/codec.ts";
import type { MessageSigner } from "../protocol/signing.ts";
import { AsyncResult } from "../result/async_result.ts";
import type { EagerResult } from "../result/eager_result.ts";
import { signals } from "../signals/signals.ts";
import { GroupResult } from "../result/group_result.ts";
import type { Batches, SimpleRequest } from "./batches.ts";
import type { AnySchema, BodyArgs, BodyReturn, Returned, SchemaInputs, Unvalidated } from "../validate/types.ts";
import { Control } from "../control/client.ts";
import { sendTaskSentEvent } from "../events/sent.ts";
import { sendTraced } from "./tracing.ts";
import { defineSchedule, Schedules } from "./schedule/schedules.ts";
import type { ScheduleDefinition } from "./schedule/definition.ts";
import { UniqueMarkers } from "../nats/unique.ts";
import { FLOW_H, priorityOf } from "../protocol/flow.ts";

const apps: App[] = [];

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
    const expires = checkAppConfig(config);
    this.sendReplies = config.resultReplies ?? true;
    this.backend = new ResultBackend(() => this.connection(), this.names.resultsBucket, expires, config.replicas ?? DEFAULTS.replicas, {
      maxBytes: config.resultMaxBytes ?? DEFAULTS.resultMaxBytes,
      maxCount: config.resultMaxCount ?? DEFAULTS.resultMaxCount,
    });
    for (const [id, entry] of Object.entries(config.beatSchedule ?? {})) defineSchedule(this, id, entry);
    apps.push(this);
    registerSharedTasks(this as unknown as Parameters<typeof registerSharedTasks>[0]);
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
  /**
   * Registers `fn` on a base class of your own (`base: DatabaseTask`): the task is an instance
   * of it, typed so, and a bound body's `self` is one too.
   * @example
   * ```ts
   * class DatabaseTask extends Task { get db() { return connectOnce(); } }
   * export const processRows = app.task({ base: DatabaseTask }, function processRows() { return processRows.db.rows(); });
   * ```
   */
  task<B extends TaskClass, F extends AnyFn>(options: TaskDecoratorOptions & { base: B; bind?: false }, fn: F): Based<B, Parameters<F>, ReturnType<F>>;
  /** Registers a bound `fn` on a base class of your own: `self` is an instance of it. */
  // deno-lint-ignore no-explicit-any
  task<B extends TaskClass, F extends (self: InstanceType<B>, ...args: any[]) => any>(options: TaskDecoratorOptions & { base: B; bind: true }, fn: F): Based<B, BoundArgs<F>, ReturnType<F>>;
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
    return defineTask(this, a, b);
  }

  /**
   * Registers the anonymous tasks among a module's exports under their export names too
   * (`export const processRows = app.task({ bind: true }, async (self) => …)` answers to
   * `tasks.processRows` as well as to its derived name). The worker calls it after loading.
   */
  exportAliases(exports: Record<string, unknown>): string[] {
    return exportAliases(this, exports);
  }

  /**
   * Registers a Task subclass; its one instance is returned. The name is `<main>.<ClassName>`
   * unless `options.name` or a `name` field is given.
   */
  register<T extends Task>(Cls: new () => T, options: TaskDecoratorOptions = {}): T {
    return registerClass(this, Cls, options);
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
    this.#broker ??= this.connection().then((nc) => new Broker(nc, this.names, brokerSettings(this.config))).catch((e) => {
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
  sendTaskFor(task: Task, args: unknown[], options: ApplyOptions = {}): Promise<AsyncResult | EagerResult> {
    return sendCall(this, task, args, options);
  }

  /**
   * Sends a task by name, without its module. Give the task's type (`typeof` the task, from an
   * `import type`, or a function type) to have the arguments checked and `get()` typed.
   * @example
   * ```ts
   * const r = await app.sendTask("tasks.add", [2, 3]);
   * // typed, without loading the worker's module:
   * import type { add } from "./tasks.ts";
   * const sum = await (await app.sendTask<typeof add>("tasks.add", [2, 3])).get(); // number
   * const same = await app.sendTask<(x: number, y: number) => number>("tasks.add", [2, 3]);
   * ```
   */
  sendTask<F = unknown>(name: string, ...rest: SendTaskArgs<F>): Promise<AsyncResult<TaskResult<F>>> {
    return sendByName(this, name, rest[0] ?? [], rest[1] ?? {}) as Promise<AsyncResult<TaskResult<F>>>;
  }

  /**
   * The signer of this App's messages (`signing.key`, else `TASKD_SIGNING_KEY`), or `null`
   * when it sends unsigned messages. Throws a `TypeError` when the key is not an nkey seed.
   * @ignore wiring for the worker and the CLI.
   */
  signer(): MessageSigner | null {
    return signerOf(this.config);
  }

  /**
   * The public keys whose signatures a worker serving this App accepts (`signing.trusted`, else
   * `TASKD_TRUSTED_KEYS`, plus its own key), or `undefined` when it accepts unsigned messages.
   */
  trustedKeys(): string[] | undefined {
    return trustedKeysOf(this.config);
  }

  /** Encodes and publishes a message: to its queue, or to the delayed stream when it has a future eta. */
  async publish(msg: TaskMessage, encode: { serializer?: string; compression?: Compression } = {}): Promise<void> {
    if (signals.beforeTaskPublish.hasReceivers) {
      await signals.beforeTaskPublish.send(msg.task, { body: [msg.args, msg.kwargs, msg.embed], exchange: "", routingKey: msg.queue, headers: msg, properties: {} });
    }
    const broker = await this.broker();
    // The result of a task sent from here comes back on this App's reply inbox (docs/results.md).
    const eta = msg.eta === undefined ? undefined : Date.parse(msg.eta);
    const delayed = eta !== undefined && eta > Date.now();
    if (msg.replyTo === undefined && this.sendReplies) msg.replyTo = this.backend.inbox(broker.nc)?.expect(msg.id, delayed ? eta : undefined);
    // A priority other than the default has its own subject (docs/flow.md); a delayed task keeps its header.
    const subject = delayed ? this.names.delayedSubject(msg.queue) : broker.prioritySubject(msg.queue, priorityOf(msg.headers?.[FLOW_H.priority]));
    await sendTraced(msg, subject, async (to) => {
      const wire = encodeTask(msg, encode);
      this.signer()?.sign(wire.headers, wire.data);
      // Before the publish, on the same connection: a monitor sees task-sent before task-received.
      if (this.config.taskSendSentEvent) sendTaskSentEvent(broker.nc, this.names.prefix, msg);
      await broker.publish(to, wire);
    });
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

  /** Makes this App the one shared tasks are called through outside a task (Celery's `set_current`); a new App is current. */
  setCurrent(): void {
    setCurrentApp(this as unknown as Parameters<typeof setCurrentApp>[0]);
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

  /**
   * Defines a periodic task in code (docs/beat.md); beats store it on the server when they start,
   * keeping its cursor when the definition is unchanged. Throws on an invalid rule.
   * @example
   * ```ts
   * app.schedule("tick", { task: tick, every: 1, args: ["t"] });
   * app.schedule("nightly", { task: "tasks.nightly", cron: "30 2 * * *", tz: "Europe/Berlin", catchup: "once", overlap: "skip" });
   * ```
   */
  schedule(id: string, definition: ScheduleDefinition): void {
    defineSchedule(this, id, definition);
  }

  #schedules?: Schedules;
  /** Schedules stored on the server: `list`, `add`, `remove`, `pause`, `resume`, `run`. */
  get schedules(): Schedules {
    return (this.#schedules ??= new Schedules(this));
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
