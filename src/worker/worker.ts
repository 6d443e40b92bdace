/**
 * `Worker`: serves the tasks of one or more apps. It connects (retrying, with a visible
 * message, until the broker answers), creates its queues' consumers, runs the delay
 * scheduler, consumes with bounded prefetch into a pool of `concurrency` slots, watches its
 * own consume loops (re-creating one that ends, as after a broker restart), and shuts down
 * warm on the first SIGTERM/SIGINT, cold on the second.
 * @module
 */
import type { ConsumerMessages, JsMsg } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { hostname as osHostname } from "node:os";
import type { App } from "../app/app.ts";
import type { Task } from "../app/task.ts";
import { DEFAULTS } from "../app/options.ts";
import { openConnection } from "../nats/connection.ts";
import { ACK_WAIT_MS, type Broker, PULL_EXPIRES_MS } from "../nats/broker.ts";
import { RevokedSet } from "../nats/revoked.ts";
import { checkName } from "../nats/names.ts";
import { getLogger } from "../log/logger.ts";
import { setupLogging } from "../log/setup.ts";
import { signals } from "../signals/signals.ts";
import { execute, type ExecContext } from "./execute.ts";
import { Scheduler } from "./scheduler.ts";
import { Slots } from "./slots.ts";
import { batchPrefetch } from "./batches.ts";

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
  /** The lowest log level written (set up with the logging signals). @default the level in force */
  loglevel?: string;
  /** Append log lines to this file instead of stderr. @default undefined (stderr) */
  logfile?: string;
}

/** A worker serving the tasks of `apps`. */
export class Worker {
  readonly hostname: string;
  readonly concurrency: number;
  readonly prefetch: number;
  readonly queues: string[];
  readonly registry: Map<string, Task> = new Map();
  readonly slots: Slots;
  readonly active: ExecContext["active"] = new Map();
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
  /** Tasks this worker finished. */
  processed = 0;

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
  }

  readonly maxDeliveries: number;

  /** Connects, sets up queues and starts consuming; resolves once ready. */
  async start(): Promise<void> {
    const app = this.apps[0];
    await signals.celerydInit.send(this.hostname, { instance: this, conf: app.config, options: this.options });
    await setupLogging({ loglevel: this.options.loglevel, logfile: this.options.logfile });
    this.#nc = await this.#connect(app);
    for (const a of this.apps) a.adoptConnection(this.#nc);
    this.#broker = await app.broker();
    await this.#broker.ensureStreams();
    for (const q of this.queues) await this.#broker.ensureQueueConsumer(q);
    await signals.celerydAfterSetup.send(this.hostname, { instance: this, conf: app.config });
    await this.#revoked.start(app);
    await signals.workerInit.send(this, { worker: this });
    // The async pool has one execution unit, this thread: it starts here (the threads pool
    // sends these signals in each of its threads instead).
    await signals.workerProcessInit.send(this.hostname, { pid: process.pid, pool: "async" });
    this.#running = true;
    this.#scheduler = new Scheduler(this.#broker);
    this.#scheduler.start();
    for (const q of this.queues) this.#loops.push(this.#consumeLoop(q));
    // Late-acked and running messages: tell the server we are alive well inside ack_wait.
    this.#timers.push(setInterval(() => {
      for (const m of this.#keepAlive) m.working();
    }, ACK_WAIT_MS / 3));
    await signals.workerReady.send(this, { worker: this });
    log.info(
      `${this.hostname} ready: consuming ${this.queues.join(",")} with ${this.registry.size} registered task${this.registry.size === 1 ? "" : "s"} (async pool, concurrency ${this.concurrency}, prefetch ${this.prefetch})`,
    );
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
          await this.slots.acquire();
          if (!this.#running) {
            this.slots.release();
            m.nak();
            continue;
          }
          execute(ctx, m, queue).finally(() => {
            this.processed++;
            this.slots.release();
          });
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
    }
    this.#stopping ??= shuttingDown.then(() => this.#stop());
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    this.#running = false;
    this.#scheduler?.stop();
    for (const c of this.#consumers.values()) c.stop();
    log.info(`${this.hostname} shutting down: waiting for ${this.slots.busy} running task(s)`);
    await this.slots.idle();
    for (const t of this.#timers) clearInterval(t);
    this.#revoked.stop();
    await signals.workerProcessShutdown.send(this.hostname, { pid: process.pid, exitcode: 0, pool: "async" });
    await signals.workerShutdown.send(this, { worker: this });
    if (this.#nc && !this.#nc.isClosed()) await this.#nc.drain().catch(() => this.#nc?.close());
  }
}
