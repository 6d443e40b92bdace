/**
 * `Control` (`app.control`): remote control and inspection of running workers from the
 * library, as Celery's `app.control`. Broadcasts go to every worker, or to the node names in
 * `destination`; replies are collected for `timeout` seconds (or until every named worker
 * answered).
 * @module
 */
import type { NatsConnection } from "@nats-io/nats-core";
import { revokeTask } from "../nats/revoked.ts";
import { parseRate } from "../protocol/rate.ts";
import type { ControlCommand, ControlReply, TaskInfo } from "./protocol.ts";
import { type PauseEntry, PausedQueues } from "../nats/pause.ts";
import { queueStats, type QueueStats } from "../nats/queues.ts";
import type { Broker } from "../nats/broker.ts";

/** Options of a broadcast. */
export interface BroadcastOptions {
  /** Node names that should answer. @default every worker */
  destination?: string[] | string;
  /** Seconds to wait for replies. @default 1 */
  timeout?: number;
}

/** The default time to collect replies, in seconds (Celery's). */
export const DEFAULT_CONTROL_TIMEOUT = 1;

/**
 * Inspection of workers: each method returns `{ "<node name>": reply }` for the workers that
 * answered in time (an empty object when none did).
 * @example
 * ```ts
 * const active = await app.control.inspect().active();
 * for (const [node, tasks] of Object.entries(active)) console.log(node, tasks.map((t) => t.id));
 * ```
 */
export class Inspect {
  /** Inspection through `control`, limited by `options`. */
  constructor(readonly control: Control, readonly options: BroadcastOptions = {}) {}

  #merge<T>(command: ControlCommand): Promise<ControlReply<T>> {
    return this.control.broadcast<T>(command, {}, this.options).then((replies) => Object.assign({}, ...replies));
  }
  /** `{ node: { ok: "pong" } }` for each live worker. */
  ping(): Promise<ControlReply<{ ok: string }>> {
    return this.#merge("ping");
  }
  /** Registered task names per worker. */
  registered(): Promise<ControlReply<string[]>> {
    return this.#merge("registered");
  }
  /** Running tasks per worker. */
  active(): Promise<ControlReply<TaskInfo[]>> {
    return this.#merge("active");
  }
  /** Received tasks waiting for a slot or a rate limit, per worker. */
  reserved(): Promise<ControlReply<TaskInfo[]>> {
    return this.#merge("reserved");
  }
  /** Tasks held in worker memory for a later time: always empty, as taskd keeps them on the server. */
  scheduled(): Promise<ControlReply<TaskInfo[]>> {
    return this.#merge("scheduled");
  }
  /** Statistics per worker (pool, counts, uptime…). */
  stats(): Promise<ControlReply<Record<string, unknown>>> {
    return this.#merge("stats");
  }
  /** Revoked task ids each worker knows of. */
  revoked(): Promise<ControlReply<string[]>> {
    return this.#merge("revoked");
  }
}

/** What `Control` needs from an app (an `App` is one). */
export interface ControlOwner {
  /** @ignore The app's connection, opened on first use: wiring, typed by nats.js. */
  connection(): Promise<NatsConnection>;
  /** Where commands go and where revocations are kept. */
  readonly names: { readonly controlSubject: string; readonly revokedBucket: string; readonly pausedBucket: string };
  /** Replicas of the revocations bucket. */
  readonly config: { readonly replicas?: number };
  /** @ignore The broker, for queue statistics: wiring, typed by nats.js. */
  broker?(): Promise<Broker>;
}

/** Remote control of an app's workers. */
export class Control {
  /** Control of `app`'s workers (use `app.control`). */
  constructor(readonly app: ControlOwner) {}

  /**
   * Sends `command` to the workers and collects their replies (one `{ node: reply }` object
   * each). Unknown or failed commands come back as `{ node: { error } }`.
   */
  async broadcast<T = unknown>(command: ControlCommand, args: Record<string, unknown> = {}, options: BroadcastOptions = {}): Promise<ControlReply<T>[]> {
    const timeout = options.timeout ?? DEFAULT_CONTROL_TIMEOUT;
    if (!(timeout > 0)) throw new RangeError(`Cannot broadcast ${command}: timeout must be > 0 seconds: current value is ${timeout}`);
    const destination = options.destination === undefined ? undefined : [options.destination].flat();
    const nc = await this.app.connection();
    const body = JSON.stringify({ destination, arguments: args });
    const out: ControlReply<T>[] = [];
    try {
      const it = await nc.requestMany(`${this.app.names.controlSubject}.${command}`, body, {
        maxWait: timeout * 1000,
        ...(destination ? { strategy: "count" as const, maxMessages: destination.length } : { strategy: "timer" as const }),
      });
      for await (const m of it) {
        try {
          out.push(m.json<ControlReply<T>>());
        } catch { /* not a taskd reply */ }
      }
    } catch (e) {
      // No worker subscribed: no replies.
      if (!/no responders|503/i.test(String((e as Error)?.message) + String((e as { code?: unknown })?.code))) throw e;
    }
    return out;
  }

  /** Inspection, optionally limited to some workers. */
  inspect(options: BroadcastOptions = {}): Inspect {
    return new Inspect(this, options);
  }

  /** Pings the workers: a list of `{ node: { ok: "pong" } }`. */
  ping(options: BroadcastOptions = {}): Promise<ControlReply<{ ok: string }>[]> {
    return this.broadcast("ping", {}, options);
  }

  /**
   * Revokes a task: workers will not run it (state REVOKED); with `terminate`, a worker running
   * it stops it (threads pool: its thread is terminated and replaced). The revocation is kept
   * on the server, so workers started later honour it too.
   */
  async revoke(taskId: string | string[], options: { terminate?: boolean } & BroadcastOptions = {}): Promise<ControlReply[]> {
    const ids = [taskId].flat();
    for (const id of ids) await revokeTask(this.app, id, options.terminate ?? false);
    return this.broadcast("revoke", { taskId: ids, terminate: options.terminate ?? false }, { timeout: 0.25, ...options });
  }

  /** Sets a task's per-worker rate limit on the workers (`null` or `0` removes it). */
  async rateLimit(taskName: string, rateLimit: string | number | null, options: BroadcastOptions = {}): Promise<ControlReply[]> {
    if (typeof taskName !== "string" || !taskName) throw new TypeError("Cannot set a rate limit: give the task's name");
    parseRate(rateLimit);
    return await this.broadcast("rate_limit", { taskName, rateLimit }, options);
  }

  /** Asks the workers to send task events (Celery's `enable_events`) until `disableEvents()`. */
  enableEvents(options: BroadcastOptions = {}): Promise<ControlReply[]> {
    return this.broadcast("enable_events", {}, options);
  }

  /** Undoes `enableEvents()`: task events then go out only while a listener holds a lease. */
  disableEvents(options: BroadcastOptions = {}): Promise<ControlReply[]> {
    return this.broadcast("disable_events", {}, options);
  }

  #paused?: PausedQueues;
  #pauses(): PausedQueues {
    return (this.#paused ??= new PausedQueues(() => this.app.connection(), this.app.names.pausedBucket, this.app.config.replicas ?? 1));
  }

  /**
   * Pauses a queue, durably: every worker stops fetching from it (a worker started later too)
   * and its messages stay on the server until {@link resumeQueue}. Running tasks finish.
   * @example
   * ```ts
   * await app.control.pauseQueue("emails", { reason: "provider outage" });
   * ```
   */
  async pauseQueue(queue: string, options: { reason?: string } = {}): Promise<void> {
    await this.#pauses().pause(queue, options.reason);
  }

  /** Resumes a paused queue; resolves to whether it was paused. */
  resumeQueue(queue: string): Promise<boolean> {
    return this.#pauses().resume(queue);
  }

  /** The paused queues, with when and why each was paused. */
  pausedQueues(): Promise<Map<string, PauseEntry>> {
    return this.#pauses().list();
  }

  /**
   * Every queue's state on the server: messages waiting (per priority level), in flight,
   * whether it is paused, and the tasks waiting for a concurrency slot per key.
   * @example
   * ```ts
   * for (const q of await app.control.queues()) console.log(q.queue, q.depth, q.paused ? "paused" : "");
   * ```
   */
  async queues(): Promise<QueueStats[]> {
    if (!this.app.broker) throw new TypeError("Cannot read queue statistics: this control has no broker (use app.control)");
    return queueStats(await this.app.broker(), await this.pausedQueues());
  }

  /** Asks the workers to shut down warm (finish running tasks, then exit). */
  shutdown(options: BroadcastOptions = {}): Promise<ControlReply[]> {
    return this.broadcast("shutdown", {}, options);
  }
}
