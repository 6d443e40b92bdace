/**
 * Counters the dashboard keeps from task events: tasks by name and state, runtime histograms by
 * name, and a per-second window of throughput and runtime for the overview's charts; rendered
 * as Prometheus text with the names API.md promises.
 * @module
 */

import { type Histogram, observeBy, writeGauge, writeQueueMessages, writeTaskHistogram, writeTaskTotals } from "../protocol/prometheus.ts";

export { RUNTIME_BUCKETS } from "../protocol/prometheus.ts";

/** Seconds of per-second history the overview charts show. */
export const WINDOW_SECONDS = 600;

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
    if (runtime !== undefined) observeBy(this.runtimes, task, runtime);
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

/** Prometheus text exposition of `m` and `g` (the writer in src/protocol/prometheus.ts). */
export function prometheusText(m: Metrics, g: Gauges): string {
  const out: string[] = [];
  writeTaskTotals(out, "Task events seen, by task name and the state they report.", m.totals);
  writeTaskHistogram(out, "taskd_task_runtime_seconds", "Seconds task bodies ran (succeeded and failed runs).", m.runtimes);
  writeQueueMessages(out, g.queues);
  writeGauge(out, "taskd_workers", "Workers alive (heartbeat seen recently).", g.workers);
  writeGauge(out, "taskd_dashboard_broker_up", "1 when the dashboard is connected to the broker.", g.brokerUp ? 1 : 0);
  writeGauge(out, "taskd_dashboard_indexed_tasks", "Tasks in the dashboard's index.", g.indexed);
  return out.join("\n") + "\n";
}
