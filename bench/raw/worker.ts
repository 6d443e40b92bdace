// The raw JetStream worker, the ceiling: pull-consume tasks, ack, run, KV put the result.
// It also runs the delay scheduler (countdown tasks wait in BENCH_DELAYED, nak'ed until due,
// then republished to the tasks subject with their id as Nats-Msg-Id).
// Usage: bun|deno run -A bench/raw/worker.ts <concurrency>   (NATS_URL names the server)
import { connect, headers } from "@nats-io/transport-node";
import { jetstream, type JsMsg } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import {
  DELAYED_CONSUMER, DELAYED_STREAM, packr, RESULTS_BUCKET, servers, TASKS_CONSUMER,
  TASKS_STREAM, TASKS_SUBJECT,
} from "./shared.ts";

const concurrency = Number(process.argv[2] ?? 100);
const tasks: Record<string, (...a: any[]) => unknown> = {
  add: (x: number, y: number) => x + y,
  sleep: (ms: number) => new Promise((r) => setTimeout(() => r(ms), ms)),
  stamp: () => Date.now(),
};

const nc = await connect({ servers: servers(), maxReconnectAttempts: -1 });
const js = jetstream(nc);
const kv = await new Kvm(js).open(RESULTS_BUCKET);

async function handle(m: JsMsg): Promise<void> {
  const name = m.headers!.get("task");
  const id = m.headers!.get("id");
  const [args] = packr.unpack(m.data) as [unknown[]];
  m.ack(); // ack just before running: taskd's default (at most once)
  let value = tasks[name](...args);
  if (value instanceof Promise) value = await value;
  await kv.put(id, packr.pack({ status: "SUCCESS", result: value }));
}

async function schedule(): Promise<void> {
  const release = (m: JsMsg) => {
    const h = headers();
    h.set("task", m.headers!.get("task"));
    h.set("id", m.headers!.get("id"));
    js.publish(TASKS_SUBJECT, m.data, { headers: h, msgID: m.headers!.get("id") })
      .then(() => m.ack(), () => m.nak(1000));
  };
  const c = await js.consumers.get(DELAYED_STREAM, DELAYED_CONSUMER);
  await c.consume({
    max_messages: 1000,
    callback: (m) => {
      const wait = Number(m.headers!.get("eta")) - Date.now();
      if (wait > 0) m.nak(wait); // back when due; holds no slot of the tasks consumer meanwhile
      else release(m);
    },
  });
}

// callback mode (cheaper than the async iterator); a local queue bounds how many run at once
const backlog: JsMsg[] = [];
let inflight = 0;
function pump(): void {
  while (inflight < concurrency && backlog.length) {
    inflight++;
    handle(backlog.shift()!)
      .catch((e) => console.error("task failed:", e))
      .finally(() => {
        inflight--;
        pump();
      });
  }
}
const consumer = await js.consumers.get(TASKS_STREAM, TASKS_CONSUMER);
await consumer.consume({
  max_messages: Math.max(2 * concurrency, 64),
  callback: (m) => {
    backlog.push(m);
    pump();
  },
});
await schedule();
console.log(`raw worker ready: concurrency ${concurrency}, pid ${process.pid}`);

process.on("SIGTERM", () => { void nc.drain().finally(() => process.exit(0)); });
