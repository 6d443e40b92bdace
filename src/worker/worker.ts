/**
 * `Worker`: serves the tasks of one or more apps. It connects (retrying, with a visible
 * message, until the broker answers), creates its queues' consumers, runs the delay
 * scheduler, consumes with bounded prefetch into `concurrency` slots of its pool (async or
 * threads), holds rate-limited messages without taking a slot, answers remote control, sends
 * events and heartbeats, watches its own consume loops (re-creating one that ends, as after a
 * broker restart), and shuts down warm on the first SIGTERM/SIGINT, cold on the second.
 * @module
 */
import type { ConsumerMessages, JsMsg } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { hostname as osHostname, loadavg } from "node:os";
import type { App } from "../app/app.ts";
import type { Task } from "../app/task.ts";
import { DEFAULTS } from "../app/options.ts";
import { openConnection } from "../nats/connection.ts";
import { ACK_WAIT_MS, type Broker, PULL_EXPIRES_MS } from "../nats/broker.ts";
import { RevokedSet } from "../nats/revoked.ts";
import { canvasBucket } from "../nats/canvas_store.ts";
import { ownSettings } from "../nats/settings.ts";
import { checkName } from "../nats/names.ts";
import { getLogger } from "../log/logger.ts";
import { setupLogging } from "../log/setup.ts";
import { signals } from "../signals/signals.ts";
import { TaskRevokedError } from "../errors/errors.ts";
import { Ignore } from "../errors/semipredicates.ts";
import { H } from "../protocol/message.ts";
import { runtime } from "../runtime/mod.ts";
import { ControlServer } from "../control/server.ts";
import type { ControlTarget, TaskInfo } from "../control/protocol.ts";
import { EventDispatcher } from "../events/dispatcher.ts";
import { type ActiveTask, execute, type ExecContext } from "./execute.ts";
import { createPool, type Pool } from "./pool/pool.ts";
import { GlobalRateLimiter, RateLimiter } from "./ratelimit.ts";
import { parseRate } from "../protocol/rate.ts";
import { Scheduler } from "./scheduler.ts";
import { Slots } from "./slots.ts";
import { batchPrefetch, closeBatchBuffers } from "./batch_buffer.ts";
import { headersOf } from "./headers.ts";

const log = getLogger("taskd.worker");

/** Options of a {@link Worker}. */
export interface WorkerOptions {
  /** Queues to consume. @default the default queue plus every queue a registered task names */
  queues?: string[];
  /** Tasks run at once. @default 10 */
  concurrency?: number;
  /** Messages held per consumer beyond the running ones. @default concurrency × workerPrefetchMultiplier */
  prefetch?: number;
  /** The node name, `name@host`. @default `taskd@<hostname>` */
  hostname?: string;
  /** Deliveries after which a message is dead-lettered. @default 10 */
  maxDeliveries?: number;
  /** Append log lines to this file instead of stderr. @default undefined (stderr) */
  logfile?: string;
  /** Where task bodies run: `async` (the event loop) or `threads` (needs `module`). @default "async" */
  pool?: string;
  /** The task module's path, which each thread of the threads pool imports. */
  module?: string;
  /** The lowest log level written (set up with the logging signals; pool threads too). @default "info" */
  loglevel?: string;
  /** Send task and worker events on `<prefix>.events.…`. @default true */
  sendEvents?: boolean;
  /** Seconds between heartbeats. @default 2 */
  heartbeatInterval?: number;
}

/** Seconds between worker heartbeats (Celery's). */
export const HEARTBEAT_SECONDS = 2;

/** What the worker remembers of a received message that waits for a rate limit or a slot. */
type Held = TaskInfo;

/** A worker serving the tasks of `apps`. */
export class Worker implements ControlTarget {
  /** The node name. */
  readonly hostname: string;
  /** Tasks run at once. */
  readonly concurrency: number;
  /** Received messages held at most (running, waiting for a rate limit or a slot). */
  readonly prefetch: number;
  /** Queues consumed. */
  readonly queues: string[];
  /** Tasks served, by name. */
  readonly registry: Map<string, Task> = new Map();
  /** @internal the execution slots. */
  readonly slots: Slots;
  /** Running tasks by id. */
  readonly active: Map<string, ActiveTask> = new Map();
  readonly #keepAlive = new Set<JsMsg>();
  readonly #revoked = new RevokedSet();
  readonly #consumers = new Map<string, ConsumerMessages>();
  #scheduler?: Scheduler;
  #nc?: NatsConnection;
  #broker?: Broker;
  #running = false;
  #loops: Promise<void>[] = [];
  #timers: ReturnType<typeof setInterval>[] = [];
  #stopping?: Promise<void>;
  #pool?: Pool;
  #events?: EventDispatcher;
  #control?: ControlServer;
  readonly #limits = new RateLimiter();
  readonly #globalRates = new Map<string, number>();
  #global?: GlobalRateLimiter;
  readonly #held = new Map<JsMsg, Held>();
  readonly #reserve: Slots;
  readonly #wakers = new Set<() => void>();
  readonly #counts = new Map<string, number>();
  /** Ids this worker terminated (recent ones), so a second revoke (KV watch and broadcast) reports them. */
  readonly #terminated = new Set<string>();
  #startedAt = Date.now();
  #resolveStopped!: () => void;
  /** Resolves once the worker stopped (by a signal, `stop()` or remote `shutdown`). */
  readonly stopped: Promise<void> = new Promise((r) => (this.#resolveStopped = r));
  /** Tasks this worker finished. */
  processed = 0;
  /** The pool kind. */
  readonly poolKind: string;

  /** A worker for `apps` (call `start()`). */
  constructor(readonly apps: readonly App[], readonly options: WorkerOptions = {}) {
    if (apps.length === 0) throw new TypeError("Cannot start a worker: the module created no App; export one with `new App(\"name\")`");
    for (const app of apps) for (const [name, task] of app.tasks) this.registry.set(name, task);
    const first = apps[0];
    this.hostname = options.hostname ?? `taskd@${osHostname()}`;
    this.concurrency = options.concurrency ?? DEFAULTS.concurrency;
    this.slots = new Slots(this.concurrency);
    this.prefetch = options.prefetch ?? this.concurrency * (first.config.workerPrefetchMultiplier ?? DEFAULTS.prefetchMultiplier);
    if (!(this.prefetch >= 1)) throw new RangeError(`Cannot start a worker: prefetch must be >= 1: current value is ${this.prefetch}`);
    const queues = options.queues?.length
      ? options.queues
      : [...new Set([first.config.taskDefaultQueue ?? DEFAULTS.queue, ...[...this.registry.values()].map((t) => t.queue).filter((q): q is string => !!q)])];
    this.queues = queues.map((q) => checkName("queue", q));
    this.maxDeliveries = options.maxDeliveries ?? DEFAULTS.maxDeliveries;
    this.#reserve = new Slots(this.prefetch);
    this.poolKind = options.pool ?? "async";
    for (const [name, task] of this.registry) {
      try {
        this.#limits.set(name, task.effective("rateLimit"));
        const g = parseRate(task.globalRateLimit);
        if (g !== undefined) this.#globalRates.set(name, g);
      } catch (e) {
        throw new RangeError(`Cannot start a worker: task ${name} has a bad rate limit: ${(e as Error).message}`);
      }
    }
  }

  /** Deliveries after which a message is dead-lettered. */
  readonly maxDeliveries: number;

  /** Connects, sets up queues and starts consuming; resolves once ready. */
  async start(): Promise<void> {
    const app = this.apps[0];
    await signals.celerydInit.send(this.hostname, { instance: this, conf: app.config, options: this.options });
    await setupLogging({ loglevel: this.options.loglevel, logfile: this.options.logfile });
    this.#nc = await this.#connect(app);
    // The worker owns stream and bucket settings: what it opens is brought to its config.
    ownSettings(this.#nc);
    for (const a of this.apps) {
      a.adoptConnection(this.#nc);
      // Subtasks sent from here are not awaited here: they ask for no reply.
      a.sendReplies = false;
    }
    this.#broker = await app.broker();
    await this.#broker.ensureStreams();
    // Apply resultExpires and the bounds now, not at the first result (docs/limits.md).
    for (const a of this.apps) {
      await a.backend.kv();
      await canvasBucket(a);
    }
    for (const q of this.queues) await this.#broker.ensureQueueConsumer(q);
    await signals.celerydAfterSetup.send(this.hostname, { instance: this, conf: app.config });
    await this.#revoked.start(app, (id, terminate) => {
      if (terminate) this.revoke([id], true);
    });
    await signals.workerInit.send(this, { worker: this });
    // workerProcessInit fires per execution unit: once for the async pool (this thread), in
    // each thread for the threads pool.
    this.#pool = await createPool(this.poolKind, {
      size: this.concurrency,
      module: this.options.module,
      brokerUrl: app.brokerUrl(),
      loglevel: this.options.loglevel,
      hostname: this.hostname,
    });
    await this.#pool.start();
    this.#events = new EventDispatcher(this.#nc, app.names.prefix, this.hostname, this.options.sendEvents ?? true);
    this.#control = new ControlServer(this.#nc, app.names.controlSubject, this);
    await this.#control.start();
    if (this.#globalRates.size > 0) this.#global = new GlobalRateLimiter(this.#nc, `${app.names.prefix}_ratelimits`, app.config.replicas ?? DEFAULTS.replicas);
    this.#startedAt = Date.now();
    this.#running = true;
    this.#scheduler = new Scheduler(this.#broker);
    this.#scheduler.start();
    for (const q of this.queues) this.#loops.push(this.#consumeLoop(q));
    // Late-acked and running messages: tell the server we are alive well inside ack_wait.
    this.#timers.push(setInterval(() => {
      for (const m of this.#keepAlive) m.working();
      for (const m of this.#held.keys()) m.working();
    }, ACK_WAIT_MS / 3));
    const freq = this.options.heartbeatInterval ?? HEARTBEAT_SECONDS;
    this.#timers.push(setInterval(() => this.#heartbeat(freq), freq * 1000));
    await signals.workerReady.send(this, { worker: this });
    this.#events.send("worker-online", { freq, ...this.#load() });
    log.info(
      `${this.hostname} ready: consuming ${this.queues.join(",")} with ${this.registry.size} registered task${this.registry.size === 1 ? "" : "s"} (${this.poolKind} pool, concurrency ${this.concurrency}, prefetch ${this.prefetch})`,
    );
  }

  #load(): { active: number; processed: number; loadavg: number[] } {
    return { active: this.active.size, processed: this.processed, loadavg: loadavg().map((n) => Math.round(n * 100) / 100) };
  }

  async #heartbeat(freq: number): Promise<void> {
    this.#events?.send("worker-heartbeat", { freq, ...this.#load() });
    await signals.heartbeatSent.send(this, {}).catch(() => {});
  }

  async #connect(app: App): Promise<NatsConnection> {
    const url = app.brokerUrl();
    for (let attempt = 1;; attempt++) {
      try {
        const nc = await openConnection({
          servers: url,
          name: this.hostname,
          timeout: 2000,
          creds: app.config.creds,
          nkey: app.config.nkey,
          tlsCa: app.config.tlsCa,
          tlsCert: app.config.tlsCert,
          tlsKey: app.config.tlsKey,
          user: app.config.user,
          pass: app.config.pass,
          token: app.config.token,
        });
        this.#watchStatus(nc);
        if (attempt > 1) log.info(`connected to ${[url].flat().join(",")}`);
        return nc;
      } catch (e) {
        if (/authori[sz]ation|authentication/i.test(String((e as Error).message)) || this.#stopping) throw e;
        log.warn(`${(e as Error).message} (attempt ${attempt}; retrying in 1 s)`);
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }

  async #watchStatus(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      if (s.type === "disconnect") log.warn(`lost the broker connection (${"server" in s ? s.server : ""}); reconnecting`);
      else if (s.type === "reconnect") log.info(`reconnected to the broker (${"server" in s ? s.server : ""})`);
    }
  }

  async #consumeLoop(queue: string): Promise<void> {
    const ctx = this.#context();
    while (this.#running) {
      try {
        const consumer = await this.#broker!.queueConsumer(queue);
        const messages = await consumer.consume({ max_messages: batchPrefetch(this.registry, queue, this.prefetch), expires: PULL_EXPIRES_MS });
        this.#consumers.set(queue, messages);
        for await (const m of messages) {
          // Bounded prefetch: at most `prefetch` received messages wait or run at once.
          if (!this.#reserve.tryAcquire()) await this.#reserve.acquire();
          if (!this.#running) {
            this.#reserve.release();
            m.nak();
            continue;
          }
          this.#dispatch(ctx, m, queue);
        }
      } catch (e) {
        if (this.#running) log.warn(`consumer of queue ${queue} failed: ${(e as Error).message}`);
      }
      if (this.#running) {
        log.warn(`consumer of queue ${queue} stopped; re-creating it in 1 s`);
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }

  /**
   * Runs one received message: waits for its rate limits (holding no execution slot), then for
   * a free slot — any free slot, so a long task never holds up short ones — then executes it.
   */
  async #dispatch(ctx: ExecContext, m: JsMsg, queue: string): Promise<void> {
    const h = headersOf(m);
    const name = h[H.task] || "";
    const id = h[H.id] || "";
    this.#held.set(m, {
      id,
      name,
      argsrepr: h[H.argsrepr] || undefined,
      kwargsrepr: h[H.kwargsrepr] || undefined,
      hostname: this.hostname,
      deliveryInfo: { queue, redelivered: m.info.redelivered },
    });
    let slot = false;
    try {
      let wait = this.#limits.reserve(name);
      const perSecond = this.#globalRates.get(name);
      if (perSecond !== undefined && this.#global && !this.#revoked.has(id)) wait = Math.max(wait, await this.#globalReserve(name, perSecond));
      if (wait > 0) await this.#sleep(wait);
      if (this.#running) {
        if (!this.slots.tryAcquire()) await this.slots.acquire();
        slot = true;
      }
      this.#held.delete(m);
      if (!this.#running) {
        // Shutting down before it started: give it back at once.
        m.nak();
        return;
      }
      await execute(ctx, m, queue);
      this.processed++;
      this.#counts.set(name, (this.#counts.get(name) ?? 0) + 1);
    } catch (e) {
      log.error(`internal error while dispatching message ${m.seq}: ${(e as Error).message}; it will be delivered again`);
      m.nak(1000);
    } finally {
      this.#held.delete(m);
      if (slot) this.slots.release();
      this.#reserve.release();
    }
  }

  async #globalReserve(name: string, perSecond: number): Promise<number> {
    for (;;) {
      try {
        return await this.#global!.reserve(name, perSecond);
      } catch (e) {
        if (!this.#running) return 0;
        log.warn(`could not reserve a start of ${name} under its global rate limit: ${(e as Error).message}; retrying in 1 s`);
        await this.#sleep(1000);
      }
    }
  }

  /** Sleeps `ms`, or less when the worker stops. */
  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t);
        this.#wakers.delete(done);
        resolve();
      };
      const t = setTimeout(done, ms);
      this.#wakers.add(done);
    });
  }

  // ControlTarget: what remote control sees and changes.

  /** Registered task names. */
  inspectRegistered(): string[] {
    return [...this.registry.keys()].sort();
  }

  /** Running tasks. */
  inspectActive(): TaskInfo[] {
    return [...this.active.values()].map(({ request, started }) => ({
      id: request.id,
      name: request.taskName,
      argsrepr: request.argsrepr,
      kwargsrepr: request.kwargsrepr,
      hostname: this.hostname,
      timeStart: started / 1000,
      retries: request.retries,
      deliveryInfo: request.deliveryInfo ? { queue: request.deliveryInfo.queue, redelivered: request.deliveryInfo.redelivered } : undefined,
    }));
  }

  /** Received tasks waiting for a rate limit or a slot. */
  inspectReserved(): TaskInfo[] {
    return [...this.#held.values()];
  }

  /** Statistics for `inspect stats`. */
  inspectStats(): Record<string, unknown> {
    return {
      hostname: this.hostname,
      pid: process.pid,
      runtime: `${runtime.name} ${runtime.version}`,
      pool: this.#pool?.stats() ?? { kind: this.poolKind, maxConcurrency: this.concurrency },
      prefetchCount: this.prefetch,
      queues: this.queues,
      uptime: Math.round((Date.now() - this.#startedAt) / 1000),
      processed: this.processed,
      total: Object.fromEntries(this.#counts),
      rateLimits: this.#limits.entries(),
      globalRateLimits: Object.fromEntries(this.#globalRates),
      rusage: process.memoryUsage?.(),
    };
  }

  /** Revoked ids this worker knows of. */
  inspectRevoked(): string[] {
    return [...this.#revoked.ids];
  }

  /** Marks `ids` revoked; with `terminate`, stops those running here. Returns the ids stopped. */
  revoke(ids: string[], terminate: boolean): string[] {
    const stopped: string[] = [];
    for (const id of ids) {
      this.#revoked.ids.add(id);
      const a = this.active.get(id);
      if (terminate && this.#terminated.has(id)) stopped.push(id);
      else if (terminate && a?.execution) {
        this.#terminated.add(id);
        if (this.#terminated.size > 1000) this.#terminated.delete(this.#terminated.values().next().value!);
        log.warn(`Terminating ${a.task.name}[${id}]: revoked with terminate`);
        a.execution.kill({ kind: "revoked", error: new TaskRevokedError(`Task ${id} was revoked and terminated while it ran`, { taskId: id, taskName: a.task.name }) });
        stopped.push(id);
      }
    }
    return stopped;
  }

  /** Sets the per-worker rate limit of `task` (`null`/`0`: none). */
  setRateLimit(task: string, rate: string | number | null): void {
    const t = this.registry.get(task);
    if (!t) throw new TypeError(`Cannot set the rate limit of ${task}: no task of that name is registered on ${this.hostname}`);
    this.#limits.set(task, rate);
    t.rateLimit = rate ?? undefined;
    log.info(`rate limit of ${task} set to ${rate ?? "none"}`);
  }

  /** Begins a warm shutdown (remote control). */
  shutdown(): void {
    this.stop(false);
  }

  #context(): ExecContext {
    return {
      hostname: this.hostname,
      registry: this.registry,
      isRevoked: (id) => this.#revoked.has(id),
      keepAlive: this.#keepAlive,
      fallbackApp: this.apps[0],
      broker: this.#broker!,
      active: this.active,
      maxDeliveries: this.maxDeliveries,
      pool: this.#pool!,
      events: this.#events,
    };
  }

  /**
   * Stops: stop fetching, let running tasks finish (warm), then close. With `cold`, running
   * tasks are aborted and late-acked messages nak'ed so they come back at once.
   */
  stop(cold = false, sig = "SIGTERM"): Promise<void> {
    const shuttingDown = signals.workerShuttingDown.send(this.hostname, { sig, how: cold ? "cold" : "warm", exitcode: cold ? 1 : 0 });
    if (cold) {
      for (const { abort } of this.active.values()) abort.abort(new Error("worker shutting down (cold)"));
      for (const m of this.#keepAlive) m.nak();
      this.#keepAlive.clear();
      // As Celery's cold shutdown: running tasks are stopped and nothing is stored for them;
      // late-acked ones were just nak'ed and come back, early-acked ones are lost.
      for (const { execution } of this.active.values()) execution?.kill({ kind: "ignored", ignore: new Ignore("worker shut down (cold) while the task ran") });
    }
    // Batches flush what they buffered and finish running batches before the worker closes.
    this.#stopping ??= Promise.all([shuttingDown, closeBatchBuffers()]).then(() => this.#stop());
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    this.#running = false;
    this.#scheduler?.stop();
    this.#control?.stop();
    for (const c of this.#consumers.values()) c.stop();
    for (const wake of [...this.#wakers]) wake();
    log.info(`${this.hostname} shutting down: waiting for ${this.active.size} running task(s)`);
    await this.slots.idle();
    for (const t of this.#timers) clearInterval(t);
    this.#revoked.stop();
    await this.#pool?.stop().catch((e) => log.warn(`pool did not stop cleanly: ${(e as Error).message}`));
    this.#events?.send("worker-offline", this.#load());
    await signals.workerShutdown.send(this, { worker: this });
    if (this.#nc && !this.#nc.isClosed()) await this.#nc.drain().catch(() => this.#nc?.close());
    this.#resolveStopped();
  }
}

// Signal arguments name these classes (src/signals/args.ts).
declare module "../signals/args.ts" {
  interface SignalTypes {
    worker: Worker;
    workerOptions: WorkerOptions;
  }
}
