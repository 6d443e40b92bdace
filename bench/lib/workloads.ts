// The workloads W1, W1e, W2, W3, W4 and the idle/ready figures, written once for every
// TypeScript system (raw JetStream, BullMQ, taskd). A system plugs in through `System`:
// how to start its worker, how to send a task and how to wait for its stored result.
// bench/peers/celery_bench.py mirrors this file for Celery; keep the two in step.
import {
  allocatedBytes, brokerRssMiB, config, cpuMeter, cpuUsPerTask, log, now, percentile, round, rssMiB, sleep, startWorker,
  type RunningWorker, type WorkerCommand, writeResult,
} from "./common.ts";

/** The tasks every system's worker registers: add(x, y), sleep(ms), stamp() -> Date.now(). */
export type TaskName = "add" | "sleep" | "stamp";

/** What a system must provide to be benchmarked. T is its handle for a sent task. */
export interface System<T> {
  /** Row name in the table, e.g. "raw-bun". */
  name: string;
  /** Connect the client and prepare the broker (a clean slate for this run). */
  open(): Promise<void>;
  /** The command that starts one worker process with this concurrency. */
  worker(concurrency: number): WorkerCommand;
  /** Send one task; countdown in seconds delays it. Resolves once the broker has it. */
  send(task: TaskName, args: unknown[], countdown?: number): Promise<T>;
  /** Wait for the stored result of a sent task and return its value. */
  result(handle: T, timeoutS: number): Promise<unknown>;
  close(): Promise<void>;
}

/** Run fn count times with at most `window` calls in flight. */
async function pool(count: number, window: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < count) await fn(next++);
  };
  await Promise.all(Array.from({ length: Math.min(window, count) }, lane));
}

type Out = Record<string, unknown>;

async function attempt(system: string, label: string, out: Out, key: string, fn: () => Promise<object>) {
  const t0 = now();
  try {
    out[key] = await fn();
    log(system, `${label}: ${JSON.stringify(out[key])} (${round((now() - t0) / 1000, 1)} s)`);
  } catch (e) {
    out[key] = { error: String((e as Error)?.message ?? e).split("\n")[0] };
    log(system, `${label} failed: ${(e as Error)?.stack ?? e}`);
  }
}

/** Run every workload against one system and write its result file. */
export async function runSystem<T>(sys: System<T>, extra: Out = {}): Promise<void> {
  const name = sys.name;
  const out: Out = { system: name, ...extra, config };
  const t0 = now();
  const timeout = config.timeoutS;
  await sys.open();
  let w: RunningWorker | undefined;
  try {
    // idle worker: time from spawn to its "ready" line, then its RSS after one idle second
    w = await startWorker(name, sys.worker(config.concurrency));
    await sleep(1000);
    const workerPid = w.pid;
    out.idle = { readyMs: w.readyMs, rssMiB: rssMiB(workerPid) };
    log(name, `idle: ${JSON.stringify(out.idle)}`);

    await attempt(name, "W2", out, "w2", async () => {
      // one tiny task: a result missing for 30 s is a lost one, not a slow one
      const t2 = Math.min(timeout, 30);
      for (let i = 0; i < config.w2Warmup; i++) await sys.result(await sys.send("add", [2, 3]), t2);
      const lat: number[] = [];
      for (let i = 0; i < config.w2; i++) {
        const t = now();
        let v: unknown;
        try {
          v = await sys.result(await sys.send("add", [i, 1]), t2);
        } catch (e) {
          throw new Error(`round trip ${i + 1} of ${config.w2}: ${(e as Error)?.message ?? e}`, { cause: e });
        }
        lat.push(now() - t);
        if (v !== i + 1) throw new Error(`W2: add(${i}, 1) returned ${JSON.stringify(v)}`);
      }
      lat.sort((a, b) => a - b);
      return { n: config.w2, p50: round(percentile(lat, 50), 3), p90: round(percentile(lat, 90), 3), p99: round(percentile(lat, 99), 3) };
    });

    await attempt(name, "W1", out, "w1", async () => {
      const waits: Promise<unknown>[] = [];
      // CPU time of the client, the worker and the broker across W1, as µs per task, and the
      // client's allocated bytes per task (Deno only)
      const cpu = cpuMeter(workerPid);
      const cpu0 = cpu();
      const alloc0 = allocatedBytes();
      const t = now();
      await pool(config.w1, config.window, async (i) => {
        const h = await sys.send("add", [i, 1]);
        waits.push(sys.result(h, timeout));
      });
      const sentS = (now() - t) / 1000;
      const values = await Promise.all(waits);
      const s = (now() - t) / 1000;
      const cpuUs = cpuUsPerTask(cpu0, cpu(), config.w1);
      const alloc1 = allocatedBytes();
      const clientAllocB = alloc0 === undefined ? undefined : round((alloc1! - alloc0) / config.w1, 0);
      const bad = values.filter((v) => typeof v !== "number").length;
      if (bad) throw new Error(`W1: ${bad} results were not numbers`);
      return {
        n: config.w1, seconds: round(s, 3), perS: round(config.w1 / s, 0), sendPerS: round(config.w1 / sentS, 0), cpuUs,
        clientAllocB,
      };
    });
    out.w1RssMiB = rssMiB(w.pid);
    await w.stop();
    w = undefined;

    // enqueue only: no worker runs, so the client and the broker have the machine
    const backlog: T[] = [];
    await attempt(name, "W1e", out, "w1e", async () => {
      const t = now();
      await pool(config.w1e, config.window, async (i) => {
        backlog.push(await sys.send("add", [i, 1]));
      });
      const s = (now() - t) / 1000;
      return { n: config.w1e, seconds: round(s, 3), perS: round(config.w1e / s, 0) };
    });

    // 8 workers' worth of concurrency in one worker process; it first drains W1e's backlog
    w = await startWorker(name, sys.worker(config.w4Concurrency));
    await attempt(name, "W1e drain", out, "w1eDrain", async () => {
      const t = now();
      await Promise.all(backlog.map((h) => sys.result(h, timeout)));
      return { n: backlog.length, seconds: round((now() - t) / 1000, 3) };
    });
    await attempt(name, "W4", out, "w4", async () => {
      const ideal = (config.w4 * config.w4SleepMs) / 1000 / config.w4Concurrency;
      const waits: Promise<unknown>[] = [];
      const t = now();
      await pool(config.w4, config.window, async () => {
        waits.push(sys.result(await sys.send("sleep", [config.w4SleepMs]), timeout));
      });
      await Promise.all(waits);
      const s = (now() - t) / 1000;
      return { n: config.w4, concurrency: config.w4Concurrency, seconds: round(s, 3), ideal: round(ideal, 3), overIdeal: round(s / ideal, 3) };
    });
    await w.stop();
    w = undefined;

    if (config.w3) {
      w = await startWorker(name, sys.worker(config.concurrency));
      const pid = w.pid;
      await sleep(1000);
      await attempt(name, "W3", out, "w3", async () => {
        const rssBefore = rssMiB(pid);
        const brokerBefore = brokerRssMiB();
        let peak = rssBefore;
        const sampler = setInterval(() => { peak = Math.max(peak, rssMiB(pid)); }, 500);
        try {
          const sent: { h: T; eta: number }[] = [];
          const t = now();
          await pool(config.w3n, config.window, async () => {
            const eta = Date.now() + config.w3Countdown * 1000;
            sent.push({ h: await sys.send("stamp", [], config.w3Countdown), eta });
          });
          const sendS = (now() - t) / 1000;
          const brokerHolding = brokerRssMiB();
          const rssHolding = rssMiB(pid);
          const late: number[] = await Promise.all(sent.map(async ({ h, eta }) =>
            (Number(await sys.result(h, config.w3Countdown + timeout * 2)) - eta) / 1000));
          await sleep(1000);
          late.sort((a, b) => a - b);
          return {
            n: config.w3n, countdown: config.w3Countdown, sendS: round(sendS, 2),
            lateMin: round(late[0], 3), lateP50: round(percentile(late, 50), 3), lateP99: round(percentile(late, 99), 3),
            lateMax: round(late[late.length - 1], 3), early: late.filter((x) => x < -0.01).length,
            rssBefore, rssHolding, rssPeak: peak, rssAfter: rssMiB(pid),
            brokerBefore, brokerHolding, brokerAfter: brokerRssMiB(),
          };
        } finally {
          clearInterval(sampler);
        }
      });
      await w.stop();
      w = undefined;
    }
  } catch (e) {
    out.error = String((e as Error)?.message ?? e).split("\n")[0];
    log(name, `failed: ${(e as Error)?.stack ?? e}`);
  } finally {
    if (w) await w.stop();
    await sys.close().catch(() => {});
  }
  out.totalS = round((now() - t0) / 1000, 1);
  writeResult(out);
}
