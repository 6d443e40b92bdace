/**
 * `taskd queue pause <queue> [--reason text]`, `taskd queue resume <queue>`, `taskd queue list
 * [--json]`: durable pauses (every worker stops fetching the queue, workers started later too;
 * its messages stay on the server) and the state of each queue. docs/flow.md.
 * @module
 */
import process from "node:process";
import { checkName } from "../../nats/names.ts";
import { type BrokerFlags, cliApp } from "../broker.ts";
import { CliError } from "../errors.ts";

/** Options of `taskd queue`. */
export interface QueueFlags extends BrokerFlags {
  /** pause: why (shown by list). */
  reason?: string;
  /** list: print JSON. */
  json?: boolean;
}

/** Runs `taskd queue <action> [queue]`. */
export async function queueCommand(action: string, queue: string | undefined, flags: QueueFlags): Promise<void> {
  if (action !== "pause" && action !== "resume" && action !== "list") throw new CliError(`Cannot run queue '${action}': use pause <queue>, resume <queue> or list`);
  if (action !== "list") {
    if (!queue) throw new CliError(`Cannot ${action} a queue: name it, e.g. taskd queue ${action} default`);
    checkName("queue", queue);
  }
  const app = cliApp(flags);
  try {
    if (action === "pause") {
      await app.control.pauseQueue(queue!, { reason: flags.reason });
      process.stdout.write(`queue ${queue} paused: workers stop fetching it; its messages stay on the server\n`);
    } else if (action === "resume") {
      const was = await app.control.resumeQueue(queue!);
      process.stdout.write(was ? `queue ${queue} resumed\n` : `queue ${queue} was not paused\n`);
    } else {
      const stats = await app.control.queues();
      if (flags.json) {
        process.stdout.write(JSON.stringify(stats) + "\n");
        return;
      }
      if (stats.length === 0) process.stdout.write("- no queues -\n");
      for (const s of stats) {
        const levels = Object.entries(s.byPriority).sort((a, b) => Number(b[0]) - Number(a[0]));
        const prio = levels.length > 1 || (levels.length === 1 && levels[0][0] !== "5") ? ` (${levels.map(([p, n]) => `p${p}: ${n}`).join(", ")})` : "";
        const paused = s.paused ? `  PAUSED since ${s.paused.at}${s.paused.reason ? ` (${s.paused.reason})` : ""}` : "";
        process.stdout.write(`${s.queue}: ${s.depth} waiting${prio}, ${s.inFlight} in flight${paused}\n`);
        for (const [k, n] of Object.entries(s.waiting)) process.stdout.write(`    ${k}: ${n} waiting for a concurrency slot\n`);
      }
    }
  } finally {
    await app.close();
  }
}
