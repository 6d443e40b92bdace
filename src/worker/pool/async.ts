/**
 * The async pool: task bodies run on the worker's own event loop, interleaved at their awaits.
 * Right for I/O-bound work. A body that never awaits (a CPU-bound loop) holds the whole worker:
 * the hard time limit can only abandon a body that is awaiting, so CPU-bound tasks belong in
 * the threads pool (docs/worker.md).
 * @module
 */
import type { Request } from "../../app/request.ts";
import type { Task } from "../../app/task.ts";
import { signals } from "../../signals/signals.ts";
import { type Outcome, trace } from "../trace.ts";
import type { Execution, Pool } from "./pool.ts";

/** Runs tasks on the event loop of the worker's process. */
export class AsyncPool implements Pool {
  readonly kind = "async" as const;
  #abandoned = 0;

  constructor(readonly size: number) {}

  /** The process is the only execution unit: `workerProcessInit` fires once, here. */
  async start(): Promise<void> {
    await signals.workerProcessInit.send(undefined, { pool: this.kind });
  }

  run(task: Task, request: Request, abort: AbortController): Execution {
    let settle!: (o: Outcome) => void;
    const killed = new Promise<Outcome>((r) => (settle = r));
    const body = trace(task, request);
    const outcome = Promise.race([body, killed]);
    return {
      outcome,
      abort: (reason) => abort.abort(reason),
      kill: (result) => {
        // The body keeps its promise: it cannot be stopped, only no longer waited for. Its
        // signal aborts, so a body that watches it can end by itself.
        this.#abandoned++;
        if (!abort.signal.aborted) abort.abort(result.kind === "failure" ? result.error : new Error("terminated"));
        settle(result);
      },
    };
  }

  stats(): Record<string, unknown> {
    return { kind: this.kind, maxConcurrency: this.size, abandoned: this.#abandoned };
  }

  async stop(): Promise<void> {
    await signals.workerProcessShutdown.send(undefined, { pool: this.kind, exitcode: 0 });
  }
}
