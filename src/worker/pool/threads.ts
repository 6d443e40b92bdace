/**
 * The threads pool: `size` worker threads, each of which imports the task module once and
 * runs one task at a time. Results, retries, handlers and signals come from the same `trace()`
 * as in the async pool, inside the thread; the worker keeps acking and storing. `kill` (hard
 * time limit, `revoke --terminate`) terminates the thread — even `while (true) {}` stops — and
 * a fresh thread takes its place while the worker goes on.
 * @module
 */
import type { Request } from "../../app/request.ts";
import type { Task } from "../../app/task.ts";
import { serializeError, WorkerLostError } from "../../errors/errors.ts";
import { getLogger } from "../../log/logger.ts";
import { runtime } from "../../runtime/mod.ts";
import type { Outcome, TraceHooks } from "../../app/trace.ts";
import { activeTraceHeaders } from "../../app/tracing.ts";
import type { Execution, Pool, PoolOptions } from "./pool.ts";
import { type FromThread, outcomeFromWire, requestToWire, type ToThread } from "./wire.ts";

const log = getLogger("taskd.pool");

interface Running {
  id: string;
  /** `stored`: the thread stored the outcome itself. */
  finish(o: Outcome, stored?: boolean): void;
}

class Unit {
  readonly thread: Worker;
  readonly ready: Promise<void>;
  current?: Running;
  bye?: () => void;

  constructor(url: string, init: ToThread, onExit: (u: Unit, why: string) => void) {
    this.thread = new Worker(url, { type: "module" });
    let ok!: () => void;
    let fail!: (e: Error) => void;
    this.ready = new Promise<void>((a, b) => ((ok = a), (fail = b)));
    this.thread.onmessage = (e: MessageEvent<FromThread>) => {
      const m = e.data;
      if (m.type === "ready") ok();
      else if (m.type === "failed") fail(new Error(m.message));
      else if (m.type === "bye") this.bye?.();
      else if (m.type === "crashed") onExit(this, m.message);
      else if (m.type === "outcome" && this.current?.id === m.id) {
        const c = this.current;
        this.current = undefined;
        c.finish(outcomeFromWire(m.outcome), m.stored ?? false);
      }
    };
    this.thread.onerror = (e: ErrorEvent) => {
      e.preventDefault?.();
      fail(new Error(e.message));
      onExit(this, e.message || "the thread threw");
    };
    this.thread.postMessage(init);
  }

  post(m: ToThread): void {
    this.thread.postMessage(m);
  }
}

/** Runs tasks on worker threads. */
export class ThreadsPool implements Pool {
  readonly kind = "threads" as const;
  readonly size: number;
  readonly #url: string;
  readonly #init: ToThread;
  readonly #units = new Set<Unit>();
  readonly #idle: Unit[] = [];
  readonly #waiters: ((u: Unit) => void)[] = [];
  #replaced = 0;
  #stopping = false;

  constructor(readonly options: PoolOptions) {
    if (!options.module) throw new TypeError("Cannot start a threads pool: it needs the task module's path");
    // Node.js has worker_threads but no Web Worker global; Bun and Deno have both.
    if (typeof Worker === "undefined") {
      throw new Error(`Cannot start a threads pool on ${runtime.name}: it has no Web Worker; use --pool async, or run the worker on Bun, Deno or the binary`);
    }
    this.size = options.size;
    this.#url = runtime.threadUrl(new URL("../../cli/thread.ts", import.meta.url), "thread.ts");
    this.#init = { type: "init", module: options.module, brokerUrl: options.brokerUrl, loglevel: options.loglevel, redirectStdouts: options.redirectStdouts, hostname: options.hostname };
  }

  async start(): Promise<void> {
    const units = Array.from({ length: this.size }, () => this.#spawn());
    try {
      await Promise.all(units.map((u) => u.ready));
    } catch (e) {
      for (const u of units) u.thread.terminate();
      throw new Error(`Cannot start the threads pool: a thread could not load the task module: ${(e as Error).message}`);
    }
    for (const u of units) this.#release(u);
  }

  #spawn(): Unit {
    const u = new Unit(this.#url, this.#init, (unit, why) => this.#lost(unit, why));
    this.#units.add(u);
    return u;
  }

  #lost(u: Unit, why: string): void {
    if (!this.#units.has(u)) return;
    log.error(`a pool thread died: ${why}; starting a new one`);
    const c = u.current;
    // Out of the pool first, so finishing the task cannot hand the dead unit out again.
    this.#replace(u);
    c?.finish({ kind: "failure", error: new WorkerLostError(`The thread running the task died: ${why}`), expected: false });
  }

  /** Terminates `u` and starts a fresh unit in its place. */
  #replace(u: Unit): void {
    this.#units.delete(u);
    u.current = undefined;
    u.thread.terminate();
    if (this.#stopping) return;
    this.#replaced++;
    const fresh = this.#spawn();
    fresh.ready.then(
      () => this.#release(fresh),
      (e) => {
        log.error(`a replacement pool thread could not start: ${(e as Error).message}; retrying in 1 s`);
        this.#units.delete(fresh);
        fresh.thread.terminate();
        setTimeout(() => this.#stopping || this.#spawnReady(), 1000);
      },
    );
  }

  #spawnReady(): Unit {
    // Used only after a failed replacement: the unit is handed out once it is ready.
    const u = this.#spawn();
    u.ready.then(() => this.#release(u), () => this.#replace(u));
    return u;
  }

  #release(u: Unit): void {
    if (!this.#units.has(u)) return;
    if (u.current || this.#idle.includes(u)) return;
    const w = this.#waiters.shift();
    if (w) w(u);
    else this.#idle.push(u);
  }

  #acquire(): Promise<Unit> {
    let u = this.#idle.shift();
    while (u && !this.#units.has(u)) u = this.#idle.shift();
    if (u) return Promise.resolve(u);
    return new Promise((r) => this.#waiters.push(r));
  }

  run(task: Task, request: Request, abort: AbortController, hooks?: TraceHooks): Execution {
    let settle!: (o: Outcome) => void;
    const outcome = new Promise<Outcome>((r) => (settle = r));
    let done = false;
    let unit: Unit | undefined;
    const traceHeaders = activeTraceHeaders();
    const finish = (o: Outcome) => {
      if (done) return;
      done = true;
      settle(o);
    };
    (async () => {
      const u = await this.#acquire();
      if (done) return this.#release(u);
      unit = u;
      u.current = {
        id: request.id,
        finish: (o, stored = false) => {
          execution.stored = stored;
          finish(o);
          this.#release(u);
        },
      };
      try {
        u.post({ type: "run", id: request.id, task: task.name, fields: requestToWire(request), store: hooks !== undefined, trace: traceHeaders });
      } catch (e) {
        u.current = undefined;
        this.#release(u);
        finish({ kind: "failure", error: new TypeError(`Cannot hand ${task.name}[${request.id}] to a thread: ${(e as Error).message}`), expected: false });
      }
    })();
    const execution = {
      stored: false,
      outcome,
      abort: (reason: Error) => {
        if (!abort.signal.aborted) abort.abort(reason);
        if (unit && unit.current?.id === request.id) unit.post({ type: "abort", id: request.id, reason: serializeError(reason) });
      },
      kill: (result: Outcome) => {
        if (done) return;
        if (!abort.signal.aborted) abort.abort(result.kind === "failure" ? result.error : new Error("terminated"));
        finish(result);
        if (unit && unit.current?.id === request.id) this.#replace(unit);
      },
    };
    return execution;
  }

  stats(): Record<string, unknown> {
    return { kind: this.kind, maxConcurrency: this.size, threads: this.#units.size, idle: this.#idle.length, replaced: this.#replaced };
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    await Promise.all([...this.#units].map((u) =>
      new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 5000);
        u.bye = () => {
          clearTimeout(t);
          resolve();
        };
        try {
          u.post({ type: "shutdown" });
        } catch {
          resolve();
        }
      }).then(() => u.thread.terminate())
    ));
    this.#units.clear();
  }
}
