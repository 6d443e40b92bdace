/**
 * Task search over the index: Flower's qualifiers (`name:`, `state:`, `worker:`, `args:`,
 * `kwargs:`, `result:`) plus `id:`, `queue:`, `group:`, `error:`, `after:`/`before:` (ISO time or epoch
 * seconds) and free words, all ANDed, case-insensitive substring matches (`state:` is exact,
 * and takes a comma list). Newest first, with offset paging.
 * @module
 */
import { haystack, type TaskIndex, type TaskRecord } from "./index.ts";

/** A parsed search. */
export interface TaskQuery {
  name?: string;
  states?: string[];
  worker?: string;
  id?: string;
  queue?: string;
  group?: string;
  args?: string;
  kwargs?: string;
  result?: string;
  error?: string;
  /** Seconds since the epoch: first seen at or after / before. */
  after?: number;
  before?: number;
  /** Free words: each must appear somewhere in the record's text. */
  words: string[];
}

const QUALIFIERS = new Set(["name", "state", "worker", "id", "queue", "group", "args", "kwargs", "result", "error", "exception", "after", "before"]);

/** Reads a time as ISO text or epoch seconds; undefined when it is neither. */
export function parseTime(v: string): number | undefined {
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v);
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : t / 1000;
}

/** Parses `q` (qualifiers and words; `"quoted text"` keeps spaces) into a query. */
export function parseQuery(q = ""): TaskQuery {
  const out: TaskQuery = { words: [] };
  for (const m of q.matchAll(/(\w+:)?(?:"([^"]*)"|(\S+))/g)) {
    const key = m[1]?.slice(0, -1).toLowerCase();
    const value = (m[2] ?? m[3] ?? "").trim();
    if (!value) continue;
    if (!key || !QUALIFIERS.has(key)) {
      out.words.push((m[1] ?? "").toLowerCase() + value.toLowerCase());
      continue;
    }
    setField(out, key, value);
  }
  return out;
}

/** Sets one qualifier on `query` (what API parameters like `state=` also use). */
export function setField(query: TaskQuery, key: string, value: string): void {
  const v = value.toLowerCase();
  switch (key) {
    case "state":
      query.states = value.split(",").map((s) => s.trim().toUpperCase()).filter(Boolean);
      return;
    case "after":
    case "before":
      query[key] = parseTime(value);
      return;
    case "exception":
      query.error = v;
      return;
    case "name":
    case "worker":
    case "id":
    case "queue":
    case "group":
    case "args":
    case "kwargs":
    case "result":
    case "error":
      query[key] = v;
  }
}

const has = (field: string | undefined, needle: string | undefined) => needle === undefined || (field !== undefined && field.toLowerCase().includes(needle));

/** Whether `r` matches `q`. */
export function matches(r: TaskRecord, q: TaskQuery): boolean {
  if (q.states && !q.states.includes(r.state)) return false;
  if (q.after !== undefined && r.first < q.after) return false;
  if (q.before !== undefined && r.first >= q.before) return false;
  if (!has(r.name, q.name) || !has(r.worker, q.worker) || !has(r.id, q.id) || !has(r.queue, q.queue) || !has(r.groupId, q.group)) return false;
  if (!has(r.args, q.args) || !has(r.kwargs, q.kwargs) || !has(r.result, q.result) || !has(r.exception, q.error)) return false;
  if (q.words.length) {
    const h = haystack(r);
    for (const w of q.words) if (!h.includes(w)) return false;
  }
  return true;
}

/** One page of a search. */
export interface SearchPage {
  tasks: TaskRecord[];
  /** Matches on this page and before it; `more` says whether another page exists. */
  offset: number;
  limit: number;
  more: boolean;
  /** Milliseconds the search took. */
  took: number;
}

/** The `limit` newest matches of `q` after skipping `offset`. */
export function search(index: TaskIndex, q: TaskQuery, limit = 50, offset = 0): SearchPage {
  const t0 = performance.now();
  const tasks: TaskRecord[] = [];
  let skipped = 0;
  let more = false;
  for (const r of index.newestFirst()) {
    if (!matches(r, q)) continue;
    if (skipped < offset) {
      skipped++;
      continue;
    }
    if (tasks.length === limit) {
      more = true;
      break;
    }
    tasks.push(r);
  }
  return { tasks, offset, limit, more, took: performance.now() - t0 };
}
