// The raw JetStream client, the ceiling: publish (msgpack body, id as Nats-Msg-Id) with a reply
// subject of our own, one subscription that resolves each send on its PubAck (no request's
// promise and timer per send), and one core subscription on $KV.<bucket>.> that hands each
// stored result to whoever waits for it. A PubAck that never comes (none is lost on loopback)
// would hold its send until run.sh's timeout for the system.
// Usage: bun|deno run -A bench/raw/client.ts <system name> <runtime command...>
//   the runtime command is how the worker is started, e.g. "bun run" or "deno run -A".
import { connect, createInbox, headers, type NatsConnection, nuid } from "@nats-io/transport-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { fileURLToPath } from "node:url";
import { runSystem, type System, type TaskName } from "../lib/workloads.ts";
import { DELAYED_SUBJECT, packr, resetStreams, RESULTS_BUCKET, servers, TASKS_SUBJECT } from "./shared.ts";

const [name = "raw", ...runtime] = process.argv.slice(2);
const workerFile = fileURLToPath(new URL("./worker.ts", import.meta.url));

type Waiter = { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: ReturnType<typeof setTimeout> };
type Sending = { id: string; resolve: (id: string) => void; reject: (e: Error) => void };

class Raw implements System<string> {
  name = name;
  nc!: NatsConnection;
  inbox = createInbox();
  sending = new Map<string, Sending>();
  sends = 0;
  arrived = new Map<string, unknown>();
  waiting = new Map<string, Waiter>();

  async open() {
    this.nc = await connect({ servers: servers() });
    await resetStreams(await jetstreamManager(this.nc));
    const kvm = new Kvm(jetstream(this.nc));
    await kvm.create(RESULTS_BUCKET, { history: 1 }).catch(() => {});
    const prefix = `$KV.${RESULTS_BUCKET}.`.length;
    this.nc.subscribe(`$KV.${RESULTS_BUCKET}.>`, {
      callback: (err, msg) => {
        if (err) return;
        const id = msg.subject.slice(prefix);
        const value = (packr.unpack(msg.data) as { result: unknown }).result;
        const w = this.waiting.get(id);
        if (w) {
          this.waiting.delete(id);
          clearTimeout(w.timer);
          w.resolve(value);
        } else this.arrived.set(id, value);
      },
    });
    this.nc.subscribe(`${this.inbox}.*`, {
      callback: (err, msg) => {
        if (err) return;
        const n = msg.subject.slice(this.inbox.length + 1);
        const s = this.sending.get(n);
        if (!s) return;
        this.sending.delete(n);
        // {"stream":…} is a PubAck; {"error":…} or an empty no-responders status is not
        if (msg.data.length > 2 && msg.data[2] !== 0x65) s.resolve(s.id);
        else s.reject(new Error(`Cannot send ${s.id}: ${msg.string() || "no stream"}`));
      },
    });
    await this.nc.flush();
  }

  worker(concurrency: number) {
    const [cmd, ...args] = runtime.length ? runtime : ["bun", "run"];
    return { cmd, args: [...args, workerFile, String(concurrency)], env: { NATS_URL: servers() } };
  }

  send(task: TaskName, args: unknown[], countdown?: number) {
    const id = nuid.next();
    const h = headers();
    h.set("task", task);
    h.set("id", id);
    h.set("Nats-Msg-Id", id);
    if (countdown) h.set("eta", String(Date.now() + countdown * 1000));
    const n = String(this.sends++);
    const sent = new Promise<string>((resolve, reject) => this.sending.set(n, { id, resolve, reject }));
    this.nc.publish(countdown ? DELAYED_SUBJECT : TASKS_SUBJECT, packr.pack([args, {}, {}]), {
      headers: h, reply: `${this.inbox}.${n}`,
    });
    return sent;
  }

  result(id: string, timeoutS: number) {
    if (this.arrived.has(id)) {
      const v = this.arrived.get(id);
      this.arrived.delete(id);
      return Promise.resolve(v);
    }
    return new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`no result for ${id} within ${timeoutS} s`));
      }, timeoutS * 1000);
      this.waiting.set(id, { resolve, reject, timer });
    });
  }

  async close() {
    await this.nc.drain();
  }
}

await runSystem(new Raw(), { runtime: (runtime[0] ?? "bun").split("/").pop() });
process.exit(0);
