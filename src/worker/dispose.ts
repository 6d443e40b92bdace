/**
 * The last steps of a message's path: decide what becomes of the message once its task ran
 * (a value: ack, nak, republish or dead-letter), then act on that decision in one place.
 * Follow-ups (callbacks, the next chain step, chord counting) run between the two, after the
 * result is stored and before the message is settled.
 * @module
 */
import type { JsMsg } from "@nats-io/jetstream";
import type { Task } from "../app/task.ts";
import { type Request, requestMessage } from "../app/request.ts";
import type { Outcome } from "../app/trace.ts";
import { WorkerLostError } from "../errors/errors.ts";
import { Reject } from "../errors/semipredicates.ts";
import type { Broker } from "../nats/broker.ts";
import { H } from "../protocol/message.ts";
import { signals } from "../signals/signals.ts";
import { getLogger } from "../log/logger.ts";
import type { EventDispatcher } from "../events/dispatcher.ts";
import { headerOf } from "./headers.ts";

const log = getLogger("taskd.worker");

/** What becomes of a message. */
export type Disposition =
  /** Settled: ack it if its ack was deferred (acksLate); an early-acked message needs nothing. */
  | { kind: "ack" }
  /** Back to the queue (a late-acked message): at once, or after `delayMs`. */
  | { kind: "nak"; delayMs?: number }
  /** Sent again as a new message (an early-acked one that must run again). */
  | { kind: "republish"; request: Request; task: Task }
  /** To the dead-letter stream with a reason; `acked` when it was acked already. */
  | { kind: "deadLetter"; reason: string; acked: boolean; exc?: unknown };

/**
 * A late-acked task whose execution unit died goes back to the queue when the task asks for it
 * (`rejectOnWorkerLost`); otherwise it is a failure and is acked, as in Celery.
 */
export function outcomeOfLostUnit(task: Task, o: Outcome, acksLate: boolean): Outcome {
  if (o.kind !== "failure" || !(o.error instanceof WorkerLostError)) return o;
  if (!acksLate || !task.effective("rejectOnWorkerLost")) return o;
  return { kind: "rejected", reject: new Reject(o.error, { requeue: true }) };
}

/** What becomes of the message of a task that ended with `o`. */
export function decide(o: Outcome, task: Task, request: Request, acksLate: boolean): Disposition {
  if (o.kind === "failure" && o.refused) {
    // Arguments no run can accept: dead-letter the message with the reason (not retried).
    const e = o.error as Error;
    return { kind: "deadLetter", reason: e?.message ?? String(o.error), acked: !acksLate };
  }
  if (o.kind === "rejected") {
    if (!o.reject.requeue) return { kind: "deadLetter", reason: o.reject.reason, acked: !acksLate, exc: o.reject };
    return acksLate ? { kind: "nak" } : { kind: "republish", request, task };
  }
  // Celery's acks_on_failure_or_timeout=False: a failed (or timed-out) late-acked message is left
  // for redelivery; the delivery bound dead-letters it in the end.
  if (o.kind === "failure" && acksLate && !task.effective("acksOnFailureOrTimeout")) return { kind: "nak" };
  return { kind: "ack" };
}

/** What acting on a disposition needs from the worker. */
export interface DisposeContext {
  /** The worker's node name. */
  hostname: string;
  /** Messages whose ack is deferred, kept alive with `working()` while they run. */
  keepAlive: Set<JsMsg>;
  /** Broker of the worker's connection. */
  broker: Broker;
  /** Task events, when the worker sends them. */
  events?: EventDispatcher;
}

/** Settles `m` (consumed from `queue`) as `d` says. Never throws. */
export async function dispose(ctx: DisposeContext, m: JsMsg, queue: string, d: Disposition): Promise<void> {
  const deferred = ctx.keepAlive.delete(m);
  switch (d.kind) {
    case "ack":
      if (deferred) m.ack();
      return;
    case "nak":
      m.nak(d.delayMs);
      return;
    case "republish": {
      // Already acked (early ack): send it again under a fresh de-duplication key, counting
      // the requeues so that the delivery bound still stops a loop.
      const { request, task } = d;
      const requeues = String((Number(request.headers[H.requeues]) || 0) + m.info.deliveryCount);
      const msg = requestMessage(request, queue);
      try {
        await task.app.publish(
          { ...msg, headers: { ...msg.headers, [H.requeues]: requeues }, dedupeKey: `${request.id}:${request.retries}:requeue:${m.seq}` },
          { serializer: task.effective("serializer") },
        );
      } catch (e) {
        log.error(`could not requeue ${task.name}[${request.id}]: ${(e as Error).message}`);
      }
      return;
    }
    case "deadLetter":
      return deadLetter(ctx, m, queue, d.reason, d.acked, d.exc);
  }
}

/** Moves `m` to the dead-letter stream with `reason`, sends task-rejected and taskRejected. */
export async function deadLetter(ctx: DisposeContext, m: JsMsg, queue: string, reason: string, acked = false, exc: unknown = reason): Promise<void> {
  log.warn(`dead-lettered message ${m.seq} from ${m.subject}: ${reason}`);
  try {
    await ctx.broker.deadLetter(m, queue, reason, { acked });
  } catch (e) {
    log.error(`could not dead-letter message ${m.seq}: ${(e as Error).message}; it will be delivered again`);
    if (!acked) m.nak(5000);
  }
  ctx.events?.send("task-rejected", { id: headerOf(m, H.id), name: headerOf(m, H.task), exception: reason, hostname: ctx.hostname });
  await signals.taskRejected.send(undefined, { message: m, exc });
}
