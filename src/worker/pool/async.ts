/**
 * The async pool: task bodies run on the worker's own event loop, interleaved at their awaits.
 * Right for I/O-bound work. A body that never awaits (a CPU-bound loop) holds the whole worker:
 * the hard time limit can only abandon a body that is awaiting, so CPU-bound tasks belong in
 * the threads pool (docs/worker.md).
 * @module
 */
import process from "node:process";
import type { Request } from "../../app/request.ts";
import type { Task } from "../../app/task.ts";
import { signals } from "../../signals/signals.ts";
import { type Outcome, trace, type TraceHooks } from "../../app/trace.ts";
import type { Execution, Pool } from "./pool.ts";

/** Runs tasks on the event loop of the worker's process. */
export class AsyncPool implements Pool {
  readonly kind = "async" as const;
  #abandoned = 0;

  /** A pool of `size` slots on this event loop; `hostname` is the worker's node name (the signals' sender). */
  constructor(readonly size: number, readonly hostname?: string) {}

  /** The process is the only execution unit: `workerProcessInit` fires once, here. */
  async start(): Promise<void> {
    await signals.workerProcessInit.send(this.hostname, { pid: process.pid, pool: this.kind });
  }

  run(task: Task, request: Request, abort: AbortController, hooks: TraceHooks = {}): Execution {
    let settle!: (o: Outcome) => void;
    let gaveUp = false;
    const killed = new Promise<Outcome>((r) => (settle = r));
    // An abandoned body may still finish later: it must not overwrite what the kill stored.
    const guarded: TraceHooks = {
      started: hooks.started && (() => (gaveUp ? undefined : hooks.started!())),
      store: hooks.store && (async (o) => {
        if (gaveUp) return;
        await hooks.store!(o);
        execution.stored = true;
      }),
    };
    const body = trace(task, request, guarded);
    const outcome = Promise.race([body, killed]);
    const execution = {
      stored: false,
      outcome,
      abort: (reason: Error) => abort.abort(reason),
      kill: (result: Outcome) => {
        // The body keeps its promise: it cannot be stopped, only no longer waited for. Its
        // signal aborts, so a body that watches it can end by itself.
        this.#abandoned++;
        gaveUp = true;
        if (!abort.signal.aborted) abort.abort(result.kind === "failure" ? result.error : new Error("terminated"));
        settle(result);
      },
    };
    return execution;
  }

  stats(): Record<string, unknown> {
    return { kind: this.kind, maxConcurrency: this.size, abandoned: this.#abandoned };
  }

  async stop(): Promise<void> {
    await signals.workerProcessShutdown.send(this.hostname, { pid: process.pid, pool: this.kind, exitcode: 0 });
  }
}
