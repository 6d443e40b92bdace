/**
 * `task-sent`: sent by the client that published a task, when its app asks for it
 * (`taskSendSentEvent: true`, Celery's `task_send_sent_event`; off by default because it costs
 * every caller one more publish).
 * @module
 */
import type { NatsConnection } from "@nats-io/nats-core";
import { hostname } from "node:os";
import process from "node:process";
import type { TaskMessage } from "../protocol/message.ts";
import { eventSubject, type TaskdEvent } from "./event.ts";

/** Publishes a `task-sent` event for `msg` (never throws). */
export function sendTaskSentEvent(nc: NatsConnection, prefix: string, msg: TaskMessage): void {
  const event: TaskdEvent = {
    type: "task-sent",
    timestamp: Date.now() / 1000,
    hostname: hostname(),
    pid: process.pid,
    id: msg.id,
    name: msg.task,
    retries: msg.retries,
    queue: msg.queue,
    eta: msg.eta,
    expires: msg.expires,
    argsrepr: msg.argsrepr,
    kwargsrepr: msg.kwargsrepr,
    rootId: msg.rootId,
    parentId: msg.parentId,
    groupId: msg.group,
  };
  try {
    nc.publish(eventSubject(prefix, "task-sent"), JSON.stringify(event));
  } catch { /* events are best effort */ }
}
