/**
 * Run logs that tasks append to (a side channel independent of the broker and the result
 * backend): `RunLog` for the reliability tests' load (tests/fixtures/reliable.ts), `RunFile` for
 * the JSON lines of tests/fixtures/failure_tasks.ts; plus a windowed sender and a process's
 * resident memory.
 * @module
 */
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Run as TaskRun } from "../fixtures/failure_tasks.ts";
import { completeLines } from "./taskd.ts";

/** One line of the run log: which task ran, when, in which process. */
export interface Run {
  n: number;
  at: number;
  pid: number;
  /** The message had been delivered before (JetStream's redelivered flag). */
  redelivered: boolean;
}

/** The file tasks append `<n> <epoch ms> <pid> <redelivered>` to, one line per run. */
export class RunLog {
  readonly path: string;

  constructor() {
    this.path = join(mkdtempSync(join(tmpdir(), "taskd-runlog-")), "runs.log");
  }

  /** Every run recorded so far. */
  runs(): Run[] {
    if (!existsSync(this.path)) return [];
    const out: Run[] = [];
    for (const line of readFileSync(this.path, "utf8").split("\n")) {
      const [n, at, pid, again] = line.split(" ").map(Number);
      if (line && Number.isFinite(n)) out.push({ n, at, pid, redelivered: again === 1 });
    }
    return out;
  }

  /** How many times each task number ran. */
  counts(): Map<number, number> {
    const m = new Map<number, number>();
    for (const r of this.runs()) m.set(r.n, (m.get(r.n) ?? 0) + 1);
    return m;
  }

  /** Accounting against `expected` task numbers 0..expected-1. */
  summary(expected: number): { runs: number; distinct: number; duplicates: number; missing: number[]; unexpected: number } {
    const c = this.counts();
    const missing: number[] = [];
    for (let i = 0; i < expected; i++) if (!c.has(i)) missing.push(i);
    let runs = 0;
    let unexpected = 0;
    for (const [n, k] of c) {
      runs += k;
      if (n < 0 || n >= expected) unexpected++;
    }
    return { runs, distinct: c.size, duplicates: runs - c.size, missing, unexpected };
  }
}

/** The JSON-lines file tests/fixtures/failure_tasks.ts appends one run to (`TASKD_TEST_RUNS`). */
export class RunFile {
  readonly path: string;

  constructor() {
    this.path = join(mkdtempSync(join(tmpdir(), "taskd-runs-")), "runs.jsonl");
  }

  /** The runs recorded so far (of task `id`, and of that `what` step). */
  runs(id?: string, what?: string): TaskRun[] {
    if (!existsSync(this.path)) return [];
    const all = completeLines(readFileSync(this.path, "utf8")).map((l) => JSON.parse(l) as TaskRun);
    return all.filter((r) => (id === undefined || r.id === id) && (what === undefined || r.what === what));
  }

  /** Waits until no further run of `id` appears for `quietMs` (to prove that nothing more runs). */
  async settled(id: string, quietMs = 1000): Promise<TaskRun[]> {
    let n = this.runs(id).length;
    for (let still = 0; still < quietMs; still += 100) {
      await new Promise((r) => setTimeout(r, 100));
      const m = this.runs(id).length;
      if (m !== n) [n, still] = [m, 0];
    }
    return this.runs(id);
  }
}

/**
 * Calls `send(i)` for i in 0..count-1 with at most `window` calls in flight; `sent` counts
 * the calls that resolved. Rejects with the first error.
 */
export class Sender {
  sent = 0;
  readonly done: Promise<void>;

  constructor(count: number, send: (i: number) => Promise<void>, window = 16) {
    let next = 0;
    const lane = async () => {
      while (next < count) {
        const i = next++;
        await send(i);
        this.sent++;
      }
    };
    this.done = Promise.all(Array.from({ length: window }, lane)).then(() => undefined);
  }
}

/** Resident memory of a process in KiB (Linux /proc), or 0 when it is gone. */
export function rssKb(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** Waits `ms` (only for deliberate durations such as an outage's length, never to await an event). */
export const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
