/**
 * Which priority levels of a worker's queues are in use. The default level of every queue is
 * always consumed; another level gets its consumer only once a message waits at it, so that a
 * worker on 100 queues holds 100 consumers and pull requests, not 1,000 (docs/flow.md). One
 * stream-info request with a subject filter (`<prefix>.tasks.*.*`: the priority subjects only)
 * counts what waits at every level of every queue; a worker makes it when it starts, before it
 * consumes anything, and then every {@link LEVEL_SCAN_MS} until every level it serves is in use.
 * @module
 */
import type { Broker } from "../nats/broker.ts";
import { getLogger } from "../log/logger.ts";

const log = getLogger("taskd.worker");

/** How often a worker looks for messages at priority levels it does not consume yet. */
export const LEVEL_SCAN_MS = 250;

/** Messages waiting at one priority level of one queue. */
export interface LevelCount {
  queue: string;
  level: number;
  count: number;
}

/** Messages waiting at the priority (non-default) levels of `queues`, from one stream-info request. */
export async function waitingLevels(broker: Broker, queues: ReadonlySet<string>): Promise<LevelCount[]> {
  const jsm = await broker.jsm();
  const head = `${broker.names.prefix}.tasks.`;
  const info = await jsm.streams.info(broker.names.tasksStream, { subjects_filter: `${head}*.*` });
  const out: LevelCount[] = [];
  for (const [subject, count] of Object.entries(info.state.subjects ?? {})) {
    const m = /^([^.]+)\.p(\d)$/.exec(subject.slice(head.length));
    if (m && count > 0 && queues.has(m[1])) out.push({ queue: m[1], level: Number(m[2]), count });
  }
  return out;
}

/** Scans for waiting levels until `done()` says every level is in use or `stop()` is called. */
export class LevelScan {
  #timer?: ReturnType<typeof setTimeout>;
  #stopped = false;
  #failing = false;

  /** `found` is called for every level with messages waiting; `done` says when to stop looking. */
  constructor(readonly broker: Broker, readonly queues: ReadonlySet<string>, readonly found: (c: LevelCount) => void, readonly done: () => boolean) {}

  /** Scans once (errors are logged: the next scan tries again). */
  async scan(): Promise<void> {
    try {
      for (const c of await waitingLevels(this.broker, this.queues)) this.found(c);
      this.#failing = false;
    } catch (e) {
      // Said once per outage, not every 0.25 s.
      if (!this.#stopped && !this.#failing) log.warn(`could not count the messages at priority levels: ${(e as Error).message}; trying again`);
      this.#failing = true;
    }
  }

  /** Scans every {@link LEVEL_SCAN_MS} from now on. */
  start(): void {
    const next = () => {
      if (this.#stopped || this.done()) return;
      this.#timer = setTimeout(() => void this.scan().then(next), LEVEL_SCAN_MS);
    };
    next();
  }

  /** Stops scanning. */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }
}
