/**
 * The dashboard's in-memory index of tasks, built from task events (replayed from the history
 * stream on start, then live): one record per task id with its state, attempts and the text
 * search looks at, kept in first-seen order so the newest come first. Bounded by count: the
 * oldest records go first.
 * @module
 */
import type { TaskdEvent } from "../events/event.ts";
import { Metrics } from "./metrics.ts";

/** One delivery of a task (a retry is a new attempt with `retries + 1`). */
export interface Attempt {
  /** The retry count this delivery carried. */
  retries: number;
  /** The worker that received it. */
  worker?: string;
  /** When it was received, started and ended (seconds since the epoch). */
  received?: number;
  started?: number;
  ended?: number;
  /** What happened: SUCCESS, FAILURE, RETRY, REVOKED, REJECTED. */
  outcome?: string;
  /** Seconds the body ran. */
  runtime?: number;
  /** `Type: message` for a failure, retry or reject. */
  exception?: string;
}

/** What the index knows of one task. */
export interface TaskRecord {
  id: string;
  name?: string;
  state: string;
  worker?: string;
  queue?: string;
  args?: string;
  kwargs?: string;
  result?: string;
  exception?: string;
  runtime?: number;
  retries: number;
  rootId?: string;
  parentId?: string;
  /** The group (or chord header) it belongs to. */
  groupId?: string;
  eta?: string;
  expires?: string;
  /** First and last event times (seconds since the epoch). */
  first: number;
  last: number;
  sent?: number;
  received?: number;
  started?: number;
  ended?: number;
  attempts: Attempt[];
  /** Lower-case text that free search and qualifiers look at. */
  hay?: string;
}

/** The state each task event puts a task in (Celery's names). */
export const EVENT_STATE: Record<string, string> = {
  "task-sent": "PENDING",
  "task-received": "RECEIVED",
  "task-started": "STARTED",
  "task-succeeded": "SUCCESS",
  "task-failed": "FAILURE",
  "task-retried": "RETRY",
  "task-revoked": "REVOKED",
  "task-rejected": "REJECTED",
};

const READY = new Set(["SUCCESS", "FAILURE", "REVOKED", "REJECTED"]);

/** The default bound on records kept. */
export const DEFAULT_MAX_TASKS = 200_000;

/** Tasks by id, newest first, with metrics kept as events arrive. */
export class TaskIndex {
  readonly #byId = new Map<string, TaskRecord>();
  /** First-seen order; evicted records leave holes (`undefined`) compacted now and then. */
  #order: (TaskRecord | undefined)[] = [];
  #head = 0;
  readonly metrics = new Metrics();

  /** @param maxTasks records kept; the oldest go first */
  constructor(readonly maxTasks = DEFAULT_MAX_TASKS) {}

  /** How many tasks are indexed. */
  get size(): number {
    return this.#byId.size;
  }

  /** The record of `id`, if indexed. */
  get(id: string): TaskRecord | undefined {
    return this.#byId.get(id);
  }

  /** Applies one task event; returns the record it changed (undefined for events without an id). */
  apply(e: TaskdEvent): TaskRecord | undefined {
    const state = EVENT_STATE[e.type];
    if (!state || typeof e.id !== "string") return undefined;
    const ts = typeof e.timestamp === "number" ? e.timestamp : Date.now() / 1000;
    let r = this.#byId.get(e.id);
    if (!r) {
      r = { id: e.id, state, retries: 0, first: ts, last: 0, attempts: [] };
      this.#byId.set(e.id, r);
      this.#order.push(r);
      if (this.#byId.size > this.maxTasks) this.#evict();
    }
    if (e.name) r.name = e.name;
    if (e.queue) r.queue = e.queue;
    if (e.argsrepr !== undefined) r.args = e.argsrepr;
    if (e.kwargsrepr !== undefined) r.kwargs = e.kwargsrepr;
    if (typeof e.rootId === "string") r.rootId = e.rootId;
    if (typeof e.parentId === "string") r.parentId = e.parentId;
    if (typeof e.groupId === "string") r.groupId = e.groupId;
    if (typeof e.eta === "string") r.eta = e.eta;
    if (typeof e.expires === "string") r.expires = e.expires;
    const retries = typeof e.retries === "number" ? e.retries : r.retries;
    if (e.type === "task-sent") r.sent = ts;
    else if (e.type !== "task-rejected" || e.hostname) this.#attempt(r, retries, e, ts, state);
    // Events of one task can arrive out of order (several publishers): the latest one wins,
    // and at the same instant a ready state is not undone by a non-ready one.
    if (ts > r.last || (ts === r.last && !(READY.has(r.state) && !READY.has(state)))) {
      r.state = state;
      r.last = ts;
    }
    r.retries = Math.max(r.retries, retries);
    if (e.type === "task-received") r.received = ts;
    if (e.type === "task-started") r.started = ts;
    if (READY.has(state) || state === "RETRY") r.ended = ts;
    if (e.type !== "task-sent" && e.hostname) r.worker = e.hostname;
    if (e.result !== undefined) r.result = String(e.result);
    if (e.exception !== undefined) r.exception = String(e.exception);
    if (typeof e.runtime === "number") r.runtime = e.runtime;
    r.hay = undefined;
    this.metrics.count(r.name ?? "?", state, ts, typeof e.runtime === "number" && (state === "SUCCESS" || state === "FAILURE") ? e.runtime : undefined);
    return r;
  }

  #attempt(r: TaskRecord, retries: number, e: TaskdEvent, ts: number, state: string): void {
    // The latest attempt with this retry count; a delivery received after that one ended (a
    // dead letter replayed, a requeue) is a new attempt with the same count.
    let a: Attempt | undefined;
    for (let i = r.attempts.length - 1; i >= 0 && !a; i--) if (r.attempts[i].retries === retries) a = r.attempts[i];
    if (!a || (e.type === "task-received" && a.ended !== undefined)) {
      a = { retries };
      r.attempts.push(a);
    }
    if (e.hostname) a.worker = e.hostname;
    if (e.type === "task-received") a.received = ts;
    else if (e.type === "task-started") a.started = ts;
    else {
      a.ended = ts;
      a.outcome = state;
      if (typeof e.runtime === "number") a.runtime = e.runtime;
      if (e.exception !== undefined) a.exception = String(e.exception);
    }
  }

  #evict(): void {
    // Drop the oldest tenth at once, so eviction costs O(1) per insert on average.
    const drop = Math.max(1, Math.floor(this.maxTasks / 10));
    let dropped = 0;
    while (dropped < drop && this.#head < this.#order.length) {
      const r = this.#order[this.#head];
      this.#order[this.#head++] = undefined;
      if (r && this.#byId.get(r.id) === r) {
        this.#byId.delete(r.id);
        dropped++;
      }
    }
    if (this.#head > this.#order.length / 2) {
      this.#order = this.#order.slice(this.#head);
      this.#head = 0;
    }
  }

  /** Records newest first (by when the index first saw them). */
  *newestFirst(): Generator<TaskRecord> {
    for (let i = this.#order.length - 1; i >= this.#head; i--) {
      const r = this.#order[i];
      if (r) yield r;
    }
  }

  /** Counts of tasks by current state. */
  states(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const r of this.#byId.values()) out[r.state] = (out[r.state] ?? 0) + 1;
    return out;
  }
}

/** A task as lists and live updates carry it (no attempts, no search text). */
export function summary(r: TaskRecord): Omit<TaskRecord, "attempts" | "hay"> {
  const { attempts: _a, hay: _h, ...rest } = r;
  return rest;
}

/** The text free search matches against (built on demand, kept until the record changes). */
export function haystack(r: TaskRecord): string {
  return (r.hay ??= [r.id, r.name, r.state, r.worker, r.queue, r.args, r.kwargs, r.result, r.exception].filter(Boolean).join("\u0000").toLowerCase());
}
