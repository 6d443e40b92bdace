/**
 * `SimpleRequest`: one buffered call as a Batches function sees it. A leaf of its own (no Task),
 * so eager runs can build one without loading the Batches class.
 * @module
 */
import type { DeliveryInfo, Request } from "./request.ts";

/** One buffered call, as the batch function sees it (Celery's SimpleRequest). */
export class SimpleRequest {
  /** One buffered call. */
  constructor(
    /** The task id (use it with `app.backend.markAsDone(id, value)`). */
    readonly id: string,
    /** The task's name. */
    readonly name: string,
    /** Positional arguments of the call. */
    readonly args: unknown[],
    /** Keyword arguments of the call. */
    readonly kwargs: Record<string, unknown>,
    /** Where the message came from (queue, subject, redelivered, deliveryCount). */
    readonly deliveryInfo: DeliveryInfo,
    /** The worker's node name. */
    readonly hostname: string,
    /** How many times this call was retried. */
    readonly retries = 0,
  ) {}

  /** The simple form of a full request. */
  static fromRequest(r: Request): SimpleRequest {
    return new SimpleRequest(r.id, r.taskName, r.args, r.kwargs, r.deliveryInfo!, r.hostname ?? "", r.retries);
  }
}
