/**
 * The embedded dev server: with no broker configured and nothing listening on
 * 127.0.0.1:4222, `taskd worker` starts `nats-server -js` (found on PATH) with its store under
 * `.taskd/`, and stops it on exit. Other taskd commands in any folder find it at the default
 * address.
 * @module
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { connect as tcpConnect } from "node:net";
import { join, resolve } from "node:path";
import { BrokerError } from "../errors/errors.ts";

/** Where the dev server listens. */
export const DEV_HOST = "127.0.0.1";
/** The dev server's port. */
export const DEV_PORT = 4222;

/** Resolves true when something accepts TCP connections on host:port. */
export function isListening(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((done) => {
    const sock = tcpConnect({ host, port });
    const finish = (ok: boolean) => {
      sock.destroy();
      done(ok);
    };
    sock.setTimeout(timeoutMs, () => finish(false));
    sock.once("connect", () => finish(true));
    sock.once("error", () => finish(false));
  });
}

/** A dev server this process started. */
export interface DevServer {
  url: string;
  process: ChildProcess;
  stop(): void;
}

/**
 * Starts the dev server unless something already listens on the dev address; returns it, or
 * `undefined` when an existing server is used.
 */
export async function ensureDevServer(dir = ".taskd"): Promise<DevServer | undefined> {
  if (await isListening(DEV_HOST, DEV_PORT)) return undefined;
  const store = resolve(dir);
  mkdirSync(store, { recursive: true });
  const child = spawn("nats-server", ["-js", "-a", DEV_HOST, "-p", String(DEV_PORT), "-sd", join(store, "jetstream")], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (d) => (stderr = (stderr + d).slice(-4000)));
  const failed = new Promise<never>((_, reject) => {
    child.once("error", (e: NodeJS.ErrnoException) => {
      reject(
        e.code === "ENOENT"
          ? new BrokerError("Cannot start the dev server: nats-server is not installed; install it (Debian/Ubuntu: apt-get install nats-server) or pass --broker nats://host:4222")
          : new BrokerError(`Cannot start the dev server: ${e.message}`),
      );
    });
    child.once("exit", (code) => reject(new BrokerError(`Cannot start the dev server: nats-server exited with code ${code}: ${stderr.trim().split("\n").pop() ?? ""}`)));
  });
  const up = (async () => {
    for (let i = 0; i < 100; i++) {
      if (await isListening(DEV_HOST, DEV_PORT, 200)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new BrokerError("Cannot start the dev server: nats-server did not listen within 10 s");
  })();
  try {
    await Promise.race([up, failed]);
  } catch (e) {
    child.kill("SIGKILL");
    throw e;
  }
  failed.catch(() => {});
  writeFileSync(join(store, "nats-server.pid"), String(child.pid));
  return {
    url: `nats://${DEV_HOST}:${DEV_PORT}`,
    process: child,
    stop: () => {
      child.kill("SIGTERM");
    },
  };
}
