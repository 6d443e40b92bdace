/**
 * The Prometheus text exposition format (version 0.0.4), as much of it as taskd writes:
 * counters and gauges with labels, and histograms. Shared by the dashboard's `/metrics` and the
 * worker's `--metrics-port`, so both use the same names and buckets. A small writer rather than
 * a client library: prom-client is Node-only (it reads `process` and `cluster` internals) and
 * taskd needs nothing of a registry beyond these few lines.
 * @module
 */

/** Histogram bucket bounds of `taskd_task_runtime_seconds` and `taskd_task_queue_wait_seconds`, in seconds. */
export const RUNTIME_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

/** The content type of the text format. */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** Counts of one histogram (per bucket, not cumulative). */
export interface Histogram {
  counts: number[];
  sum: number;
  count: number;
}

/** An empty histogram over {@link RUNTIME_BUCKETS}. */
export function newHistogram(): Histogram {
  return { counts: RUNTIME_BUCKETS.map(() => 0), sum: 0, count: 0 };
}

/** Adds `value` to `h`. */
export function observe(h: Histogram, value: number): void {
  const i = RUNTIME_BUCKETS.findIndex((b) => value <= b);
  if (i >= 0) h.counts[i]++;
  h.sum += value;
  h.count++;
}

/** Adds `value` to the histogram of `key` in `byKey`, making it when missing. */
export function observeBy(byKey: Map<string, Histogram>, key: string, value: number): void {
  let h = byKey.get(key);
  if (!h) byKey.set(key, (h = newHistogram()));
  observe(h, value);
}

/** A label value, escaped. */
export function labelValue(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

/** Writes the HELP and TYPE lines of `name`. */
export function header(out: string[], name: string, type: "counter" | "gauge" | "histogram", help: string): void {
  out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
}

/** Writes `taskd_tasks_total{task,state}` from counts by task, then state. */
export function writeTaskTotals(out: string[], help: string, totals: Map<string, Map<string, number>>): void {
  header(out, "taskd_tasks_total", "counter", help);
  for (const [task, byState] of totals) {
    for (const [state, n] of byState) out.push(`taskd_tasks_total{task="${labelValue(task)}",state="${labelValue(state)}"} ${n}`);
  }
}

/** Writes histogram `name` with one series per task. */
export function writeTaskHistogram(out: string[], name: string, help: string, byTask: Map<string, Histogram>): void {
  header(out, name, "histogram", help);
  for (const [task, h] of byTask) {
    const t = labelValue(task);
    let acc = 0;
    RUNTIME_BUCKETS.forEach((b, i) => {
      acc += h.counts[i];
      out.push(`${name}_bucket{task="${t}",le="${b}"} ${acc}`);
    });
    out.push(`${name}_bucket{task="${t}",le="+Inf"} ${h.count}`);
    out.push(`${name}_sum{task="${t}"} ${h.sum}`);
    out.push(`${name}_count{task="${t}"} ${h.count}`);
  }
}

/** Writes `taskd_queue_messages{queue}`. */
export function writeQueueMessages(out: string[], queues: Record<string, number>): void {
  header(out, "taskd_queue_messages", "gauge", "Messages waiting in each queue.");
  for (const [q, n] of Object.entries(queues)) out.push(`taskd_queue_messages{queue="${labelValue(q)}"} ${n}`);
}

/** Writes one unlabelled gauge. */
export function writeGauge(out: string[], name: string, help: string, value: number): void {
  header(out, name, "gauge", help);
  out.push(`${name} ${value}`);
}
