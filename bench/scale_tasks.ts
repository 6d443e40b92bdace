// The task module of the scale benchmark's W7 (bench/scale.ts, `BENCH_SCALE=1 make bench`):
// bench/tasks.ts's `add` and `stamp` under an App whose results expire after
// BENCH_SCALE_RESULT_EXPIRES seconds (default 60). The worker owns the results bucket's
// settings (docs/limits.md "Who owns the settings"), so serving this module is what gives the
// bucket its 60 s TTL. "taskd" is the compiled binary's own library.
import { App } from "taskd";

export const app = new App("bench", {
  broker: process.env.TASKD_BROKER_URL,
  resultExpires: Number(process.env.BENCH_SCALE_RESULT_EXPIRES || 60),
});

/** bench.add: the tiny task. */
export const add = app.task(function add(x: number, y: number) {
  return x + y;
});

/** bench.stamp: when it ran (ms since the epoch). */
export const stamp = app.task(function stamp() {
  return Date.now();
});
