// What the server keeps per stored result and per de-duplicated id (docs/limits.md): starts its
// own nats-server on a free port with a temporary store, then for N (default 300,000) messages
// of a result's size (~233 bytes with subject) measures the server's RSS growth and store bytes:
//   kv     one KV entry per key (the results bucket's case): disk and memory per stored result
//   dedup  publishes with a distinct Nats-Msg-Id to a stream that keeps only 1,000 messages and
//          a 10-minute duplicate window: memory per id held in the window
//   plain  the same publishes without an id: the baseline to subtract from dedup
// Usage: bun run bench/limits_cost.ts [kv|dedup|plain]…   (N=… to change the count)
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "@nats-io/transport-node";
import { DiscardPolicy, jetstream, jetstreamManager, RetentionPolicy } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";

const N = Number(process.env.N ?? 300_000);
const modes = process.argv.slice(2).length ? process.argv.slice(2) : ["kv", "dedup", "plain"];
const value = new Uint8Array(177).fill(7); // + a 36-char key and the subject's prefix ≈ a small result

function freePort(): Promise<number> {
  return new Promise((r) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => r(p));
    });
  });
}

for (const mode of modes) {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "taskd-limits-cost-"));
  const srv = spawn("nats-server", ["-js", "-a", "127.0.0.1", "-p", String(port), "-sd", dir], { stdio: "ignore" });
  await new Promise((r) => setTimeout(r, 800));
  const rss = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${srv.pid}/status`, "utf8"))![1]) * 1024;
  const nc = await connect({ port });
  const js = jetstream(nc);
  const jsm = await jetstreamManager(nc);
  const before = rss();
  if (mode === "kv") await new Kvm(js).create("m", { history: 1 });
  else {
    await jsm.streams.add({
      name: "T",
      subjects: ["t.>"],
      retention: RetentionPolicy.Workqueue,
      duplicate_window: 600 * 1e9,
      max_msgs: 1000,
      discard: DiscardPolicy.Old,
    });
  }
  let pending: Promise<unknown>[] = [];
  for (let i = 0; i < N; i++) {
    const id = crypto.randomUUID();
    pending.push(mode === "kv" ? js.publish(`$KV.m.${id}`, value) : js.publish("t.x", value, mode === "dedup" ? { msgID: `${id}:0` } : {}));
    if (pending.length >= 2000) {
      await Promise.all(pending);
      pending = [];
    }
  }
  await Promise.all(pending);
  await new Promise((r) => setTimeout(r, 1000));
  const grown = rss() - before;
  const si = await jsm.streams.info(mode === "kv" ? "KV_m" : "T");
  console.log(
    `${mode}: ${N} messages, server RSS +${(grown / 1048576).toFixed(1)} MiB = ${Math.round(grown / N)} B each` +
      (mode === "kv" ? `, store ${si.state.bytes} B = ${Math.round(si.state.bytes / N)} B per result` : ""),
  );
  await nc.close();
  srv.kill();
  await new Promise((r) => srv.once("exit", r));
  rmSync(dir, { recursive: true, force: true });
}
