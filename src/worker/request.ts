/**
 * The one place a worker builds a `Request` from a received message: the header fields of its
 * envelope, the decoded body when there is one, where it was delivered, and the task's own
 * defaults. The run path, the revoked/expired path and the batch buffer all use it.
 * @module
 */
import type { JsMsg } from "@nats-io/jetstream";
import type { Task } from "../app/task.ts";
import { Request, type RequestFields } from "../app/request.ts";
import { H, type TaskEnvelope, type TaskMessage } from "../protocol/message.ts";
import { headersOf } from "./headers.ts";

/** A decoded message body. */
export type MessageBody = Pick<TaskMessage, "args" | "kwargs" | "embed">;

/** How a message reached this worker. */
export interface Delivered {
  /** The message. */
  m: JsMsg;
  /** The queue it was consumed from. */
  queue: string;
}

/**
 * The request of `task` for a message with envelope `env` (and, once decoded, `body`), built
 * with the task's Request class. `extra` sets what only the caller knows (time limits, signal).
 */
export function requestFor(task: Task, env: TaskEnvelope, hostname: string, delivered?: Delivered, body?: MessageBody, extra: RequestFields | object = {}): Request {
  const fields: RequestFields = {
    id: env.id,
    taskName: task.name,
    task,
    retries: env.retries,
    eta: env.eta,
    expires: env.expires,
    group: env.group,
    correlationId: env.id,
    origin: env.origin,
    rootId: env.rootId,
    parentId: env.parentId,
    replyTo: env.replyTo,
    argsrepr: env.argsrepr,
    kwargsrepr: env.kwargsrepr,
    hostname,
    ignoreResult: env.ignoreResult ?? task.effective("ignoreResult"),
  };
  if (delivered) {
    const { m, queue } = delivered;
    fields.deliveryInfo = { queue, subject: m.subject, redelivered: m.info.redelivered, deliveryCount: m.info.deliveryCount };
    const headers: Record<string, string> = { ...headersOf(m) };
    const userHeaders: Record<string, string> = {};
    for (const k in headers) {
      if (!k.startsWith("taskd-") && !k.startsWith("Nats-") && k !== H.contentType && k !== H.contentEncoding) userHeaders[k] = headers[k];
    }
    fields.headers = headers;
    fields.userHeaders = userHeaders;
  }
  if (body) {
    fields.args = body.args;
    fields.kwargs = body.kwargs;
    fields.embed = body.embed;
    fields.chord = body.embed.chord ?? undefined;
    fields.chain = (body.embed.chain as unknown[] | null) ?? null;
    fields.callbacks = body.embed.callbacks ?? null;
    fields.errbacks = body.embed.errbacks ?? null;
  }
  // `fields` is this call's own object: `extra` goes into it rather than into a third copy.
  return new (task.Request ?? Request)(Object.assign(fields, extra));
}
