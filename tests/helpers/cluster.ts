/**
 * A 3-server JetStream cluster on loopback ports for tests. Its configuration files are the
 * ones in examples/cluster/, copied into a temp dir with every `127.0.0.1:<port>` mapped to a
 * free port and the store moved into the temp dir, so the test runs what the example shows.
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { freePort } from "./server.ts";
import { ROOT } from "./taskd.ts";

/** One server of the cluster. */
export class ClusterNode {
  proc?: ChildProcess;
  log = "";
  /** A file that also gets everything the node prints, across restarts (the soak keeps them). */
  logFile?: string;

  constructor(readonly name: string, readonly port: number, readonly config: string) {}

  /** The client URL of this node. */
  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  /** Whether the process is running. */
  get alive(): boolean {
    return !!this.proc && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** Starts (or restarts) the node with its config and store. */
  start(): void {
    this.proc = spawn("nats-server", ["-c", this.config], { stdio: ["ignore", "pipe", "pipe"] });
    const keep = (d: unknown) => {
      this.log = (this.log + d).slice(-20000);
      if (this.logFile) appendFileSync(this.logFile, String(d));
    };
    this.proc.stdout?.on("data", keep);
    this.proc.stderr?.on("data", keep);
  }

  /** Kills the node (SIGKILL by default) and waits for it to exit. */
  async kill(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    const p = this.proc;
    if (!p || !this.alive) return;
    const exited = new Promise((r) => p.once("exit", r));
    p.kill(signal);
    await exited;
  }
}

/** A JetStream cluster of the example's three nodes. */
export class NatsCluster {
  private constructor(readonly dir: string, readonly nodes: ClusterNode[]) {}

  /** Writes the example configs with free ports into a temp dir and starts every node. */
  static async start(): Promise<NatsCluster> {
    const dir = mkdtempSync(join(tmpdir(), "taskd-cluster-"));
    const sources = ["n1", "n2", "n3"].map((n) => [n, readFileSync(join(ROOT, "examples", "cluster", `${n}.conf`), "utf8")] as const);
    const ports = new Map<string, number>();
    for (const [, text] of sources) {
      for (const m of text.matchAll(/127\.0\.0\.1:(\d+)/g)) if (!ports.has(m[1])) ports.set(m[1], await freePort());
    }
    const nodes = sources.map(([name, text]) => {
      const conf = text
        .replace(/127\.0\.0\.1:(\d+)/g, (_s, p: string) => `127.0.0.1:${ports.get(p)}`)
        .replace(/store_dir: "[^"]*"/, `store_dir: "${join(dir, name)}"`);
      const path = join(dir, `${name}.conf`);
      writeFileSync(path, conf);
      const listen = Number(/^listen: 127\.0\.0\.1:(\d+)/m.exec(conf)![1]);
      return new ClusterNode(name, listen, path);
    });
    const cluster = new NatsCluster(dir, nodes);
    for (const n of nodes) n.start();
    await cluster.ready();
    return cluster;
  }

  /** Every node's URL, comma-separated (what `--broker` takes). */
  get urls(): string {
    return this.nodes.map((n) => n.url).join(",");
  }

  /** Resolves once JetStream answers with a meta leader and every live node is routed. */
  async ready(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    while (Date.now() < deadline) {
      const nc = await connect({ servers: this.nodes.filter((n) => n.alive).map((n) => n.url), timeout: 1000 }).catch((e) => {
        last = e;
        return undefined;
      });
      if (nc) {
        try {
          const jsm = await jetstreamManager(nc, { timeout: 2000 });
          await jsm.getAccountInfo();
          return;
        } catch (e) {
          last = e;
        } finally {
          await nc.close();
        }
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    throw new Error(`the cluster did not become ready: ${(last as Error)?.message}\n${this.nodes.map((n) => n.log).join("\n")}`);
  }

  /** The node named `name`. */
  node(name: string): ClusterNode {
    const n = this.nodes.find((x) => x.name === name);
    if (!n) throw new Error(`no node ${name}`);
    return n;
  }

  /** Stops every node and deletes the stores. */
  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.kill("SIGTERM")));
    rmSync(this.dir, { recursive: true, force: true });
  }
}
