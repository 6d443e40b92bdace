/**
 * `taskd dashboard` as a test drives it (the compiled binary against a test nats-server), and
 * the headless Chromium the browser tests use (Debian's `chromium`, through puppeteer-core).
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { cliCommand, eventually, ROOT } from "./taskd.ts";

/** Where Debian's package puts Chromium (override with CHROMIUM). */
export const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";

/** Whether Chromium is installed. */
export function hasChromium(): boolean {
  return existsSync(CHROMIUM);
}

/** A running `taskd dashboard`. */
export class DashboardProcess {
  output = "";
  readonly proc: ChildProcess;

  constructor(readonly brokerUrl: string, readonly port: number, args: string[] = []) {
    const [cmd, ...pre] = cliCommand();
    const env: Record<string, string> = { ...(process.env as Record<string, string>), TASKD_BROKER_URL: brokerUrl, NO_COLOR: "1" };
    this.proc = spawn(cmd, [...pre, "dashboard", "--port", String(port), ...args], { env, cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    this.proc.stdout?.on("data", (d) => (this.output += d));
    this.proc.stderr?.on("data", (d) => (this.output += d));
  }

  /** Starts one and waits until it listens and has replayed its history. */
  static async start(brokerUrl: string, port: number, args: string[] = []): Promise<DashboardProcess> {
    const d = new DashboardProcess(brokerUrl, port, args);
    await eventually(() => {
      if (d.proc.exitCode !== null) throw new Error(`taskd dashboard exited: ${d.output}`);
      return d.output.includes("history replayed");
    }, 30_000);
    return d;
  }

  /** The dashboard's base URL. */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Stops it (SIGTERM) and waits for the exit. */
  async stop(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    const exited = new Promise((r) => this.proc.once("exit", r));
    this.proc.kill("SIGTERM");
    const t = setTimeout(() => this.proc.kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(t);
  }
}
