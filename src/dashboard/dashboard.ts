/**
 * `Dashboard`: what `taskd dashboard` runs. It serves the page and the JSON API over HTTP
 * (routes.ts), keeps the task index from the history stream (history.ts), the workers from
 * worker events, and pushes changes to open pages (live.ts). The HTTP side starts first, so a
 * broker that is down shows a banner instead of a dead page; the dashboard connects (and
 * reconnects) in the background.
 * @module
 */
import { randomBytes } from "node:crypto";
import type { NatsConnection, Subscription } from "@nats-io/nats-core";
import type { App } from "../app/app.ts";
import type { Broker } from "../nats/broker.ts";
import type { TaskdEvent } from "../events/event.ts";
import { getLogger } from "../log/logger.ts";
import { type HttpServer, runtime } from "../runtime/mod.ts";
import { ensureHistory, HistoryFollower, type HistoryOptions } from "./history.ts";
import { DEFAULT_MAX_TASKS, summary, TaskIndex } from "./index.ts";
import { LiveHub } from "./live.ts";
import { QueueReader, type QueuesView } from "./queues.ts";
import { routes } from "./routes.ts";
import { WorkerTable } from "./workers.ts";
import { type EventsLease, holdEventsLease } from "../events/listeners.ts";

const log = getLogger("taskd.dashboard");

/** The dashboard's port. @default 5555 (Flower's) */
export const DEFAULT_DASHBOARD_PORT = 5555;
/** The interface it binds. @default 127.0.0.1 */
export const DEFAULT_DASHBOARD_HOST = "127.0.0.1";

/** Options of {@link Dashboard}. */
export interface DashboardOptions extends HistoryOptions {
  /** TCP port; 0 picks a free one. @default DEFAULT_DASHBOARD_PORT */
  port?: number;
  /** Interface to bind. @default DEFAULT_DASHBOARD_HOST */
  host?: string;
  /** `user:pass`: every page and API call needs HTTP basic auth with it. @default none */
  auth?: string;
  /** Tasks kept in the in-memory index. @default DEFAULT_MAX_TASKS */
  maxTasks?: number;
}

/** The dashboard service. */
export class Dashboard {
  readonly index: TaskIndex;
  readonly workers: WorkerTable;
  readonly queues: QueueReader;
  readonly live = new LiveHub();
  /** The token POSTs must carry in `x-taskd-csrf` (the page has it). */
  readonly csrfToken = randomBytes(24).toString("base64url");
  #server?: HttpServer;
  #lease?: EventsLease;
  #broker?: Broker;
  #nc?: NatsConnection;
  #follower?: HistoryFollower;
  #sub?: Subscription;
  #stopped = false;
  #brokerUp = false;
  #brokerError = "connecting";
  #queueTimer?: ReturnType<typeof setInterval>;

  /** @param app the app whose broker and prefix the dashboard watches */
  constructor(readonly app: App, readonly options: DashboardOptions = {}) {
    const port = options.port ?? DEFAULT_DASHBOARD_PORT;
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError(`Cannot start the dashboard: 'port' must be 0…65535: current value is ${options.port}`);
    if (options.auth !== undefined && !/^[^:]+:.+$/.test(options.auth)) throw new TypeError("Cannot start the dashboard: give --auth as user:pass");
    this.index = new TaskIndex(options.maxTasks ?? DEFAULT_MAX_TASKS);
    this.workers = new WorkerTable(app.control);
    this.queues = new QueueReader(() => this.broker(), () => this.app.control.pausedQueues());
  }

  /** The port it listens on (after `start()`). */
  get port(): number {
    return this.#server?.port ?? 0;
  }

  /** Whether the broker is connected now. */
  get brokerUp(): boolean {
    return this.#brokerUp;
  }

  /** Why the broker is not connected (empty when it is). */
  get brokerError(): string {
    return this.#brokerUp ? "" : this.#brokerError;
  }

  /** Whether the history replay is over. */
  get replayed(): boolean {
    return this.#follower?.isReplayed ?? false;
  }

  /** The broker, or an error saying it is not reachable. */
  broker(): Promise<Broker> {
    if (!this.#broker || !this.#brokerUp) return Promise.reject(new Error(`the broker is not reachable (${this.#brokerError || "connecting"})`));
    return Promise.resolve(this.#broker);
  }

  /** Starts serving, then connects to the broker in the background. */
  async start(): Promise<void> {
    const app = routes(this);
    this.#server = await runtime.serve((req) => app.fetch(req), { hostname: this.options.host ?? DEFAULT_DASHBOARD_HOST, port: this.options.port ?? DEFAULT_DASHBOARD_PORT });
    void this.#connect();
    this.#queueTimer = setInterval(() => this.#pushQueues(), 2000);
  }

  /** Resolves once the history is replayed (for tests and the bench). */
  async ready(): Promise<void> {
    while (!this.#follower && !this.#stopped) await new Promise((r) => setTimeout(r, 50));
    await this.#follower?.replayed();
  }

  async #connect(): Promise<void> {
    for (let attempt = 1; !this.#stopped; attempt++) {
      try {
        this.#nc = await this.app.connection();
        break;
      } catch (e) {
        this.#brokerError = (e as Error).message;
        if (attempt === 1) log.warn(`${this.#brokerError}; retrying every second`);
        this.live.send("broker", { up: false, error: this.#brokerError });
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
    if (this.#stopped || !this.#nc) return;
    const nc = this.#nc;
    this.#broker = await this.app.broker();
    this.#setUp(true);
    void this.#watch(nc);
    // Workers send task events while someone listens (src/events/listeners.ts): the dashboard does.
    try {
      this.#lease = await holdEventsLease(this.app, "taskd dashboard");
    } catch (e) {
      log.warn(`could not ask workers for task events: ${(e as Error).message}`);
    }
    for (;;) {
      try {
        await ensureHistory(this.#broker, this.options);
        break;
      } catch (e) {
        if (this.#stopped) return;
        log.warn(`cannot create the history stream: ${(e as Error).message}; retrying`);
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
    this.#sub = nc.subscribe(`${this.app.names.eventsSubject}.worker.>`, {
      callback: (err, m) => {
        if (err) return;
        try {
          const w = this.workers.apply(m.json<TaskdEvent>());
          if (w) this.live.send("worker", { ...w, alive: this.workers.alive(w) });
        } catch { /* not an event */ }
      },
    });
    this.#follower = new HistoryFollower(this.#broker, (e, live) => {
      const r = this.index.apply(e);
      if (r && live) this.live.task(r.id, summary(r));
    });
    this.#follower.start();
    void this.#follower.replayed().then(() => {
      log.info(`history replayed: ${this.index.size} tasks`);
      this.live.send("replayed", { indexed: this.index.size });
    });
  }

  async #watch(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      if (s.type === "disconnect") {
        this.#brokerError = "lost the broker connection; reconnecting";
        log.warn(this.#brokerError);
        this.#setUp(false);
      } else if (s.type === "reconnect") {
        log.info("reconnected to the broker");
        this.#setUp(true);
      }
    }
  }

  #setUp(up: boolean): void {
    this.#brokerUp = up;
    this.live.send("broker", { up, error: this.brokerError });
  }

  /**
   * The queues with the alive workers consuming each (as their last `inspect stats` said; with
   * `inspect`, asked now, at most once a second).
   */
  async queuesView(inspect = false): Promise<QueuesView> {
    const [view] = await Promise.all([this.queues.read(), inspect ? this.workers.inspect() : undefined]);
    const alive = this.workers.list().filter((w) => w.alive && w.stats);
    const known = alive.length > 0;
    return {
      ...view,
      queues: view.queues.map((q) => ({
        ...q,
        workers: known ? alive.filter((w) => ((w.stats!.queues as string[] | undefined) ?? []).includes(q.name)).map((w) => w.hostname) : null,
      })),
    };
  }

  async #pushQueues(): Promise<void> {
    if (this.live.size === 0 || !this.#brokerUp) return;
    try {
      this.live.send("queues", await this.queuesView());
    } catch { /* the banner says why */ }
  }

  /** Stops serving and following; the app's connection is the caller's to close. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#queueTimer) clearInterval(this.#queueTimer);
    this.#follower?.stop();
    this.#sub?.unsubscribe();
    await this.#lease?.release();
    this.live.close();
    await this.#server?.stop();
  }
}
