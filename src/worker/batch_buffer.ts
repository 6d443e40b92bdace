/**
 * The worker's side of Batches (src/app/batches.ts): it buffers a batch task's messages and
 * hands them to the task as one list of `SimpleRequest`s, when `flushEvery` messages arrived or
 * `flushInterval` seconds passed since the first buffered one, whichever comes first.
 *
 * Buffered messages hold no execution slot; they are kept alive with `working()` while they
 * wait and while the batch runs, and acked only after the batch function returned, so a worker
 * that dies mid-batch gets the whole batch redelivered. The worker raises its prefetch for the
 * batch task's queue to at least `flushEvery` (Celery makes users tune that by hand).
 * @module
 */
import type { JsMsg } from "@nats-io/jetstream";
import type { Task } from "../app/task.ts";
import { Request } from "../app/request.ts";
import { type Batches, isBatches, SimpleRequest } from "../app/batches.ts";
import { runInTask } from "../context/task_context.ts";
import { autoretries, autoretryCountdown } from "../app/autoretry.ts";
import { DEFAULTS } from "../app/options.ts";
import { getLogger } from "../log/logger.ts";
import { states } from "../protocol/states.ts";
import { serializeError } from "../errors/errors.ts";
import { Retry } from "../errors/semipredicates.ts";
import type { TaskEnvelope } from "../protocol/message.ts";
import { type MessageBody, requestFor } from "./request.ts";

/** What the batch buffer needs from the worker. */
export interface BatchContext {
  /** The worker's node name. */
  hostname: string;
  /** Messages whose ack is deferred, kept alive with `working()` while they wait and run. */
  keepAlive: Set<JsMsg>;
}

const log = getLogger("taskd.worker");

interface Pending {
  m: JsMsg;
  request: Request;
}

class BatchBuffer {
  items: Pending[] = [];
  timer?: ReturnType<typeof setTimeout>;
  readonly running = new Set<Promise<void>>();
  closing = false;

  constructor(readonly task: Batches, readonly ctx: BatchContext) {}

  add(p: Pending): void {
    if (this.closing) {
      p.m.nak();
      return;
    }
    this.ctx.keepAlive.add(p.m);
    this.items.push(p);
    const every = Math.max(1, Math.floor(this.task.flushEvery));
    if (this.items.length >= every) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), Math.max(0, this.task.flushInterval) * 1000);
  }

  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const items = this.items.splice(0);
    if (items.length === 0) return;
    const p = runBatch(this.task, items, this.ctx).finally(() => this.running.delete(p));
    this.running.add(p);
  }

  /** Flushes what is buffered, refuses what comes later, and waits for running batches. */
  async close(): Promise<void> {
    this.closing = true;
    this.flush();
    await Promise.all([...this.running]);
  }
}

const buffers = new Map<Batches, BatchBuffer>();

/** Warm shutdown: flushes every buffer, refuses later messages, and waits for running batches. */
export async function closeBatchBuffers(): Promise<void> {
  await Promise.all([...buffers.values()].map((b) => b.close()));
}

/** The consumer prefetch for `queue`: at least `flushEvery` of every batch task routed there. */
export function batchPrefetch(registry: Map<string, Task>, queue: string, prefetch: number): number {
  let need = prefetch;
  let why = "";
  for (const task of registry.values()) {
    if (isBatches(task) && task.app.queueFor(task.name, task) === queue && Math.ceil(task.flushEvery) > need) {
      need = Math.ceil(task.flushEvery);
      why = task.name;
    }
  }
  if (need > prefetch) log.info(`prefetch of queue ${queue} raised from ${prefetch} to ${need} so a full batch of ${why} can arrive`);
  return need;
}

/** Buffers one message of a batch task (instead of running it). */
export function bufferBatch(ctx: BatchContext, m: JsMsg, queue: string, task: Batches, env: TaskEnvelope, body: MessageBody): void {
  let buffer = buffers.get(task);
  if (!buffer) buffers.set(task, (buffer = new BatchBuffer(task, ctx)));
  const request = requestFor(task, env, ctx.hostname, { m, queue }, body);
  // markAsDone(id, …) stores by id alone: the backend sends the reply where the message asked.
  task.app.backend.routeReply(env.id, env.replyTo);
  log.debug(`Task ${task.name}[${env.id}] buffered for a batch`);
  buffer.add({ m, request });
}

function retryDelay(task: Batches, retries: number): number {
  return autoretryCountdown(task, retries) ?? task.effective("defaultRetryDelay");
}

function wantsRetry(task: Batches, error: unknown): boolean {
  return error instanceof Retry || autoretries(task, error);
}

async function runBatch(task: Batches, items: Pending[], ctx: BatchContext): Promise<void> {
  const app = task.app;
  const requests = items.map((p) => SimpleRequest.fromRequest(p.request));
  const batchId = `batch-${crypto.randomUUID()}`;
  const started = performance.now();
  log.info(`Batch ${task.name}[${batchId}] flushing ${items.length} request${items.length === 1 ? "" : "s"}`);
  const batchRequest = new Request({ id: batchId, taskName: task.name, args: [requests], hostname: ctx.hostname });
  // Messages whose failure could not be recorded (the broker was away) go back to the queue
  // instead of being acked: a batch is at least once, like acksLate.
  const unsettled = new Set<JsMsg>();
  try {
    await runInTask({ task, request: batchRequest }, () => task.run(requests));
    log.info(`Batch ${task.name}[${batchId}] of ${items.length} succeeded in ${((performance.now() - started) / 1000).toFixed(4)}s`);
  } catch (error) {
    log.error(`Batch ${task.name}[${batchId}] of ${items.length} failed:`, error);
    const retry = wantsRetry(task, error);
    const max = task.effective("maxRetries");
    await Promise.all(items.map(async ({ m, request }) => {
      try {
        if (retry && (max === null || request.retries < (task.retryKwargs?.maxRetries ?? max ?? DEFAULTS.maxRetries))) {
          const when = error instanceof Retry && error.when ? error.when : new Date(Date.now() + 1000 * retryDelay(task, request.retries));
          await app.publishRetry(task, request, when);
          const e = serializeError(error instanceof Retry ? (error.exc ?? error) : error);
          if (!request.ignoreResult) await app.backend.store({ taskId: request.id, taskName: task.name, status: states.RETRY, result: e, traceback: e.stack, retries: request.retries, worker: ctx.hostname });
        } else {
          await app.backend.markAsFailure(request.id, error, { taskName: task.name, retries: request.retries, worker: ctx.hostname });
        }
      } catch (e) {
        unsettled.add(m);
        log.error(`could not settle ${task.name}[${request.id}] after its batch failed: ${(e as Error).message}; it will be delivered again`);
      }
    }));
  } finally {
    for (const { m } of items) {
      if (!ctx.keepAlive.delete(m)) continue;
      if (unsettled.has(m)) m.nak(1000);
      else m.ack();
    }
  }
}
