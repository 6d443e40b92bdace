// taskd's benchmark client, through the public API only (../mod.ts): add.delay(), applyAsync()
// with a countdown, AsyncResult.get(). The tasks are declared here with the same names as in
// bench/tasks.ts, which the worker serves, so the client needs no "taskd" package resolution.
// Usage: bun run bench/taskd-client.ts taskd-bun -- <worker command...>
//        deno run -A bench/taskd-client.ts taskd-deno -- <worker command...>
// The worker command gets "worker bench/tasks.ts --broker URL -c N" appended.
import { App, type AsyncResult } from "../mod.ts";
import { fileURLToPath } from "node:url";
import { runSystem, type System, type TaskName } from "./lib/workloads.ts";
import "./otel.ts";

const argv = process.argv.slice(2);
const name = argv[0] ?? "taskd";
const workerCmd = argv.slice(argv.indexOf("--") + 1);
const broker = process.env.TASKD_BROKER_URL ?? "nats://127.0.0.1:4222";
const tasksFile = fileURLToPath(new URL("./tasks.ts", import.meta.url));

const app = new App("bench", { broker });
const tasks = {
  add: app.task(function add(x: number, y: number) { return x + y; }),
  sleep: app.task(function sleep(ms: number) { return new Promise<number>((r) => setTimeout(() => r(ms), ms)); }),
  stamp: app.task(function stamp() { return Date.now(); }),
};

class Taskd implements System<AsyncResult> {
  name = name;
  async open() {}
  worker(concurrency: number) {
    const [cmd, ...args] = workerCmd;
    return { cmd, args: [...args, "worker", tasksFile, "--broker", broker, "-c", String(concurrency)] };
  }
  send(task: TaskName, args: unknown[], countdown?: number): Promise<AsyncResult> {
    const t = tasks[task] as any;
    return countdown ? t.applyAsync(args, { countdown }) : t.delay(...args);
  }
  result(r: AsyncResult, timeoutS: number) {
    return r.get({ timeout: timeoutS });
  }
  async close() {
    await app.close();
  }
}

await runSystem(new Taskd(), { runtime: process.versions.bun ? `bun ${process.versions.bun}` : `deno ${(globalThis as any).Deno?.version?.deno}` });
process.exit(0);
