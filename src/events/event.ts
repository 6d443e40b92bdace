/**
 * The shape of taskd's events: task events (`task-sent`, `task-received`, `task-started`,
 * `task-succeeded`, `task-failed`, `task-retried`, `task-revoked`, `task-rejected`) and worker
 * events (`worker-online`, `worker-heartbeat`, `worker-offline`), as Celery names them. They
 * travel as JSON on core NATS subjects `<prefix>.events.task.<kind>` and
 * `<prefix>.events.worker.<kind>`: fire and forget, for monitors, never stored. Arguments
 * appear only as `argsrepr`/`kwargsrepr`, and only when the caller gave them.
 * @module
 */

/** Task event types. */
export const TASK_EVENTS = ["task-sent", "task-received", "task-started", "task-succeeded", "task-failed", "task-retried", "task-revoked", "task-rejected"] as const;
/** Worker event types. */
export const WORKER_EVENTS = ["worker-online", "worker-heartbeat", "worker-offline"] as const;
/** Beat events (`<prefix>.events.schedule.fired`): a beat published a schedule's firing. */
export const SCHEDULE_EVENTS = ["schedule-fired"] as const;
/** An event type. */
export type EventType = typeof TASK_EVENTS[number] | typeof WORKER_EVENTS[number] | typeof SCHEDULE_EVENTS[number];

/** One event. Fields beyond these depend on the type. */
export interface TaskdEvent {
  /** e.g. `task-succeeded`. */
  type: EventType;
  /** When it happened, seconds since the epoch (Celery's unit). */
  timestamp: number;
  /** The worker's node name (or the sender's host for `task-sent`). */
  hostname: string;
  /** The sending process's id. */
  pid?: number;
  /** Task events: the task id. */
  id?: string;
  /** Task events: the task name. */
  name?: string;
  /** Task events: the retry count. */
  retries?: number;
  /** Task events: the queue. */
  queue?: string;
  /** The arguments as the caller chose to show them. */
  argsrepr?: string;
  /** The keyword arguments as the caller chose to show them. */
  kwargsrepr?: string;
  /** `task-succeeded`/`task-failed`: seconds the body ran. */
  runtime?: number;
  /** `task-succeeded`: the result, as short JSON text. */
  result?: string;
  /** `task-failed`/`task-retried`/`task-rejected`: `Type: message`. */
  exception?: string;
  /** `task-revoked`: the task was running and was stopped. */
  terminated?: boolean;
  /** `task-revoked`: it expired rather than being revoked. */
  expired?: boolean;
  /** Worker heartbeats: tasks running now. */
  active?: number;
  /** Worker heartbeats: tasks finished so far. */
  processed?: number;
  /** Worker heartbeats: seconds between heartbeats. */
  freq?: number;
  /** Other fields (loadavg, eta, expires, rootId, parentId, groupId…). */
  [key: string]: unknown;
}

/** The subject an event of `type` goes to under `prefix`. */
export function eventSubject(prefix: string, type: EventType): string {
  const [group, ...kind] = type.split("-");
  return `${prefix}.events.${group}.${kind.join("-")}`;
}

/** A short text for a value (events and inspect show results, never arguments). */
export function shortRepr(value: unknown, max = 200): string {
  let s: string;
  try {
    s = typeof value === "string" ? JSON.stringify(value) : (JSON.stringify(value) ?? String(value));
  } catch {
    s = String(value);
  }
  return s.length > max ? s.slice(0, max - 1) + "…" : s;
}
