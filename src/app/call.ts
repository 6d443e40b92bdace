/**
 * Call options (`applyAsync`, `sendTask`) and turning a call into a task message: ids,
 * routing, eta/expires, parent and root ids from the calling task.
 * @module
 */
import { hostname } from "node:os";
import process from "node:process";
import type { TaskMessage } from "../protocol/message.ts";
import type { Task } from "./task.ts";
import type { Compression } from "../protocol/codec.ts";
import { checkTaskId } from "../protocol/result.ts";
import { currentTask } from "../context/task_context.ts";
import { frozenCallbacks, toSignatureList } from "../protocol/signature_data.ts";

/** Options of `applyAsync` and `sendTask`. */
export interface ApplyOptions {
  /** Seconds from now before the task may run. */
  countdown?: number;
  /** When the task may run (a Date or ISO string). */
  eta?: Date | string;
  /** Seconds from now, or a Date, after which the task is not run (state REVOKED). */
  expires?: number | Date | string;
  /** The name logs and events show for this call instead of the task's (Celery's `shadow`). */
  shadow?: string;
  /** The queue to send to. @default task option, route, or the app's default queue */
  queue?: string;
  /** Priority 0…9 within the queue, 9 first (docs/flow.md). @default the task's, else 5 */
  priority?: number;
  /** The task id. @default a random UUID */
  taskId?: string;
  /** Keyword arguments: bound to the body's parameters by name, the others as one options object (docs/tasks.md "Keyword arguments"). */
  kwargs?: Record<string, unknown>;
  /** Store no result for this call. */
  ignoreResult?: boolean;
  /** How the args appear in logs and events (hide secrets). */
  argsrepr?: string;
  /** How the kwargs appear in logs and events. */
  kwargsrepr?: string;
  /** Extra message headers. */
  headers?: Record<string, string>;
  /** A signature (or list) to call with the result on success. */
  link?: unknown;
  /** A signature (or list) to call on failure. */
  linkError?: unknown;
  /** Body serializer for this call. */
  serializer?: string;
  /** Body compression for this call. */
  compression?: Compression;
  /** Hard time limit for this call, seconds. */
  timeLimit?: number;
  /** Soft time limit for this call, seconds. */
  softTimeLimit?: number;
  /** Retries already made (set by retry()). @default 0 */
  retries?: number;
  /** The group this call belongs to. */
  groupId?: string;
  /** Parent task id. @default the calling task's id */
  parentId?: string;
  /** Root task id. @default the calling task's root id */
  rootId?: string;
  /** Rest of a chain (set by canvas). */
  chain?: unknown[];
  /** Chord info (set by canvas). */
  chord?: unknown;
  /**
   * A chord only: seconds after which a chord still incomplete ends with a `ChordError`
   * naming its pending members (docs/canvas.md). @default none
   */
  chordTimeout?: number;
}

/** `host/pid`, the origin written into messages. */
export const ORIGIN = `${hostname()}/${process.pid}`;

function toIso(value: number | Date | string, what: string): string {
  const d = typeof value === "number" ? new Date(Date.now() + value * 1000) : new Date(value);
  if (Number.isNaN(d.getTime())) throw new RangeError(`Cannot send task: '${what}' is not a valid time: current value is ${String(value)}`);
  return d.toISOString();
}

/** Builds the message for a call of `task` on `queue`. */
export function buildMessage(task: string, queue: string, args: unknown[], o: ApplyOptions): TaskMessage {
  if (!Array.isArray(args)) throw new TypeError(`Cannot call ${task}: args must be an array: current value is ${typeof args}`);
  if (o.kwargs !== undefined && (o.kwargs === null || typeof o.kwargs !== "object" || Array.isArray(o.kwargs))) {
    throw new TypeError(`Cannot call ${task}: kwargs must be an object`);
  }
  if (o.countdown !== undefined && !(Number.isFinite(o.countdown))) {
    throw new RangeError(`Cannot call ${task}: 'countdown' must be a number of seconds: current value is ${o.countdown}`);
  }
  const id = o.taskId !== undefined ? checkTaskId(o.taskId) : crypto.randomUUID();
  const parent = currentTask();
  const eta = o.eta !== undefined ? toIso(o.eta, "eta") : o.countdown ? toIso(o.countdown, "countdown") : undefined;
  const soft = o.softTimeLimit ?? null;
  const hard = o.timeLimit ?? null;
  return {
    id,
    task,
    retries: o.retries ?? 0,
    queue,
    args,
    kwargs: o.kwargs ?? {},
    embed: {
      callbacks: frozenCallbacks(o.link, "link"),
      errbacks: frozenCallbacks(o.linkError, "linkError"),
      chain: toSignatureList(o.chain, "chain step"),
      chord: o.chord ?? null,
    },
    eta,
    expires: o.expires !== undefined ? toIso(o.expires, "expires") : undefined,
    parentId: o.parentId ?? parent?.request.id,
    rootId: o.rootId ?? parent?.request.rootId ?? parent?.request.id ?? id,
    group: o.groupId,
    origin: ORIGIN,
    argsrepr: o.argsrepr,
    kwargsrepr: o.kwargsrepr,
    shadow: o.shadow,
    timelimit: soft !== null || hard !== null ? [soft, hard] : undefined,
    ignoreResult: o.ignoreResult,
    headers: o.headers,
  };
}

/** Whether nothing will ever be stored for a call: its result is ignored and its errors too. */
export function resultIgnored(task: Task, options: ApplyOptions): boolean {
  return (options.ignoreResult ?? task.effective("ignoreResult")) && !task.effective("storeErrorsEvenIfIgnored");
}
