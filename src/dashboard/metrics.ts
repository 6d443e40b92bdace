/**
 * Counters the dashboard keeps from task events: tasks by name and state, runtime histograms by
 * name, and a per-second window of throughput and runtime for the overview's charts; rendered
 * as Prometheus text with the names API.md promises.
 * @module
 */

/** Histogram bucket bounds of `taskd_task_runtime_seconds`, in seconds. */
export const RUNTIME_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

/** Seconds of per-second history the overview charts show. */
export const WINDOW_SECONDS = 600;

interface Histogram {
  counts: number[];
  sum: number;
  count: number;
}

/** One second of the overview window. */
export interface SecondStats {
  /** Seconds since the epoch. */
  t: number;
  succeeded: number;
  failed: number;
  /** Sum and count of runtimes finished in this second. */
  runtimeSum: number;
  runtimeCount: number;
  runtimeMax: number;
}

/** Task counters and the per-second window. */
export class Metrics {
  readonly totals = new Map<string, Map<string, number>>();
  readonly runtimes = new Map<string, Histogram>();
  readonly #window: SecondStats[] = [];

  /** Counts one event of `task` reaching `state` at `ts`, with the body's runtime when known. */
  count(task: string, state: string, ts: number, runtime?: number): void {
    let byState = this.totals.get(task);
    if (!byState) this.totals.set(task, (byState = new Map()));
    byState.set(state, (byState.get(state) ?? 0) + 1);
    if (runtime !== undefined) {
      let h = this.runtimes.get(task);
      if (!h) this.runtimes.set(task, (h = { counts: RUNTIME_BUCKETS.map(() => 0), sum: 0, count: 0 }));
      const i = RUNTIME_BUCKETS.findIndex((b) => runtime <= b);
      if (i >= 0) h.counts[i]++;
      h.sum += runtime;
      h.count++;
    }
    if (state !== "SUCCESS" && state !== "FAILURE") return;
    const s = this.#second(Math.floor(ts));
    if (!s) return;
    if (state === "SUCCESS") s.succeeded++;
    else s.failed++;
    if (runtime !== undefined) {
      s.runtimeSum += runtime;
      s.runtimeCount++;
      s.runtimeMax = Math.max(s.runtimeMax, runtime);
    }
  }

  #second(t: number): SecondStats | undefined {
    const w = this.#window;
    const now = Math.floor(Date.now() / 1000);
    if (t < now - WINDOW_SECONDS) return undefined;
    const last = w[w.length - 1];
    if (last && last.t === t) return last;
    // Usually the newest second; an older one is found by a short search from the end.
    for (let i = w.length - 1; i >= 0 && w[i].t >= t; i--) if (w[i].t === t) return w[i];
    const s: SecondStats = { t, succeeded: 0, failed: 0, runtimeSum: 0, runtimeCount: 0, runtimeMax: 0 };
    let i = w.length;
    while (i > 0 && w[i - 1].t > t) i--;
    w.splice(i, 0, s);
    while (w.length && w[0].t < now - WINDOW_SECONDS) w.shift();
    return s;
  }

  /** The last `seconds` of per-second stats, oldest first, with empty seconds filled in. */
  series(seconds = 300): SecondStats[] {
    const now = Math.floor(Date.now() / 1000);
    const byT = new Map(this.#window.map((s) => [s.t, s]));
    const out: SecondStats[] = [];
    for (let t = now - seconds + 1; t <= now; t++) out.push(byT.get(t) ?? { t, succeeded: 0, failed: 0, runtimeSum: 0, runtimeCount: 0, runtimeMax: 0 });
    return out;
  }
}

/** A Prometheus label value, escaped. */
function label(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

/** What `/metrics` shows besides the task counters. */
export interface Gauges {
  /** Messages waiting per queue. */
  queues: Record<string, number>;
  /** Workers alive (heartbeat seen recently). */
  workers: number;
  /** Whether the dashboard is connected to the broker. */
  brokerUp: boolean;
  /** Tasks in the dashboard's index. */
  indexed: number;
}

/** Prometheus text exposition of `m` and `g`. */
export function prometheusText(m: Metrics, g: Gauges): string {
  const out: string[] = [];
  out.push("# HELP taskd_tasks_total Task events seen, by task name and the state they report.", "# TYPE taskd_tasks_total counter");
  for (const [task, byState] of m.totals) {
    for (const [state, n] of byState) out.push(`taskd_tasks_total{task="${label(task)}",state="${label(state)}"} ${n}`);
  }
  out.push("# HELP taskd_task_runtime_seconds Seconds task bodies ran (succeeded and failed runs).", "# TYPE taskd_task_runtime_seconds histogram");
  for (const [task, h] of m.runtimes) {
    let acc = 0;
    RUNTIME_BUCKETS.forEach((b, i) => {
      acc += h.counts[i];
      out.push(`taskd_task_runtime_seconds_bucket{task="${label(task)}",le="${b}"} ${acc}`);
    });
    out.push(`taskd_task_runtime_seconds_bucket{task="${label(task)}",le="+Inf"} ${h.count}`);
    out.push(`taskd_task_runtime_seconds_sum{task="${label(task)}"} ${h.sum}`);
    out.push(`taskd_task_runtime_seconds_count{task="${label(task)}"} ${h.count}`);
  }
  out.push("# HELP taskd_queue_messages Messages waiting in each queue.", "# TYPE taskd_queue_messages gauge");
  for (const [q, n] of Object.entries(g.queues)) out.push(`taskd_queue_messages{queue="${label(q)}"} ${n}`);
  out.push("# HELP taskd_workers Workers alive (heartbeat seen recently).", "# TYPE taskd_workers gauge", `taskd_workers ${g.workers}`);
  out.push("# HELP taskd_dashboard_broker_up 1 when the dashboard is connected to the broker.", "# TYPE taskd_dashboard_broker_up gauge", `taskd_dashboard_broker_up ${g.brokerUp ? 1 : 0}`);
  out.push("# HELP taskd_dashboard_indexed_tasks Tasks in the dashboard's index.", "# TYPE taskd_dashboard_indexed_tasks gauge", `taskd_dashboard_indexed_tasks ${g.indexed}`);
  return out.join("\n") + "\n";
}
