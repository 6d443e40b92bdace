// The task module of bench/flow.ts (`dist/taskd worker bench/flow_tasks.ts`): one tiny task
// without flow control, and the same with `concurrency: 1` per key.
import { App } from "taskd";

export const app = new App("bench", { broker: process.env.TASKD_BROKER_URL });

/** flow.free: the tiny task, no limits. */
export const free = app.task({ name: "flow.free" }, function free(_key: string, n: number) {
  return n;
});

/** flow.keyed: the same, at most 1 at once per key. */
export const keyed = app.task({ name: "flow.keyed", concurrency: 1, concurrencyKey: (args) => String(args[0]) }, function keyed(_key: string, n: number) {
  return n;
});
