/**
 * Batches (Celery's `celery.contrib.batches`), the user-facing side: the `Batches` base class
 * and the `SimpleRequest`s its function receives. The worker buffers a batch task's messages
 * and flushes them as one call (src/worker/batch_buffer.ts).
 * @module
 */
import { Task } from "./task.ts";
import { SimpleRequest } from "./simple_request.ts";

export { SimpleRequest };

/**
 * Base class of batch tasks: `app.task({ base: Batches, flushEvery: 100, flushInterval: 10 }, fn)`.
 * The function receives `SimpleRequest[]`; its return value is not stored — store a result
 * per request with `app.backend.markAsDone(request.id, value)` (or `markAsFailure`).
 * @example
 * ```ts
 * export const countClick = app.task({ base: Batches, flushEvery: 100, flushInterval: 10 },
 *   function countClick(requests: SimpleRequest[]) {
 *     for (const r of requests) app.backend.markAsDone(r.id, String(r.args[0]).length);
 *   });
 * await countClick.delay("http://example.com");
 * ```
 */
// deno-lint-ignore no-explicit-any
export class Batches<R = any> extends Task<any[], R> {
  /** Flush after this many messages. @default 10 */
  override flushEvery = 10;
  /** Flush this many seconds after the first buffered message. @default 30 */
  override flushInterval = 30;
  /** Calls take the batch task's own arguments, not the function's (`requests`). */
  override typing = false;
  /** @internal marks batch tasks (the worker buffers their messages). */
  readonly batches = true as const;
}

/** Whether `task` is a batch task. */
export function isBatches(task: Task): task is Batches {
  return (task as Batches).batches === true;
}

/**
 * Why a batch task's message that takes part in a workflow is refused, or `undefined`. A batch
 * has no result per request (the function stores them itself, or not), so the worker cannot
 * call `link`/`linkError`, send the next step of a chain or count a chord member: such a message
 * is dead-lettered with this reason, a FAILURE is stored for it, and its chord or chain is
 * settled as such (it never hangs).
 */
export function batchWorkflowRefusal(name: string, embed: { callbacks?: unknown; errbacks?: unknown; chain?: unknown; chord?: unknown }): string | undefined {
  const used = [
    Array.isArray(embed.callbacks) && embed.callbacks.length ? "link" : "",
    Array.isArray(embed.errbacks) && embed.errbacks.length ? "linkError" : "",
    Array.isArray(embed.chain) && embed.chain.length ? "a chain" : "",
    embed.chord ? "a chord" : "",
  ].filter(Boolean);
  if (!used.length) return undefined;
  return `Cannot run ${name}: it is a Batches task, which has no result per request, so it cannot take part in ${used.join(", ")}; call it without link/linkError and outside chains and chords`;
}
