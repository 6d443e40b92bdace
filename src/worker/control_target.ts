/**
 * What remote control sees and changes on a worker (`taskd inspect …`, `taskd control …`,
 * `app.control.*`): registered and running tasks, held messages, statistics, revocations with
 * terminate, per-worker rate limits, and a warm shutdown.
 * @module
 */
import type { Task } from "../app/task.ts";
import { TaskRevokedError } from "../errors/errors.ts";
import type { RevokedSet } from "../nats/revoked.ts";
import { getLogger } from "../log/logger.ts";
import { runtime } from "../runtime/mod.ts";
import type { ControlTarget, TaskInfo } from "../control/protocol.ts";
import type { ConsumeLoops } from "./consume.ts";
import type { ActiveTask } from "./execute.ts";
import type { TaskEventsSwitch } from "../events/listeners.ts";

const log = getLogger("taskd.worker");

/** The parts of a worker that remote control reads and changes. */
export interface ControlledWorker {
  readonly hostname: string;
  readonly registry: Map<string, Task>;
  readonly active: Map<string, ActiveTask>;
  readonly loops: ConsumeLoops;
  readonly revoked: RevokedSet;
  readonly queues: string[];
  readonly prefetch: number;
  readonly startedAt: number;
  /** Task events on demand. */
  readonly taskEvents: TaskEventsSwitch;
  /** The pool's statistics. */
  poolStats(): unknown;
  /** Begins a warm shutdown. */
  stop(): unknown;
}

/** Remote control of one worker. */
export class WorkerControl implements ControlTarget {
  /** Ids this worker terminated (recent ones), so a second revoke (KV watch and broadcast) reports them. */
  readonly #terminated = new Set<string>();

  /** Control of `worker`. */
  constructor(readonly worker: ControlledWorker) {}

  /** The node name. */
  get hostname(): string {
    return this.worker.hostname;
  }

  /** Registered task names. */
  inspectRegistered(): string[] {
    return [...this.worker.registry.keys()].sort();
  }

  /** Running tasks. */
  inspectActive(): TaskInfo[] {
    return [...this.worker.active.values()].map(({ request, started }) => ({
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
    return [...this.worker.loops.held.values()];
  }

  /** Statistics for `inspect stats`. */
  inspectStats(): Record<string, unknown> {
    const { loops } = this.worker;
    return {
      hostname: this.hostname,
      pid: process.pid,
      runtime: `${runtime.name} ${runtime.version}`,
      pool: this.worker.poolStats(),
      prefetchCount: this.worker.prefetch,
      queues: this.worker.queues,
      pausedQueues: loops.paused,
      uptime: Math.round((Date.now() - this.worker.startedAt) / 1000),
      processed: loops.processed,
      total: Object.fromEntries(loops.counts),
      rateLimits: loops.limits.entries(),
      globalRateLimits: Object.fromEntries(loops.globalRates),
      taskEvents: { on: this.worker.taskEvents.on, listeners: this.worker.taskEvents.listeners },
      rusage: process.memoryUsage?.(),
    };
  }

  /** Revoked ids this worker knows of. */
  inspectRevoked(): string[] {
    return [...this.worker.revoked.ids];
  }

  /** Marks `ids` revoked; with `terminate`, stops those running here. Returns the ids stopped. */
  revoke(ids: string[], terminate: boolean): string[] {
    const stopped: string[] = [];
    for (const id of ids) {
      this.worker.revoked.ids.add(id);
      const a = this.worker.active.get(id);
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
    const t = this.worker.registry.get(task);
    if (!t) throw new TypeError(`Cannot set the rate limit of ${task}: no task of that name is registered on ${this.hostname}`);
    this.worker.loops.limits.set(task, rate);
    t.rateLimit = rate ?? undefined;
    log.info(`rate limit of ${task} set to ${rate ?? "none"}`);
  }

  /** Begins a warm shutdown (remote control). */
  shutdown(): void {
    this.worker.stop();
  }

  /** Forces task events on (remote `enable_events`). */
  enableEvents(): boolean {
    this.worker.taskEvents.enable();
    return this.worker.taskEvents.on;
  }

  /** Drops the forcing of task events (remote `disable_events`). */
  disableEvents(): boolean {
    this.worker.taskEvents.disable();
    return this.worker.taskEvents.on;
  }
}
