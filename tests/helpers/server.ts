/**
 * A real nats-server for tests: a free loopback port, a temporary store, and kill/restart so
 * tests can take the broker away and bring it back with its data.
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

function listening(port: number): Promise<boolean> {
  return new Promise((done) => {
    const s = connect({ host: "127.0.0.1", port });
    s.once("connect", () => {
      s.destroy();
      done(true);
    });
    s.once("error", () => {
      s.destroy();
      done(false);
    });
  });
}

/** A nats-server started for a test. */
export class NatsServer {
  proc?: ChildProcess;
  readonly store: string;
  log = "";

  private constructor(readonly port: number, readonly extraArgs: string[]) {
    this.store = mkdtempSync(join(tmpdir(), "taskd-test-js-"));
  }

  /** Starts a server with JetStream on a free port. */
  static async start(extraArgs: string[] = []): Promise<NatsServer> {
    const s = new NatsServer(await freePort(), extraArgs);
    await s.restart();
    return s;
  }

  /** The server's URL. */
  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  /** (Re)starts the server on the same port and store. */
  async restart(): Promise<void> {
    this.proc = spawn("nats-server", ["-js", "-a", "127.0.0.1", "-p", String(this.port), "-sd", this.store, ...this.extraArgs], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.proc.stdout?.on("data", (d) => (this.log = (this.log + d).slice(-20000)));
    this.proc.stderr?.on("data", (d) => (this.log = (this.log + d).slice(-20000)));
    for (let i = 0; i < 100; i++) {
      if (await listening(this.port)) return;
      if (this.proc.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`nats-server did not start on ${this.port}: ${this.log}`);
  }

  /** Kills the server (SIGKILL by default) and waits for it to exit. */
  async kill(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once("exit", r));
    p.kill(signal);
    await exited;
  }

  /** Stops the server and deletes its store. */
  async stop(): Promise<void> {
    await this.kill("SIGTERM");
    rmSync(this.store, { recursive: true, force: true });
  }
}
