// The raw JetStream worker, the ceiling: pull-consume tasks (callback consume()), run each at
// once, publish its result to the KV bucket's subject with a reply subject of our own, and ack
// the task when that put's PubAck arrives. Puts are pipelined (any number in flight, bounded by
// the consumer's max_ack_pending); one subscription takes every PubAck, so no put costs a
// request's promise and timer. A task message is acked only once its result is stored.
// It also runs the delay scheduler (countdown tasks wait in BENCH_DELAYED, nak'ed until due,
// then republished to the tasks subject with their id as Nats-Msg-Id).
// Usage: bun|deno run -A bench/raw/worker.ts <concurrency>   (NATS_URL names the server)
import { connect, createInbox, headers } from "@nats-io/transport-node";
import { jetstream, type JsMsg } from "@nats-io/jetstream";
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

// Result puts: $KV.<bucket>.<id> with reply <inbox>.<n>; the PubAck for n acks its task.
// A failed put ({"error":…}, or an empty no-responders status) naks the task: it runs again.
const resultPrefix = `$KV.${RESULTS_BUCKET}.`;
const inbox = createInbox();
const storing = new Map<string, JsMsg>();
let puts = 0;
nc.subscribe(`${inbox}.*`, {
  callback: (_err, reply) => {
    const n = reply.subject.slice(inbox.length + 1);
    const m = storing.get(n);
    if (!m) return;
    storing.delete(n);
    const stored = reply.data.length > 2 && reply.data[2] !== 0x65; // {"stream":… not {"error":…
    if (stored) m.ack();
    else m.nak(1000);
  },
});
function store(m: JsMsg, id: string, result: unknown): void {
  const n = String(puts++);
  storing.set(n, m);
  nc.publish(resultPrefix + id, packr.pack({ status: "SUCCESS", result }), { reply: `${inbox}.${n}` });
}

// Run a task: a synchronous one at once (it holds the thread anyway), an asynchronous one while
// fewer than `concurrency` are running, else it waits in `backlog`.
const backlog: JsMsg[] = [];
let running = 0;
function run(m: JsMsg): void {
  const id = m.headers!.get("id");
  const [args] = packr.unpack(m.data) as [unknown[]];
  let value: unknown;
  try {
    value = tasks[m.headers!.get("task")](...args);
  } catch (e) {
    console.error("task failed:", e);
    return m.term();
  }
  if (!(value instanceof Promise)) return store(m, id, value);
  running++;
  value.then((v) => store(m, id, v), (e) => { console.error("task failed:", e); m.term(); })
    .finally(() => {
      running--;
      while (running < concurrency && backlog.length) run(backlog.shift()!);
    });
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

const consumer = await js.consumers.get(TASKS_STREAM, TASKS_CONSUMER);
await consumer.consume({
  max_messages: Math.max(2 * concurrency, 64),
  callback: (m) => {
    if (running < concurrency) run(m);
    else backlog.push(m);
  },
});
await schedule();
console.log(`raw worker ready: concurrency ${concurrency}, pid ${process.pid}`);

process.on("SIGTERM", () => { void nc.drain().finally(() => process.exit(0)); });
