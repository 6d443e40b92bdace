/**
 * Workers as the dashboard knows them: from `worker-online`/`-heartbeat`/`-offline` events
 * (live, no broker polling), enriched on request by `inspect stats/active` replies, which are
 * cached for a second so many browsers cost one broadcast.
 * @module
 */
import type { TaskdEvent } from "../events/event.ts";
import type { Control } from "../control/client.ts";

/** One worker's live facts. */
export interface WorkerInfo {
  hostname: string;
  online: boolean;
  pid?: number;
  /** Seconds since the epoch of the last event from it. */
  lastSeen: number;
  /** Seconds between its heartbeats. */
  freq: number;
  active?: number;
  processed?: number;
  loadavg?: number[];
  /** From `inspect stats` (pool, concurrency, totals, uptime, rate limits…), when it answered. */
  stats?: Record<string, unknown>;
  /** From `inspect active`: tasks running now. */
  running?: unknown[];
}

/** Workers by node name. */
export class WorkerTable {
  readonly #workers = new Map<string, WorkerInfo>();
  #inspected?: { at: number; value: Promise<void> };

  /** @param control used to ask workers for stats and active tasks */
  constructor(readonly control?: Control) {}

  /** Applies one worker event; returns the worker it changed. */
  apply(e: TaskdEvent): WorkerInfo | undefined {
    if (!e.type.startsWith("worker-") || !e.hostname) return undefined;
    let w = this.#workers.get(e.hostname);
    if (!w) this.#workers.set(e.hostname, (w = { hostname: e.hostname, online: true, lastSeen: 0, freq: 2 }));
    w.lastSeen = typeof e.timestamp === "number" ? e.timestamp : Date.now() / 1000;
    w.online = e.type !== "worker-offline";
    if (typeof e.pid === "number") w.pid = e.pid;
    if (typeof e.freq === "number") w.freq = e.freq;
    if (typeof e.active === "number") w.active = e.active;
    if (typeof e.processed === "number") w.processed = e.processed;
    if (Array.isArray(e.loadavg)) w.loadavg = e.loadavg as number[];
    return w;
  }

  /** Whether `w` is alive: online and heard from within three heartbeats (at least 10 s). */
  alive(w: WorkerInfo, now = Date.now() / 1000): boolean {
    return w.online && now - w.lastSeen < Math.max(10, 3 * w.freq);
  }

  /** Workers heard from, alive first, by name. */
  list(): (WorkerInfo & { alive: boolean })[] {
    const now = Date.now() / 1000;
    return [...this.#workers.values()]
      .map((w) => ({ ...w, alive: this.alive(w, now) }))
      .sort((a, b) => Number(b.alive) - Number(a.alive) || a.hostname.localeCompare(b.hostname));
  }

  /** How many workers are alive. */
  aliveCount(): number {
    const now = Date.now() / 1000;
    let n = 0;
    for (const w of this.#workers.values()) if (this.alive(w, now)) n++;
    return n;
  }

  /** The worker named `hostname`, if heard from. */
  get(hostname: string): WorkerInfo | undefined {
    return this.#workers.get(hostname);
  }

  /** Forgets the cached inspect replies (after an action changed a worker). */
  invalidate(): void {
    this.#inspected = undefined;
  }

  /** Asks the workers for stats and active tasks (at most once a second) and merges the replies. */
  inspect(timeout = 0.5): Promise<void> {
    const now = Date.now();
    if (!this.control) return Promise.resolve();
    if (this.#inspected && now - this.#inspected.at < 1000) return this.#inspected.value;
    const inspect = this.control.inspect({ timeout });
    const value = Promise.all([inspect.stats(), inspect.active()]).then(([stats, active]) => {
      for (const [node, s] of Object.entries(stats)) {
        let w = this.#workers.get(node);
        if (!w) this.#workers.set(node, (w = { hostname: node, online: true, lastSeen: Date.now() / 1000, freq: 2 }));
        w.stats = s;
        if (typeof s.processed === "number") w.processed = Math.max(w.processed ?? 0, s.processed);
        if (typeof s.pid === "number") w.pid = s.pid;
        w.lastSeen = Math.max(w.lastSeen, Date.now() / 1000);
        w.online = true;
      }
      for (const [node, tasks] of Object.entries(active)) {
        const w = this.#workers.get(node);
        if (w) {
          w.running = tasks;
          w.active ??= tasks.length;
        }
      }
    }, () => {});
    this.#inspected = { at: now, value };
    return value;
  }
}
