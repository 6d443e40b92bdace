// BullMQ worker for taskd's benchmark: the same three tasks (add, sleep, stamp) on Redis.
// Usage: bun run bench/peers/bullmq-worker.ts <concurrency>   (REDIS_PORT names the server)
import { Worker } from "bullmq";

const concurrency = Number(process.argv[2] ?? 100);
const connection = { host: "127.0.0.1", port: Number(process.env.REDIS_PORT ?? 6379) };
const tasks: Record<string, (...a: any[]) => unknown> = {
  add: (x: number, y: number) => x + y,
  sleep: (ms: number) => new Promise((r) => setTimeout(() => r(ms), ms)),
  stamp: () => Date.now(),
};

const worker = new Worker("bench", async (job) => await tasks[job.name](...job.data.args), { connection, concurrency });
worker.on("error", (e) => console.error("worker error:", e));
await worker.waitUntilReady();
console.log(`bullmq worker ready: concurrency ${concurrency}, pid ${process.pid}`);
process.on("SIGTERM", () => { void worker.close().finally(() => process.exit(0)); });
