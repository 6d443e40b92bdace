/**
 * What `taskd queue list` and `app.control.queues()` show: per queue, the messages waiting on
 * the server at each priority level (consumer `num_pending`), those delivered and not yet acked
 * (`num_ack_pending`), whether it is paused, and the tasks parked for a concurrency slot per
 * key (the waiting stream's subject counts). O(1) reads per consumer, nothing scanned.
 * @module
 */
import type { Broker } from "./broker.ts";
import { isNotFound } from "./errors.ts";
import type { PauseEntry } from "./pause.ts";
import { nameFromToken } from "../protocol/flow.ts";

/** One queue's state. */
export interface QueueStats {
  /** The queue's name. */
  queue: string;
  /** Messages waiting on the server, all levels. */
  depth: number;
  /** Messages waiting per priority level (only levels with any). */
  byPriority: Record<string, number>;
  /** Messages delivered to workers and not yet acknowledged. */
  inFlight: number;
  /** Whether it is paused, and since when. */
  paused?: PauseEntry;
  /** Tasks waiting for a concurrency slot, by `<task name> <key>` (`(all)` without a key; a key that is not a plain token shows as its hash). */
  waiting: Record<string, number>;
}

/** The state of every queue that has a consumer (plus paused queues without one). */
export async function queueStats(broker: Broker, paused: Map<string, PauseEntry>): Promise<QueueStats[]> {
  const jsm = await broker.jsm();
  await broker.ensureStreams();
  const byQueue = new Map<string, QueueStats>();
  const get = (q: string) => {
    let s = byQueue.get(q);
    if (!s) byQueue.set(q, (s = { queue: q, depth: 0, byPriority: {}, inFlight: 0, waiting: {} }));
    return s;
  };
  for await (const c of jsm.consumers.list(broker.names.tasksStream)) {
    const m = /^queue-([A-Za-z0-9_-]+)(?:=p(\d))?$/.exec(c.name);
    if (!m) continue;
    const s = get(m[1]);
    const level = m[2] ?? "5";
    s.depth += c.num_pending;
    s.inFlight += c.num_ack_pending;
    if (c.num_pending > 0) s.byPriority[level] = (s.byPriority[level] ?? 0) + c.num_pending;
  }
  for (const [q, entry] of paused) get(q).paused = entry;
  try {
    const info = await jsm.streams.info(broker.names.waitingStream, { subjects_filter: `${broker.names.waitingSubject}.>` });
    const prefix = `${broker.names.waitingSubject}.`;
    for (const [subject, n] of Object.entries(info.state.subjects ?? {})) {
      const [queue, task, key] = subject.slice(prefix.length).split(".");
      get(queue).waiting[`${nameFromToken(task)} ${key === "=all" ? "(all)" : key}`] = n;
    }
  } catch (e) {
    if (!isNotFound(e)) throw e;
  }
  return [...byQueue.values()].sort((a, b) => a.queue.localeCompare(b.queue));
}
