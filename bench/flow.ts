/**
 * bench/flow.ts — what `concurrencyKey` costs: N tiny tasks (2,000 by default) spread over 100
 * keys, sent with at most 200 in flight and awaited, through one `dist/taskd` worker (`-c 10`),
 * first without flow control (`flow.free`), then with `concurrency: 1` per key (`flow.keyed`).
 * Prints tasks/s of each and their ratio; compare ratios of one run (docs/flow.md).
 *
 *   node_modules/.bin/bun bench/flow.ts [count] [keys]
 * @module
 */
import { NatsServer } from "../tests/helpers/server.ts";
import { ROOT, startWorker } from "../tests/helpers/taskd.ts";

const count = Number(process.argv[2] ?? 2000);
const keys = Number(process.argv[3] ?? 100);

const server = await NatsServer.start();
process.env.TASKD_BROKER_URL = server.url;
const worker = await startWorker(server.url, `${ROOT}/bench/flow_tasks.ts`, { args: ["-c", "10", "-n", "flow@bench"] });
// The sender needs the keyed task's options (its key function): it imports the same module.
const { app, free, keyed } = await import("./flow_tasks.ts");

async function run(task: typeof free): Promise<number> {
  const t0 = performance.now();
  let next = 0;
  const lane = async () => {
    while (next < count) {
      const i = next++;
      const r = await task.delay(`k${i % keys}`, i);
      await r.get({ timeout: 120 });
    }
  };
  await Promise.all(Array.from({ length: 200 }, lane));
  return count / ((performance.now() - t0) / 1000);
}

try {
  await (await free.delay("warm", 0)).get({ timeout: 30 });
  const a = await run(free);
  const b = await run(keyed);
  console.log(`flow.free ${a.toFixed(0)} tasks/s; flow.keyed (concurrency 1 per key, ${keys} keys) ${b.toFixed(0)} tasks/s; ratio ${(b / a).toFixed(2)}`);
} finally {
  await app.close();
  await worker.stop();
  await server.stop();
}
