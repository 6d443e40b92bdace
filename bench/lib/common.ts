// Shared helpers of the benchmark drivers (Bun and Deno alike): workload sizes from the
// environment, percentiles, starting a worker process and waiting for its "ready" line,
// the resident memory and CPU time of a process tree, the client's allocated bytes (Deno), and
// writing a driver's result file.
// Runtime-neutral on purpose: only node: modules, which both Bun and Deno provide.
import { spawn, type ChildProcess } from "node:child_process";
import { appendFileSync, closeSync, type FSWatcher, openSync, readdirSync, readFileSync, readSync, rmSync, watch, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { getHeapStatistics } from "node:v8";

const env = (name: string): string | undefined => process.env[name];
const quick = env("BENCH_QUICK") === "1";
const num = (name: string, full: number, small: number): number => {
  const v = env(name);
  if (v === undefined || v === "") return quick ? small : full;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new RangeError(`Cannot read ${name}: expected a number, got "${v}"`);
  return n;
};

/** Workload sizes; every one can be overridden by its environment variable. */
export const config = {
  quick,
  w1: num("BENCH_W1_N", 20_000, 5_000),
  w1e: num("BENCH_W1E_N", 20_000, 5_000),
  w2: num("BENCH_W2_N", 2_000, 300),
  w2Warmup: num("BENCH_W2_WARMUP", 200, 50),
  w3: env("BENCH_W3") === "1",
  w3n: num("BENCH_W3_N", 100_000, 10_000),
  w3Countdown: num("BENCH_W3_COUNTDOWN", 30, 10),
  w4: num("BENCH_W4_N", 1_000, 200),
  w4Concurrency: 8,
  w4SleepMs: 50,
  concurrency: num("BENCH_CONCURRENCY", 100, 100),
  window: num("BENCH_WINDOW", 1_000, 1_000),
  timeoutS: num("BENCH_TIMEOUT", 180, 120),
};

export const now = (): number => performance.now();
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** One line on stderr, prefixed by the system's name. */
export function log(system: string, msg: string): void {
  process.stderr.write(`[${system}] ${msg}\n`);
}

/** Nearest-rank percentile of an ascending array; NaN when empty. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

export const round = (x: number, digits = 2): number => Number(x.toFixed(digits));

/** pid and all its descendants (Linux /proc): a worker's prefork children, a forking server. */
function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      // the command name may hold spaces and parentheses: fields start after the last ")"
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(d));
      children.set(ppid, list);
    } catch { /* the process ended meanwhile */ }
  }
  const tree: number[] = [];
  const todo = [pid];
  while (todo.length) {
    const p = todo.pop()!;
    tree.push(p);
    todo.push(...(children.get(p) ?? []));
  }
  return tree;
}

/** Resident set size in KiB of pid and all its descendants (Linux /proc); 0 if gone. */
export function treeRssKiB(pid: number): number {
  let total = 0;
  for (const p of processTree(pid)) {
    try {
      const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, "utf8"));
      if (m) total += Number(m[1]);
    } catch { /* gone */ }
  }
  return total;
}

/** CPU seconds (user + system, all threads) one process has used so far; 0 if gone. */
function cpuS(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // utime and stime are fields 14 and 15 of stat(5), in clock ticks (USER_HZ, 100 on Linux)
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return 0;
  }
}

/** CPU seconds used so far by this process (the client), a worker's tree and the broker's tree. */
export interface CpuSample { client: number; worker: number; server: number }

/**
 * A CPU meter for the client, a worker and the broker ($BENCH_BROKER_PID): the process trees are
 * walked once, here, so that each sample reads only their stat files and costs the client nothing
 * worth counting. A process that a tree forks later is not counted.
 */
export function cpuMeter(workerPid: number): () => CpuSample {
  const broker = Number(env("BENCH_BROKER_PID"));
  const workers = processTree(workerPid);
  const servers = broker > 0 ? processTree(broker) : [];
  const sum = (pids: number[]) => pids.reduce((total, p) => total + cpuS(p), 0);
  return () => ({ client: cpuS(process.pid), worker: sum(workers), server: broker > 0 ? sum(servers) : NaN });
}

/**
 * Bytes this process has allocated on its JavaScript heap so far: V8's own counter, under Deno.
 * Undefined under Bun: its node:v8 figure of the same name does not count short-lived objects.
 */
export function allocatedBytes(): number | undefined {
  return process.versions.bun ? undefined : getHeapStatistics().total_allocated_bytes;
}

/** CPU µs per task between two samples: each process's share of the work of n tasks. */
export function cpuUsPerTask(a: CpuSample, b: CpuSample, n: number): CpuSample {
  const us = (k: keyof CpuSample) => round(((b[k] - a[k]) * 1e6) / n, 1);
  return { client: us("client"), worker: us("worker"), server: us("server") };
}

export const rssMiB = (pid: number): number => round(treeRssKiB(pid) / 1024, 1);

export interface WorkerCommand {
  cmd: string;
  args: string[];
  env?: Record<string, string>;
  cwd?: string;
}

/** A running worker process: its pid, how long it took to print "ready", and stop(). */
export interface RunningWorker {
  pid: number;
  readyMs: number;
  child: ChildProcess;
  stop(): Promise<void>;
}

/**
 * Start a worker and resolve once a line of its output contains "ready" (case-insensitive).
 * The pid goes to $BENCH_PIDFILE so that run.sh can stop it even if this driver dies.
 * The worker runs in its own process group: stop() signals the whole group (prefork children).
 */
export function startWorker(system: string, w: WorkerCommand, readyTimeoutMs = 60_000): Promise<RunningWorker> {
  const t0 = now();
  // The worker's output goes to a file, not to this driver: reading a worker's per-task log lines
  // would cost the client's process (and so the measured system) time. BENCH_VERBOSE pipes it here.
  const verbose = process.env.BENCH_VERBOSE === "1";
  const logPath = join(tmpdir(), `taskd-bench-${system}-${process.pid}-${Math.round(t0)}.log`);
  const logFd = verbose ? undefined : openSync(logPath, "w");
  const child = spawn(w.cmd, w.args, {
    cwd: w.cwd,
    env: { ...process.env, ...w.env },
    stdio: verbose ? ["ignore", "pipe", "pipe"] : ["ignore", logFd!, logFd!],
    detached: true,
  });
  if (logFd !== undefined) closeSync(logFd);
  const pid = child.pid!;
  const pidfile = env("BENCH_PIDFILE");
  if (pidfile) appendFileSync(pidfile, `${pid}\n`);
  const tail: string[] = [];
  let exited = false;
  const exitedP = new Promise<void>((r) => child.on("exit", () => { exited = true; r(); }));
  const stop = async (): Promise<void> => {
    if (exited) return;
    try { process.kill(-pid, "SIGTERM"); } catch { /* already gone */ }
    const killed = await Promise.race([exitedP.then(() => true), sleep(15_000).then(() => false)]);
    if (!killed) {
      log(system, `worker ${pid} ignored SIGTERM for 15 s: SIGKILL`);
      try { process.kill(-pid, "SIGKILL"); } catch { /* gone */ }
      await exitedP;
    }
    if (logFd !== undefined) rmSync(logPath, { force: true });
  };
  return new Promise((resolve, reject) => {
    let ready = false;
    const timer = setTimeout(() => {
      if (ready) return;
      void stop();
      reject(new Error(`Cannot start the ${system} worker: no "ready" line within ${readyTimeoutMs} ms:\n${tail.join("\n")}`));
    }, readyTimeoutMs);
    const onData = (buf: Buffer) => {
      for (const line of buf.toString().split("\n")) {
        if (!line.trim()) continue;
        tail.push(line);
        if (tail.length > 30) tail.shift();
        if (process.env.BENCH_VERBOSE === "1") log(system, `worker: ${line}`);
        if (!ready && /\bready\b/i.test(line)) {
          ready = true;
          clearTimeout(timer);
          resolve({ pid, readyMs: round(now() - t0, 0), child, stop });
        }
      }
    };
    if (verbose) {
      child.stdout!.on("data", onData);
      child.stderr!.on("data", onData);
    } else {
      // Read the log file as it grows (a file watch, and a poll as a backup) until "ready".
      let offset = 0;
      let partial = "";
      const readNew = () => {
        if (ready) return;
        let fd: number | undefined;
        try {
          fd = openSync(logPath, "r");
          const buf = Buffer.alloc(64 * 1024);
          for (;;) {
            const n = readSync(fd, buf, 0, buf.length, offset);
            if (n <= 0) break;
            offset += n;
            const text = partial + buf.subarray(0, n).toString();
            const cut = text.lastIndexOf("\n");
            partial = cut < 0 ? text : text.slice(cut + 1);
            if (cut >= 0) onData(Buffer.from(text.slice(0, cut + 1)));
          }
        } catch { /* not there yet */ } finally {
          if (fd !== undefined) closeSync(fd);
        }
        if (ready) stopWatching();
      };
      let watcher: FSWatcher | undefined;
      try { watcher = watch(logPath, readNew); } catch { /* polling only */ }
      const poll = setInterval(readNew, 20);
      const stopWatching = () => {
        clearInterval(poll);
        watcher?.close();
      };
      child.on("exit", () => { readNew(); stopWatching(); });
      readNew();
    }
    child.on("exit", (code, sig) => {
      if (ready) return;
      clearTimeout(timer);
      reject(new Error(`Cannot start the ${system} worker: it exited (${code ?? sig}) before "ready":\n${tail.join("\n")}`));
    });
  });
}

/** Write the driver's result object where run.sh expects it ($BENCH_OUT), else to stdout. */
export function writeResult(result: object): void {
  const text = JSON.stringify(result, null, 2) + "\n";
  const out = env("BENCH_OUT");
  if (out) writeFileSync(out, text);
  else process.stdout.write(text);
}

/** The resident memory of the broker process run.sh started ($BENCH_BROKER_PID), MiB. */
export function brokerRssMiB(): number | undefined {
  const pid = Number(env("BENCH_BROKER_PID"));
  return pid > 0 ? rssMiB(pid) : undefined;
}
