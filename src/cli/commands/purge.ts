/**
 * `taskd purge [queue…]`: deletes the waiting task messages of queues (all queues when none is
 * named), as Celery's `celery purge` does. Messages already taken by a worker, delayed tasks
 * (`--delayed` purges those too), results and dead letters are not touched.
 * @module
 */
import process from "node:process";
import { checkName } from "../../nats/names.ts";
import { type BrokerFlags, cliApp } from "../broker.ts";

/** Options of `taskd purge`. */
export interface PurgeFlags extends BrokerFlags {
  /** Also delete delayed tasks (countdown, eta, retry delays) of those queues. */
  delayed?: boolean;
}

/** Purges the queues; prints how many messages each lost. */
export async function purgeCommand(queues: string[], flags: PurgeFlags): Promise<void> {
  for (const q of queues) checkName("queue", q);
  const app = cliApp(flags);
  try {
    const broker = await app.broker();
    await broker.ensureStreams();
    const jsm = await broker.jsm();
    const n = app.names;
    const targets: [string, string, string][] = [];
    const scope = (q?: string) => (q ? `queue ${q}` : "all queues");
    for (const q of queues.length ? queues : [undefined]) {
      targets.push([n.tasksStream, q ? n.taskSubject(q) : `${n.prefix}.tasks.>`, `${scope(q)}`]);
      if (flags.delayed) targets.push([n.delayedStream, q ? n.delayedSubject(q) : `${n.prefix}.delayed.>`, `${scope(q)} (delayed)`]);
    }
    for (const [stream, filter, what] of targets) {
      let purged = (await jsm.streams.purge(stream, { filter })).purged;
      // A queue's priority levels other than the default have subjects of their own (docs/flow.md).
      if (stream === n.tasksStream && !filter.endsWith(">")) purged += (await jsm.streams.purge(stream, { filter: `${filter}.>` })).purged;
      process.stdout.write(`purged ${purged} message${purged === 1 ? "" : "s"} from ${what}\n`);
    }
  } finally {
    await app.close();
  }
}
