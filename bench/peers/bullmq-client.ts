// BullMQ client for taskd's benchmark: Queue.add per task, and one QueueEvents listener whose
// "completed" events (job id + return value) are handed to whoever waits for that job.
// Usage: bun run bench/peers/bullmq-client.ts <system name> <runtime command...>
import { type Job, Queue, QueueEvents } from "bullmq";
import { fileURLToPath } from "node:url";
import { runSystem, type System, type TaskName } from "../lib/workloads.ts";

const [name = "bullmq", ...runtime] = process.argv.slice(2);
const workerFile = fileURLToPath(new URL("./bullmq-worker.ts", import.meta.url));
const connection = { host: "127.0.0.1", port: Number(process.env.REDIS_PORT ?? 6379) };

type Waiter = { resolve: (v: unknown) => void; timer: ReturnType<typeof setTimeout> };

class BullMQ implements System<string> {
  name = name;
  queue!: Queue;
  events!: QueueEvents;
  arrived = new Map<string, unknown>();
  waiting = new Map<string, Waiter>();

  async open() {
    this.queue = new Queue("bench", { connection });
    await this.queue.obliterate({ force: true });
    this.events = new QueueEvents("bench", { connection });
    this.events.on("completed", ({ jobId, returnvalue }) => {
      const value = typeof returnvalue === "string" ? JSON.parse(returnvalue) : returnvalue;
      const w = this.waiting.get(jobId);
      if (w) {
        this.waiting.delete(jobId);
        clearTimeout(w.timer);
        w.resolve(value);
      } else this.arrived.set(jobId, value);
    });
    await this.events.waitUntilReady();
  }

  worker(concurrency: number) {
    const [cmd, ...args] = runtime.length ? runtime : ["bun", "run"];
    return { cmd, args: [...args, workerFile, String(concurrency)] };
  }

  async send(task: TaskName, args: unknown[], countdown?: number) {
    const job: Job = await this.queue.add(task, { args }, countdown ? { delay: countdown * 1000 } : undefined);
    return job.id!;
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
        reject(new Error(`no result for job ${id} within ${timeoutS} s`));
      }, timeoutS * 1000);
      this.waiting.set(id, { resolve, timer });
    });
  }

  async close() {
    await this.events.close();
    await this.queue.close();
  }
}

await runSystem(new BullMQ(), { runtime: (runtime[0] ?? "bun").split("/").pop() });
process.exit(0);
