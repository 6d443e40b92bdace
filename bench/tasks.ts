// The task module taskd's worker serves in the benchmark (`dist/taskd worker bench/tasks.ts`):
// the same three tasks as every other system. "taskd" is the binary's own library inside the
// compiled worker, and the package itself (package.json/deno.json) under `deno run`.
import { App } from "taskd";
import "./otel.ts";

export const app = new App("bench", { broker: process.env.TASKD_BROKER_URL });

/** bench.add: the tiny task of W1, W1e and W2. */
export const add = app.task(function add(x: number, y: number) {
  return x + y;
});

/** bench.sleep: W4's 50 ms of waiting. */
export const sleep = app.task(function sleep(ms: number) {
  return new Promise<number>((r) => setTimeout(() => r(ms), ms));
});

/** bench.stamp: when it ran (ms since the epoch), for W3's lateness. */
export const stamp = app.task(function stamp() {
  return Date.now();
});
