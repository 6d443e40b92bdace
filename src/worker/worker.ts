/**
 * `Worker`: serves the tasks of one or more apps. It connects (retrying, with a visible
 * message, until the broker answers), creates its queues' consumers, runs the delay
 * scheduler, consumes with bounded prefetch into `concurrency` slots of its pool (async or
 * threads), holds rate-limited messages without taking a slot, answers remote control, sends
 * events and heartbeats, watches its own consume loops (re-creating one that ends, as after a
 * broker restart), and shuts down warm on the first SIGTERM/SIGINT, cold on the second.
 * @module
 */
import type { JsMsg } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { hostname as osHostname, loadavg } from "node:os";
import process from "node:process";
import type { App } from "../app/app.ts";
import type { Task } from "../app/task.ts";
import { DEFAULTS } from "../app/options.ts";
import { authOptions, connectWithRetry } from "../nats/connection.ts";
import { retryTransient } from "../nats/retry.ts";
import { ACK_WAIT_MS, type Broker } from "../nats/broker.ts";
import { RevokedSet } from "../nats/revoked.ts";
import { canvasBucket } from "../nats/canvas_store.ts";
import { ownSettings } from "../nats/settings.ts";
import { checkName } from "../nats/names.ts";
import { getLogger } from "../log/logger.ts";
import { redirectConsole, redirectLevel } from "../log/redirect.ts";
import { setupLogging } from "../log/setup.ts";
import { signals } from "../signals/signals.ts";
import { Ignore } from "../errors/semipredicates.ts";
import { parseRate } from "../protocol/rate.ts";
import type { MessageVerifier } from "../protocol/signing.ts";
import { verifierOf } from "../app/signing.ts";
import { ControlServer } from "../control/server.ts";
import type { ControlTarget } from "../control/protocol.ts";
import { EventDispatcher } from "../events/dispatcher.ts";
import { TaskEventsSwitch } from "../events/listeners.ts";
import { WorkerMetrics } from "./metrics.ts";
import type { ActiveTask, ExecContext } from "./execute.ts";
import { createPool, type Pool } from "./pool/pool.ts";
import { GlobalRateLimiter } from "./ratelimit.ts";
import { Scheduler } from "./scheduler.ts";
import { Slots } from "./slots.ts";
import { closeBatchBuffers } from "./batch_buffer.ts";
import { CHORD_TIMEOUT_TASK, registerCanvasTasks } from "../canvas/settle.ts";
import { ConsumeLoops } from "./consume.ts";
import { DeliveryDoubt } from "./doubt.ts";
import { WorkerControl } from "./control_target.ts";
import { PausedQueues } from "../nats/pause.ts";
import { ConcurrencyGate } from "./concurrency.ts";
import { LEASE_TTL_SECONDS, Leases } from "./leases.ts";

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
  /**
   * A task's console output goes through the task logger (Celery's `worker_redirect_stdouts`),
   * `console.log`/`info`/`debug` at `redirectStdoutsLevel`. @default true
   */
  redirectStdouts?: boolean;
  /** The level redirected `console.log` lines get (Celery's `worker_redirect_stdouts_level`). @default "warn" */
  redirectStdoutsLevel?: string;
  /** Send task and worker events on `<prefix>.events.…`. @default true */
  sendEvents?: boolean;
  /** Seconds between heartbeats. @default 2 */
  heartbeatInterval?: number;
  /**
   * Send task events whether or not anyone listens (`-E`). Otherwise they are sent only while
   * a listener (`taskd events`, the dashboard) holds a lease, or after `enable_events`.
   * @default false
   */
  taskEvents?: boolean;
  /** Serve Prometheus metrics on this port (`/metrics`; 0: any free port). @default undefined (none) */
  metricsPort?: number;
}

/** How long a starting worker retries its JetStream set-up through a cluster's election (ms). */
const SETUP_RETRY_MS = 120_000;

/** Seconds between worker heartbeats (Celery's). */
export const HEARTBEAT_SECONDS = 2;

/** A worker serving the tasks of `apps`. */
export class Worker {
  /** The node name. */
  readonly hostname: string;
  /** Tasks run at once. */
  readonly concurrency: number;
  /** Received messages held at most (running, waiting for a rate limit or a slot). */
  prefetch!: number;
  /** Queues consumed. */
  readonly queues: string[];
  /** Tasks served, by name. */
  readonly registry: Map<string, Task> = new Map();
  /** @internal the execution slots. */
  readonly slots: Slots;
  /** Running tasks by id. */
  readonly active: Map<string, ActiveTask> = new Map();
  /** @ignore Revoked task ids, fed by the revocations bucket: internal state. */
  readonly revoked: RevokedSet = new RevokedSet();
  /** @ignore The consume loops, with the messages they hold and the rate limits: internal state. */
  loops!: ConsumeLoops;
  /** What remote control sees and changes. */
  readonly control: ControlTarget = new WorkerControl(this);
  /** When the worker became ready (ms since the epoch). */
  startedAt: number = Date.now();
  /** The pool kind. */
  readonly poolKind: string;
  /** Deliveries after which a message is dead-lettered. */
  readonly maxDeliveries: number;
  #resolveStopped!: () => void;
  /** Resolves once the worker stopped (by a signal, `stop()` or remote `shutdown`). */
  readonly stopped: Promise<void> = new Promise((r) => (this.#resolveStopped = r));
  readonly #keepAlive = new Set<JsMsg>();
  #scheduler?: Scheduler;
  #nc?: NatsConnection;
  #broker?: Broker;
  #timers: ReturnType<typeof setInterval>[] = [];
  #stopping?: Promise<void>;
  #pool?: Pool;
  #events?: EventDispatcher;
  /** @ignore Task events on demand (src/events/listeners.ts): internal state. */
  readonly taskEvents: TaskEventsSwitch;
  /** @ignore The metrics it serves, with `metricsPort`: internal state. */
  readonly metrics?: WorkerMetrics;
  /** The port metrics are served on, once started (with `metricsPort`). */
  metricsPort?: number;
  #controlServer?: ControlServer;
  #verifier?: MessageVerifier;
  #restoreConsole?: () => void;
  readonly #doubt = new DeliveryDoubt();
  #pauseWatch?: { stop(): void };
  #gate?: ConcurrencyGate;

  /** A worker for `apps` (call `start()`). */
  constructor(readonly apps: readonly App[], readonly options: WorkerOptions = {}) {
    if (apps.length === 0) throw new TypeError("Cannot start a worker: the module created no App; export one with `new App(\"name\")`");
    for (const app of apps) registerCanvasTasks(app); // taskd.chord_timeout (chordTimeout)
    for (const app of apps) for (const [name, task] of app.tasks) this.registry.set(name, task);
    const first = apps[0];
    this.hostname = options.hostname ?? `taskd@${osHostname()}`;
    this.concurrency = options.concurrency ?? DEFAULTS.concurrency;
    this.slots = new Slots(this.concurrency);
    const queues = options.queues?.length
      ? options.queues
      : [...new Set([first.config.taskDefaultQueue ?? DEFAULTS.queue, ...[...this.registry.values()].map((t) => t.queue).filter((q): q is string => !!q)])];
    this.queues = queues.map((q) => checkName("queue", q));
    this.maxDeliveries = options.maxDeliveries ?? DEFAULTS.maxDeliveries;
    this.poolKind = options.pool ?? "async";
    this.taskEvents = new TaskEventsSwitch(options.taskEvents ?? false, (on) => log.info(`task events ${on ? "on" : "off"} (${this.taskEvents.listeners} listener(s))`));
    if (options.metricsPort !== undefined) this.metrics = new WorkerMetrics(() => this.active.size, () => this.#broker, () => this.queues);
    this.#configure();
  }

  /**
   * Reads what the apps' config decides — prefetch and rate limits — into the consume loops. Run
   * at construction and again after celerydInit, whose handlers may change the config (Celery's
   * per-worker `conf.task_default_rate_limit`, `worker_prefetch_multiplier`).
   */
  #configure(): void {
    const first = this.apps[0];
    this.prefetch = this.options.prefetch ?? this.concurrency * (first.config.workerPrefetchMultiplier ?? DEFAULTS.prefetchMultiplier);
    if (!(this.prefetch >= 1)) throw new RangeError(`Cannot start a worker: prefetch must be >= 1: current value is ${this.prefetch}`);
    this.loops = new ConsumeLoops({ hostname: this.hostname, registry: this.registry, prefetch: this.prefetch, slots: this.slots, isRevoked: (id) => this.revoked.has(id) });
    for (const [name, task] of this.registry) {
      try {
        this.loops.limits.set(name, task.effective("rateLimit"));
        const g = parseRate(task.globalRateLimit);
        if (g !== undefined) this.loops.globalRates.set(name, g);
      } catch (e) {
        throw new RangeError(`Cannot start a worker: task ${name} has a bad rate limit: ${(e as Error).message}`);
      }
    }
  }

  /**
   * Adds a queue to consume, before the worker is ready (a celerydAfterSetup handler's use, as
   * Celery's `instance.app.amqp.queues.select_add`). Throws a `TypeError` on a bad queue name.
   */
  addQueue(queue: string): void {
    const q = checkName("queue", queue);
    if (!this.queues.includes(q)) this.queues.push(q);
  }

  /** Tasks this worker finished. */
  get processed(): number {
    return this.loops.processed;
  }

  /** The pool's statistics (its kind and size before it started). */
  poolStats(): unknown {
    return this.#pool?.stats() ?? { kind: this.poolKind, maxConcurrency: this.concurrency };
  }

  /** Connects, sets up queues and starts consuming; resolves once ready. */
  async start(): Promise<void> {
    const app = this.apps[0];
    this.#verifier = verifierOf(app.config);
    await signals.celerydInit.send(this.hostname, { instance: this, conf: app.config, options: this.options });
    this.#configure();
    await setupLogging({ loglevel: this.options.loglevel, logfile: this.options.logfile });
    if (this.options.redirectStdouts ?? true) this.#restoreConsole = redirectConsole(redirectLevel(this.options.redirectStdoutsLevel));
    this.#nc = await connectWithRetry(
      { servers: app.brokerUrl(), name: this.hostname, timeout: 2000, ...authOptions(app.config) },
      log,
      () => this.#stopping !== undefined,
    );
    // The worker owns stream and bucket settings: what it opens is brought to its config.
    ownSettings(this.#nc);
    this.#watchStatus(this.#nc);
    this.#doubt.watchLeaders(this.#nc, app.names.tasksStream);
    for (const a of this.apps) {
      a.adoptConnection(this.#nc);
      // Subtasks sent from here are not awaited here: they ask for no reply.
      a.sendReplies = false;
    }
    this.#broker = await app.broker();
    // A cluster that lost a server elects new leaders for a while: ride it out, as connecting does.
    const setUp = <T>(what: string, fn: () => Promise<T>): Promise<T> =>
      retryTransient(fn, { deadlineMs: SETUP_RETRY_MS, maxDelayMs: 2000, onRetry: (e, n) => log.warn(`could not ${what} yet (${(e as Error).message}; attempt ${n}); retrying`) });
    await setUp("set up the streams", () => this.#broker!.ensureStreams());
    // Apply resultExpires and the bounds now, not at the first result (docs/limits.md).
    for (const a of this.apps) {
      await setUp("set up the results bucket", () => a.backend.kv());
      await setUp("set up the canvas bucket", () => canvasBucket(a));
    }
    await signals.celerydAfterSetup.send(this.hostname, { instance: this, conf: app.config });
    for (const q of this.queues) await setUp(`set up the consumer of queue ${q}`, () => this.#broker!.ensureQueueConsumer(q));
    await setUp("watch the revocations", () =>
      this.revoked.start(app, (id, terminate) => {
        if (terminate) this.control.revoke([id], true);
      }));
    await signals.workerInit.send(this, { worker: this });
    // workerProcessInit fires per execution unit: once for the async pool (this thread), in
    // each thread for the threads pool.
    this.#pool = await createPool(this.poolKind, {
      size: this.concurrency,
      module: this.options.module,
      brokerUrl: app.brokerUrl(),
      loglevel: this.options.loglevel,
      redirectStdouts: this.options.redirectStdouts ?? true ? redirectLevel(this.options.redirectStdoutsLevel) : undefined,
      hostname: this.hostname,
    });
    await this.#pool.start();
    this.#events = new EventDispatcher(this.#nc, app.names.prefix, this.hostname, this.options.sendEvents ?? true);
    if (this.options.sendEvents ?? true) {
      // Credentials that may not open the listeners' bucket leave task events to -E and enable_events.
      await setUp("watch for event listeners", () => this.taskEvents.start(app)).catch((e) => log.warn(`cannot watch for event listeners (${(e as Error).message}); task events only with -E or enable_events`));
    }
    if (this.metrics) this.metricsPort = await this.metrics.serve(this.options.metricsPort ?? 0);
    this.#controlServer = new ControlServer(this.#nc, app.names.controlSubject, this.control);
    await this.#controlServer.start();
    const global = this.loops.globalRates.size > 0 ? new GlobalRateLimiter(this.#nc, `${app.names.prefix}_ratelimits`, app.config.replicas ?? DEFAULTS.replicas) : undefined;
    this.startedAt = Date.now();
    this.#scheduler = new Scheduler(this.#broker, this.#context());
    this.#scheduler.start();
    // Flow control (docs/flow.md): paused queues are read before anything is consumed.
    const paused = new PausedQueues(() => Promise.resolve(this.#nc!), app.names.pausedBucket, app.config.replicas ?? DEFAULTS.replicas);
    this.#pauseWatch = await setUp("watch the paused queues", () =>
      paused.watch((queue, isPaused) => {
        if (!this.queues.includes(queue) || this.loops.isPaused(queue) === isPaused) return;
        log.info(`queue ${queue} ${isPaused ? "paused: its messages stay on the server" : "resumed"}`);
        this.loops.setPaused(queue, isPaused);
      }));
    if ([...this.registry.values()].some((t) => t.concurrency !== undefined)) {
      const ttl = Number(process.env.TASKD_LEASE_TTL) || LEASE_TTL_SECONDS;
      this.#gate = new ConcurrencyGate(this.#broker, new Leases(this.#nc, app.names.leasesBucket, this.hostname, ttl, app.config.replicas ?? DEFAULTS.replicas), this.registry, this.queues);
      await setUp("set up the concurrency leases", () => this.#gate!.start());
    }
    await this.loops.start(this.#broker, this.queues, this.#context(), global, { gate: this.#gate });
    // Late-acked and running messages: tell the server we are alive well inside ack_wait.
    this.#timers.push(setInterval(() => {
      for (const m of this.#keepAlive) m.working();
      for (const m of this.loops.held.keys()) m.working();
    }, ACK_WAIT_MS / 3));
    const freq = this.options.heartbeatInterval ?? HEARTBEAT_SECONDS;
    this.#timers.push(setInterval(() => this.#heartbeat(freq), freq * 1000));
    await signals.workerReady.send(this, { worker: this });
    this.#events.send("worker-online", { freq, ...this.#load() });
    const tasks = this.registry.size - (this.registry.has(CHORD_TIMEOUT_TASK) ? 1 : 0); // the user's tasks, as Celery's banner
    log.info(
      `${this.hostname} ready: consuming ${this.queues.join(",")} with ${tasks} registered task${tasks === 1 ? "" : "s"} (${this.poolKind} pool, concurrency ${this.concurrency}, prefetch ${this.prefetch})`,
    );
  }

  #load(): { active: number; processed: number; loadavg: number[] } {
    return { active: this.active.size, processed: this.processed, loadavg: loadavg().map((n) => Math.round(n * 100) / 100) };
  }

  async #heartbeat(freq: number): Promise<void> {
    const event = { type: "worker-heartbeat", hostname: this.hostname, timestamp: Date.now() / 1000, freq, ...this.#load() };
    this.#events?.send("worker-heartbeat", { freq, ...this.#load() });
    await signals.heartbeatSent.send(this, { event });
  }

  async #watchStatus(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      if (s.type === "disconnect") log.warn(`lost the broker connection (${"server" in s ? s.server : ""}); reconnecting`);
      else if (s.type === "reconnect") {
        log.info(`reconnected to the broker (${"server" in s ? s.server : ""})`);
        this.#doubt.raise();
      }
    }
  }

  #context(): ExecContext {
    const sw = this.taskEvents;
    const events = this.#events;
    return {
      hostname: this.hostname,
      registry: this.registry,
      isRevoked: (id) => this.revoked.has(id),
      verifier: this.#verifier,
      doubtful: () => this.#doubt.doubtful,
      keepAlive: this.#keepAlive,
      fallbackApp: this.apps[0],
      broker: this.#broker!,
      active: this.active,
      maxDeliveries: this.maxDeliveries,
      pool: this.#pool!,
      // Task events only while they are on: `ctx.events?.send(…)` then builds no event at all.
      get events() {
        return sw.on ? events : undefined;
      },
      metrics: this.metrics,
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
    this.loops.stop();
    this.#scheduler?.stop();
    this.#controlServer?.stop();
    log.info(`${this.hostname} shutting down: waiting for ${this.active.size} running task(s)`);
    await this.slots.idle();
    this.#pauseWatch?.stop();
    this.#gate?.stop();
    for (const t of this.#timers) clearInterval(t);
    this.revoked.stop();
    this.taskEvents.stop();
    await this.metrics?.stop();
    await this.#pool?.stop().catch((e) => log.warn(`pool did not stop cleanly: ${(e as Error).message}`));
    this.#events?.send("worker-offline", this.#load());
    await signals.workerShutdown.send(this, { worker: this });
    if (this.#nc && !this.#nc.isClosed()) await this.#nc.drain().catch(() => this.#nc?.close());
    this.#restoreConsole?.();
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
