/**
 * The remote control protocol: core NATS request/reply on `<prefix>.control.<command>`. A
 * request's body is JSON `{ destination?: string[], arguments?: {…} }`; every worker
 * subscribes, ignores requests whose `destination` does not name it, and replies with JSON
 * `{ "<node name>": <reply> }` — Celery's reply shape. The caller collects replies until its
 * timeout, or until every named destination answered.
 * @module
 */

/** Commands workers answer. */
export const CONTROL_COMMANDS = [
  "ping",
  "registered",
  "active",
  "reserved",
  "scheduled",
  "stats",
  "revoked",
  "revoke",
  "rate_limit",
  "shutdown",
  "enable_events",
  "disable_events",
] as const;
/** A control command. */
export type ControlCommand = typeof CONTROL_COMMANDS[number];

/** The body of a control request. */
export interface ControlRequest {
  /** Node names that should answer; every worker when absent. */
  destination?: string[];
  /** The command's arguments. */
  arguments?: Record<string, unknown>;
}

/** One worker's reply, keyed by its node name. */
export type ControlReply<T = unknown> = Record<string, T>;

/** A task as `inspect active` and `inspect reserved` show it. */
export interface TaskInfo {
  /** The task id. */
  id: string;
  /** The task name. */
  name: string;
  /** The arguments as the caller chose to show them (never the raw arguments). */
  argsrepr?: string;
  /** The keyword arguments as the caller chose to show them. */
  kwargsrepr?: string;
  /** The worker's node name. */
  hostname: string;
  /** When it started, seconds since the epoch (active only). */
  timeStart?: number;
  /** Delivery details. */
  deliveryInfo?: { queue: string; redelivered: boolean };
  /** Retries so far. */
  retries?: number;
}

/** What a worker exposes to remote control. */
export interface ControlTarget {
  /** The node name. */
  readonly hostname: string;
  /** Registered task names (with their rate limits, when set). */
  inspectRegistered(): string[];
  /** Running tasks. */
  inspectActive(): TaskInfo[];
  /** Received tasks waiting for a rate limit or a free slot. */
  inspectReserved(): TaskInfo[];
  /** Statistics. */
  inspectStats(): Record<string, unknown>;
  /** Revoked ids this worker knows of. */
  inspectRevoked(): string[];
  /** Marks `ids` revoked; with `terminate` stops them when running. Returns the ids it stopped. */
  revoke(ids: string[], terminate: boolean): string[];
  /** Sets a task's per-worker rate limit (throws on an unknown task or a bad rate). */
  setRateLimit(task: string, rate: string | number | null): void;
  /** Begins a warm shutdown. */
  shutdown(): void;
  /** Forces task events on (`enable_events`); returns whether they are on. */
  enableEvents(): boolean;
  /** Drops the forcing (`disable_events`); returns whether they are still on (a listener holds a lease). */
  disableEvents(): boolean;
}
