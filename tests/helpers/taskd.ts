/**
 * Driving taskd as users do: the compiled `dist/taskd` (or, with TASKD_TEST_WORKER=deno, the
 * same CLI under `deno run`), as worker processes and one-shot commands.
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import assert from "node:assert/strict";
import { TaskError } from "../../mod.ts";

/** The repository's root. */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
/** The compiled binary. */
export const BINARY = join(ROOT, "dist", "taskd");
/** A fixture file's absolute path. */
export const fixture = (name: string) => join(ROOT, "tests", "fixtures", name);

/** The command that runs the CLI: the binary, or Deno on the source when asked. */
export function cliCommand(kind = process.env.TASKD_TEST_WORKER ?? "binary"): string[] {
  if (kind === "deno") return [join(ROOT, "node_modules", ".bin", "deno"), "run", "-A", "--config", join(ROOT, "deno.json"), join(ROOT, "src", "cli", "main.ts")];
  if (!existsSync(BINARY)) throw new Error(`${BINARY} is missing: run make build first`);
  return [BINARY];
}

/** Environment for a taskd process talking to `url`. */
function envFor(url?: string, extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = { ...(process.env as Record<string, string>), NO_COLOR: "1", ...extra };
  delete env.TASKD_BROKER_URL;
  if (url) env.TASKD_BROKER_URL = url;
  return env;
}

/** A running worker process. */
export class WorkerProcess {
  output = "";
  readonly exited: Promise<number | null>;

  constructor(readonly proc: ChildProcess) {
    proc.stdout?.on("data", (d) => (this.output += d));
    proc.stderr?.on("data", (d) => (this.output += d));
    this.exited = new Promise((r) => proc.once("exit", (code, sig) => r(code ?? (sig ? -1 : null))));
  }

  /** Resolves when the output matches `pattern`; rejects after `timeoutMs` or if the worker exits. */
  async waitFor(pattern: RegExp | string, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const hit = () => (typeof pattern === "string" ? this.output.includes(pattern) : pattern.test(this.output));
    while (!hit()) {
      if (this.proc.exitCode !== null || this.proc.signalCode !== null) throw new Error(`worker exited (${this.proc.exitCode ?? this.proc.signalCode}) before ${pattern}:\n${this.output}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}:\n${this.output}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /**
   * Sends a signal. Through process.kill, not proc.kill: Deno's ChildProcess reports a child it
   * signalled itself as killed by that signal, whatever the child's own exit code was.
   */
  signal(sig: NodeJS.Signals): void {
    if (this.proc.pid !== undefined && this.proc.exitCode === null && this.proc.signalCode === null) process.kill(this.proc.pid, sig);
  }

  /** Stops the worker (SIGTERM, then SIGKILL after `graceMs`). */
  async stop(graceMs = 10_000): Promise<number | null> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return this.exited;
    this.signal("SIGTERM");
    const t = setTimeout(() => this.signal("SIGKILL"), graceMs);
    const code = await this.exited;
    clearTimeout(t);
    return code;
  }
}

/** Options of {@link startWorker}. */
export interface StartWorkerOptions {
  /** Extra CLI arguments. */
  args?: string[];
  /** Extra environment. */
  env?: Record<string, string>;
  /** Wait for the ready line. @default true */
  waitReady?: boolean;
  /** Working directory. @default a fresh temp dir is not needed: ROOT */
  cwd?: string;
  /** binary or deno. */
  kind?: string;
}

/** Starts `taskd worker <module>` against `url` and waits until it prints its ready line. */
export async function startWorker(url: string | undefined, module: string, o: StartWorkerOptions = {}): Promise<WorkerProcess> {
  const [cmd, ...pre] = cliCommand(o.kind);
  const proc = spawn(cmd, [...pre, "worker", module, ...(o.args ?? [])], { env: envFor(url, o.env), cwd: o.cwd ?? ROOT, stdio: ["ignore", "pipe", "pipe"] });
  const w = new WorkerProcess(proc);
  if (o.waitReady ?? true) await w.waitFor(/ready: consuming/, 60_000);
  return w;
}

/** What a finished command printed. */
export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a one-shot `taskd …` command. */
export function runCli(url: string | undefined, args: string[], o: { env?: Record<string, string>; cwd?: string; timeoutMs?: number; kind?: string } = {}): Promise<RunResult> {
  const [cmd, ...pre] = cliCommand(o.kind);
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, [...pre, ...args], { env: envFor(url, o.env), cwd: o.cwd ?? ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    p.stdout?.on("data", (d) => (stdout += d));
    p.stderr?.on("data", (d) => (stderr += d));
    const t = setTimeout(() => {
      p.kill("SIGKILL");
      reject(new Error(`taskd ${args.join(" ")} timed out:\n${stdout}\n${stderr}`));
    }, o.timeoutMs ?? 60_000);
    p.once("error", reject);
    p.once("exit", (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Polls `fn` until it returns a truthy value or `timeoutMs` passes. */
export async function eventually<T>(fn: () => T | Promise<T>, timeoutMs = 10_000, stepMs = 50): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

/** The TaskError that `p` rejects with; fails the test when it resolves or rejects otherwise. */
export async function failureOf(p: Promise<unknown>): Promise<TaskError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof TaskError, `expected a TaskError, got ${e}`);
    return e;
  }
  assert.fail("expected the task to fail");
}

/**
 * The complete, non-empty lines of `text`. A worker may be appending while a test reads: a
 * last line without its newline is still being written, so it is left for the next read.
 */
export function completeLines(text: string): string[] {
  return text.slice(0, text.lastIndexOf("\n") + 1).split("\n").filter(Boolean);
}

/** What a finished command printed: stdout and stderr together, and stdout alone. */
export interface Ran {
  code: number | null;
  output: string;
  stdout: string;
}

/** Runs `cmd` in `cwd`; resolves with its exit code and output (killed after `timeoutMs`). */
export function runCommand(cmd: string, args: string[], cwd: string, env: Record<string, string>, timeoutMs: number): Promise<Ran> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    let stdout = "";
    p.stdout?.on("data", (d) => {
      output += d;
      stdout += d;
    });
    p.stderr?.on("data", (d) => (output += d));
    const t = setTimeout(() => p.kill("SIGKILL"), timeoutMs);
    p.once("error", (e) => {
      clearTimeout(t);
      resolve({ code: null, output: String(e), stdout });
    });
    p.once("exit", (code) => {
      clearTimeout(t);
      resolve({ code, output, stdout });
    });
  });
}
