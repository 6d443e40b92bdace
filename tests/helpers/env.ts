/**
 * The fixture most end-to-end tests share, after nats.js's `nst`: a real nats-server, the
 * compiled worker(s) serving a fixture module, a raw NATS connection, and the test's apps pointed
 * at that server. Teardown is explicit and in one place: `await using t = await startTaskd(…)`
 * inside a test, or `const t = useTaskd(…)` at the top of a `describe()` (before/after hooks).
 *
 * Clients get the server's URL passed in (`app.useBroker(url)` for the fixture modules' apps,
 * `{ broker: t.url }` for new ones); the process-wide `TASKD_BROKER_URL` is never set, and it is
 * removed once here so a broker configured in the developer's shell cannot leak into the tests.
 *
 * @example
 * ```ts
 * describe("tasks through dist/taskd", () => {
 *   const t = useTaskd({ module: "tasks.ts", args: ["-c", "4"], apps: [app] });
 *   test("add() runs on the worker", async () => {
 *     assert.equal(await (await add.delay(2, 3)).get({ timeout: 20 }), 5);
 *     assert.equal((await t.cli(["call", "tasks.add", "2", "3", "--wait"])).stdout.trim(), "5");
 *     assert.deepEqual(await t.deadLetters(), []);
 *   });
 * });
 * ```
 * @module
 */
import process from "node:process";
import { after, before } from "node:test";
import { connect } from "@nats-io/transport-node";
import type { ConnectionOptions, NatsConnection } from "@nats-io/nats-core";
import { jetstreamManager } from "@nats-io/jetstream";
import { App, type AppConfig } from "../../mod.ts";
import { type DeadLetter, deadLetters, describeDeadLetter } from "../../src/nats/dead_letters.ts";
import { namesFor } from "../../src/nats/names.ts";
import type { Run as TaskRun } from "../fixtures/failure_tasks.ts";
import { NatsServer } from "./server.ts";
import { RunFile } from "./runlog.ts";
import { fixture, runCli, type RunResult, startWorker, type StartWorkerOptions, type WorkerProcess } from "./taskd.ts";

delete process.env.TASKD_BROKER_URL;

/** Options of {@link startTaskd}. */
export interface TaskdOptions {
  /** The task module the workers serve: a file name under tests/fixtures/, or a path. No worker when absent. */
  module?: string;
  /** The worker's CLI arguments (one worker). */
  args?: string[];
  /** Extra environment of every worker this fixture starts. */
  env?: Record<string, string>;
  /** Several workers started together, one argument list each (instead of `args`); `[]` for none. */
  workers?: string[][];
  /** The apps the test uses as clients: pointed at the server, closed at teardown. */
  apps?: App[];
  /** Open `nc`, a raw NATS connection to the server (with these options). @default true */
  connect?: boolean | Partial<ConnectionOptions>;
  /** Extra nats-server arguments. */
  serverArgs?: string[];
  /** At teardown, how long a worker has after SIGTERM before SIGKILL. @default 10_000 */
  stopGraceMs?: number;
}

/** A dead letter as the tests read it: the shared description plus its subject and first header values. */
export interface Dead extends DeadLetter {
  subject: string;
  reason: string;
  headers: Record<string, string>;
}

/** A running server, its workers and clients; dispose of it to stop them all. */
export class Taskd implements AsyncDisposable {
  /** Every worker this fixture started, in order (stopped at teardown). */
  readonly workers: WorkerProcess[] = [];
  /** The raw connection (undefined with `connect: false`). */
  nc!: NatsConnection;
  /** The run log tasks of tests/fixtures/failure_tasks.ts append to (`TASKD_TEST_RUNS`). */
  readonly runLog = new RunFile();
  readonly #o: TaskdOptions;
  readonly #apps: App[] = [];

  constructor(readonly server: NatsServer, o: TaskdOptions) {
    this.#o = o;
  }

  /** The server's URL. */
  get url(): string {
    return this.server.url;
  }

  /** The first worker. */
  get worker(): WorkerProcess {
    return this.workers[0];
  }

  /** Starts one more worker on the fixture's module (or `o.module`); it is stopped at teardown. */
  async startWorker(args: string[] = [], o: StartWorkerOptions & { module?: string } = {}): Promise<WorkerProcess> {
    const module = o.module ?? this.#o.module;
    if (!module) throw new TypeError("Cannot start a worker: give startTaskd() or startWorker() a module");
    const w = await startWorker(this.url, module.includes("/") ? module : fixture(module), {
      ...o,
      args,
      env: { TASKD_TEST_RUNS: this.runLog.path, ...this.#o.env, ...o.env },
    });
    this.workers.push(w);
    return w;
  }

  /** A new client App on the server; it is closed at teardown. */
  app(main: string, config: AppConfig = {}): App {
    const app = new App(main, { ...config, broker: this.url });
    this.#apps.push(app);
    return app;
  }

  /** Runs a one-shot `taskd …` command against the server. */
  cli(args: string[], o: Parameters<typeof runCli>[2] = {}): Promise<RunResult> {
    return runCli(this.url, args, o);
  }

  /** Every dead letter in the `TASKD_DEAD` stream, oldest first. */
  async deadLetters(queue?: string): Promise<Dead[]> {
    const out: Dead[] = [];
    const jsm = await jetstreamManager(this.nc);
    for await (const m of deadLetters({ jsm: () => Promise.resolve(jsm), names: namesFor("taskd") }, queue)) {
      const headers: Record<string, string> = {};
      for (const [k, v] of m.header ?? []) headers[k] = v[0];
      const d = describeDeadLetter(m, "taskd");
      out.push({ ...d, reason: d.reason ?? "", subject: m.subject, headers });
    }
    return out;
  }

  /** The runs recorded in the run log (of task `id`, and of that `what` step). */
  runs(id?: string, what?: string): TaskRun[] {
    return this.runLog.runs(id, what);
  }

  /** Waits until no further run of `id` appears for `quietMs`, then returns its runs. */
  settled(id: string, quietMs?: number): Promise<TaskRun[]> {
    return this.runLog.settled(id, quietMs);
  }

  /** Closes the apps and the connection, stops the workers, then the server (deleting its store). */
  async [Symbol.asyncDispose](): Promise<void> {
    for (const app of [...(this.#o.apps ?? []), ...this.#apps]) await app.close();
    await this.nc?.close();
    await Promise.all(this.workers.map((w) => w.stop(this.#o.stopGraceMs)));
    await this.server.stop();
  }
}

/** Starts a nats-server, the workers, a connection, and points the apps at the server. */
export async function startTaskd(o: TaskdOptions = {}): Promise<Taskd> {
  const t = new Taskd(await NatsServer.start(o.serverArgs), o);
  try {
    for (const app of o.apps ?? []) app.useBroker(t.url);
    if (o.module) await Promise.all((o.workers ?? [o.args ?? []]).map((args) => t.startWorker(args)));
    if (o.connect !== false) t.nc = await connect({ ...(typeof o.connect === "object" ? o.connect : {}), servers: t.url });
  } catch (e) {
    await t[Symbol.asyncDispose]();
    throw e;
  }
  return t;
}

/**
 * {@link startTaskd} in the enclosing `describe()`'s `before` hook, disposed of in its `after`
 * hook. The returned object forwards to the running fixture, so use it only inside tests.
 */
export function useTaskd(o: TaskdOptions = {}): Taskd {
  let t: Taskd | undefined;
  before(async () => {
    t = await startTaskd(o);
  });
  after(async () => {
    await t?.[Symbol.asyncDispose]();
  });
  return new Proxy({} as Taskd, {
    get(_, key) {
      if (!t) throw new Error(`Cannot read ${String(key)} of the taskd fixture: it starts in before()`);
      const v = Reflect.get(t, key, t);
      return typeof v === "function" ? v.bind(t) : v;
    },
    set(_, key, value) {
      if (!t) throw new Error(`Cannot set ${String(key)} of the taskd fixture: it starts in before()`);
      return Reflect.set(t, key, value, t);
    },
  });
}
