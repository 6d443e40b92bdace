/**
 * taskd's worker entry (`taskd/worker`): what only a worker process needs. A task module keeps
 * importing `taskd`; this entry is for programs that run a worker themselves, and for task
 * modules that look at the worker in signal handlers.
 *
 * @example
 * ```ts
 * import { App } from "taskd";
 * import { Worker } from "taskd/worker";
 * const app = new App("tasks");
 * const worker = new Worker([app], { concurrency: 4 });
 * await worker.start();
 * ```
 * @module
 */
export { HEARTBEAT_SECONDS, Worker } from "./src/worker/worker.ts";
export type { WorkerOptions } from "./src/worker/worker.ts";
export { POOL_KINDS } from "./src/worker/pool/pool.ts";
export type { Execution, Pool, PoolKind } from "./src/worker/pool/pool.ts";
export type { ActiveTask } from "./src/worker/execute.ts";
