/**
 * `taskd worker <module>`: load the user's tasks and serve them.
 * @module
 */
import process from "node:process";
import { DEFAULTS } from "../../app/options.ts";
import { getLogger, setLogFormat, setLogLevel, setLogWorker } from "../../log/logger.ts";
import { ensureDevServer } from "../../nats/devserver.ts";
import { Worker } from "../../worker/worker.ts";
import { DEFAULT_METRICS_HOST } from "../../worker/metrics.ts";
import { POOL_KINDS } from "../../worker/pool/pool.ts";
import { resolve as resolvePath } from "node:path";
import { applySigningFlags, type BrokerFlags, brokerConfigured } from "../broker.ts";
import { loadTaskModule } from "../load.ts";
import { sendPreloadOptions } from "../preload.ts";
import { CliError } from "../errors.ts";
import { type Beat, startBeats } from "../../beat/beat.ts";

const log = getLogger("taskd.worker");

/** Options of `taskd worker`. */
export interface WorkerFlags extends BrokerFlags {
  redirectStdouts?: boolean;
  redirectStdoutsLevel?: string;
  queues?: string;
  concurrency?: number;
  pool?: string;
  prefetch?: number;
  hostname?: string;
  loglevel?: string;
  logfile?: string;
  timeLimit?: number;
  softTimeLimit?: number;
  /** cac's negation of --without-events. */
  events?: boolean;
  withoutEvents?: boolean;
  /** -B: also run a beat. */
  beat?: boolean;
  /** Serve Prometheus metrics on this port. */
  metricsPort?: number;
  /** `text` or `json`. */
  logFormat?: string;
}

function positiveInt(name: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new CliError(`Cannot start worker: --${name} must be a whole number >= 1: current value is ${value}`);
  return n;
}

/** Runs the worker until it is stopped by a signal. */
export async function workerCommand(module: string, flags: WorkerFlags, unknown: string[] = []): Promise<void> {
  setLogLevel(flags.loglevel ?? "info");
  if (flags.logFormat !== undefined) {
    setLogFormat(String(flags.logFormat));
    process.env.TASKD_LOG_FORMAT = String(flags.logFormat); // for the pool's threads
  }
  const metricsPort = flags.metricsPort === undefined ? undefined : Number(flags.metricsPort);
  if (metricsPort !== undefined && !(Number.isInteger(metricsPort) && metricsPort >= 0 && metricsPort < 65536)) {
    throw new CliError(`Cannot start worker: --metrics-port must be a port number (0 for any free port): current value is ${flags.metricsPort}`);
  }
  const concurrency = positiveInt("concurrency", flags.concurrency) ?? DEFAULTS.concurrency;
  const prefetch = positiveInt("prefetch", flags.prefetch);
  if (flags.pool && !(POOL_KINDS as readonly string[]).includes(flags.pool)) {
    throw new CliError(`Cannot start worker: --pool ${flags.pool} is not a pool; use ${POOL_KINDS.join(" or ")}`);
  }
  if (flags.broker) process.env.TASKD_BROKER_URL = flags.broker;
  applySigningFlags(flags);
  const apps = await loadTaskModule(module);
  await sendPreloadOptions("worker", apps[0], flags as Record<string, unknown>, unknown);
  for (const app of apps) {
    // --creds, --nkey and --tls-* apply to every app the module made (its own config wins).
    for (const key of ["creds", "nkey", "tlsCa", "tlsCert", "tlsKey"] as const) if (flags[key] !== undefined) app.config[key] ??= String(flags[key]);
    if (flags.timeLimit !== undefined) app.config.taskTimeLimit ??= Number(flags.timeLimit);
    if (flags.softTimeLimit !== undefined) app.config.taskSoftTimeLimit ??= Number(flags.softTimeLimit);
  }
  const dev = !brokerConfigured(flags) && !apps[0].config.broker ? await ensureDevServer() : undefined;
  if (dev) log.info(`started the dev server at ${dev.url} (store in .taskd/); pass --broker to use another`);
  const worker = new Worker(apps, {
    queues: flags.queues ? String(flags.queues).split(",").map((q) => q.trim()).filter(Boolean) : undefined,
    concurrency,
    prefetch,
    hostname: flags.hostname,
    pool: flags.pool ?? "async",
    module: resolvePath(module),
    loglevel: flags.loglevel ?? "info",
    redirectStdouts: flags.redirectStdouts !== false,
    redirectStdoutsLevel: flags.redirectStdoutsLevel,
    logfile: flags.logfile,
    sendEvents: !(flags.withoutEvents || flags.events === false),
    taskEvents: flags.events === true,
    metricsPort,
  });
  setLogWorker(worker.hostname);
  // Task code can throw outside any task's promise chain (a stray timer): say so, keep serving.
  process.on("uncaughtException", (e) => log.error("uncaught error outside any task (the worker goes on):", e));
  process.on("unhandledRejection", (e) => log.error("unhandled rejection outside any task (the worker goes on):", e));
  let signalled = 0;
  let beats: Beat[] = [];
  const done = new Promise<void>((resolve) => {
    const onSignal = (sig: string) => {
      signalled++;
      for (const b of beats) b.stop();
      if (signalled === 1) {
        log.info(`${sig} received: warm shutdown (finishing running tasks; send again for cold shutdown)`);
        worker.stop(false, sig).then(resolve, resolve);
      } else {
        log.warn(`${sig} received again: cold shutdown`);
        worker.stop(true, sig).finally(() => {
          dev?.stop();
          process.exit(1);
        });
      }
    };
    process.on("SIGINT", () => onSignal("SIGINT"));
    process.on("SIGTERM", () => onSignal("SIGTERM"));
    // Remote `taskd control shutdown` stops the worker without a signal.
    worker.stopped.then(() => resolve());
  });
  try {
    await worker.start();
    if (flags.beat) beats = await startBeats(apps, { embedded: true, hostname: worker.hostname });
    if (worker.metricsPort !== undefined) log.info(`metrics at http://${DEFAULT_METRICS_HOST}:${worker.metricsPort}/metrics`);
  } catch (e) {
    dev?.stop();
    throw e;
  }
  await done;
  dev?.stop();
}
