/**
 * The worker's own Prometheus metrics (`taskd worker --metrics-port N`): tasks it ran by name
 * and final state, body runtimes and queue waits as histograms, tasks running now, and the
 * messages waiting in each queue it consumes (read from the queue consumers' info at scrape
 * time). The names and buckets are the dashboard's (src/protocol/prometheus.ts writes both).
 * @module
 */
import type { Broker } from "../nats/broker.ts";
import {
  type Histogram,
  observeBy,
  PROMETHEUS_CONTENT_TYPE,
  writeGauge,
  writeQueueMessages,
  writeTaskHistogram,
  writeTaskTotals,
} from "../protocol/prometheus.ts";
import { type HttpServer, runtime } from "../runtime/mod.ts";
import { getLogger } from "../log/logger.ts";

const log = getLogger("taskd.metrics");

/** Where the metrics server listens when only a port is given. */
export const DEFAULT_METRICS_HOST = "0.0.0.0";

/** Counters of one worker. */
export class WorkerMetrics {
  readonly totals = new Map<string, Map<string, number>>();
  readonly runtimes = new Map<string, Histogram>();
  readonly waits = new Map<string, Histogram>();
  #server?: HttpServer;

  /**
   * @param active tasks running now
   * @param broker the worker's broker (queue sizes)
   * @param queues the queues the worker consumes
   */
  constructor(readonly active: () => number, readonly broker: () => Broker | undefined, readonly queues: () => readonly string[]) {}

  /** A run of `task` started after waiting `wait` seconds in its queue. */
  started(task: string, wait: number | undefined): void {
    if (wait !== undefined) observeBy(this.waits, task, wait);
  }

  /** A run of `task` ended in `state` after `seconds`. */
  finished(task: string, state: string, seconds: number): void {
    let byState = this.totals.get(task);
    if (!byState) this.totals.set(task, (byState = new Map()));
    byState.set(state, (byState.get(state) ?? 0) + 1);
    observeBy(this.runtimes, task, seconds);
  }

  /** The Prometheus text of these counters and the queues' sizes now. */
  async text(): Promise<string> {
    const out: string[] = [];
    writeTaskTotals(out, "Tasks this worker ran, by task name and final state.", this.totals);
    writeTaskHistogram(out, "taskd_task_runtime_seconds", "Seconds task runs took on this worker.", this.runtimes);
    writeTaskHistogram(out, "taskd_task_queue_wait_seconds", "Seconds a message waited in its queue (or past its eta) before it ran.", this.waits);
    writeGauge(out, "taskd_worker_active", "Tasks running on this worker now.", this.active());
    writeQueueMessages(out, await this.#queueSizes());
    return out.join("\n") + "\n";
  }

  async #queueSizes(): Promise<Record<string, number>> {
    const broker = this.broker();
    const out: Record<string, number> = {};
    if (!broker) return out;
    const jsm = await broker.jsm();
    await Promise.all(this.queues().map(async (q) => {
      try {
        const info = await jsm.consumers.info(broker.names.tasksStream, broker.names.queueConsumer(q));
        out[q] = info.num_pending; // as the dashboard: not yet delivered
      } catch (e) {
        log.debug(`no consumer info for queue ${q}: ${(e as Error).message}`);
      }
    }));
    return out;
  }

  /** Serves `GET /metrics` on `port` (0: any free port); resolves with the port. */
  async serve(port: number, hostname = DEFAULT_METRICS_HOST): Promise<number> {
    this.#server = await runtime.serve(async (req) => {
      if (new URL(req.url).pathname !== "/metrics") return new Response("Not found: try /metrics\n", { status: 404 });
      return new Response(await this.text(), { headers: { "content-type": PROMETHEUS_CONTENT_TYPE } });
    }, { hostname, port });
    return this.#server.port;
  }

  /** Stops serving. */
  async stop(): Promise<void> {
    await this.#server?.stop();
    this.#server = undefined;
  }
}
