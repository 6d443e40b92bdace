/**
 * `concurrency: N` (with or without `concurrencyKey`) on a worker: before a run, the message
 * takes a lease (src/worker/leases.ts); when none is free it is parked, in arrival order, on
 * `<prefix>.waiting.<queue>.<task>.<key>` in stream `<PREFIX>_WAITING` and acked, so it holds
 * no worker slot and no worker memory. A finishing run hands its lease to the oldest parked
 * task of its key and puts that task back on its queue; a run that found no one waiting gives
 * the lease back and looks once more (a task parked meanwhile would otherwise wait for nobody).
 * Each worker also sweeps the waiting stream every few seconds for keys whose leases lapsed
 * (a worker killed with -9). docs/flow.md has the design and its costs.
 * @module
 */
import type { JsMsg, StoredMsg } from "@nats-io/jetstream";
import { headers as natsHeaders, type MsgHdrs } from "@nats-io/nats-core";
import type { Task } from "../app/task.ts";
import type { Broker } from "../nats/broker.ts";
import { jsPublisher } from "../nats/jspublish.ts";
import { FLOW_H, keyToken, nameToken, priorityOf } from "../protocol/flow.ts";
import { H } from "../protocol/message.ts";
import { getLogger } from "../log/logger.ts";
import type { Lease, Leases } from "./leases.ts";

const log = getLogger("taskd.worker");

/** Attempts to pass one lease on before it is given back to the sweep. */
const MAX_PASS_ROUNDS = 10;

/** How many waiting messages of one key are compared to find the one that arrived first. */
const HEAD_WINDOW = 8;

/** The key token of tasks limited as a whole (no `concurrencyKey`). */
const ALL = "=all";

/** Where a limited message stands. */
export interface Entered {
  /** The lease it runs under; the caller gives it to `leave()` after the run. */
  lease: Lease;
  /** Its waiting subject (for `leave()`). */
  subject: string;
  /** Its lease base (for `leave()`). */
  base: string;
  /** The limit. */
  limit: number;
  /** Its queue. */
  queue: string;
}

/** Leases, parking and hand-over for the tasks a worker runs with `concurrency`. */
export class ConcurrencyGate {
  readonly #byToken = new Map<string, Task>();
  #sweeper?: ReturnType<typeof setInterval>;

  constructor(readonly broker: Broker, readonly leases: Leases, readonly registry: Map<string, Task>, readonly queues: readonly string[]) {
    for (const [name, t] of registry) if (t.concurrency !== undefined) this.#byToken.set(nameToken(name), t);
  }

  /** The limit of task `name`, when it has one. */
  limitOf(name: string): number | undefined {
    return this.registry.get(name)?.concurrency;
  }

  /** Starts renewing leases and sweeping for lapsed ones. */
  async start(): Promise<void> {
    await this.broker.ensureWaitingStream();
    this.leases.start();
    this.#sweeper = setInterval(() => this.#sweep().catch((e) => log.warn(`concurrency sweep failed: ${(e as Error).message}`)), (this.leases.ttlSeconds * 1000) / 2);
  }

  /** Stops sweeping and renewing. */
  stop(): void {
    clearInterval(this.#sweeper);
    this.leases.stop();
  }

  /**
   * Takes a lease for `m` (a message of task `name` on `queue`, limited to `limit`): its
   * handed-over lease, else a free one when nobody of its key waits. Else parks it (acked) and
   * returns undefined.
   */
  async enter(m: JsMsg, h: Record<string, string>, queue: string, name: string, limit: number): Promise<Entered | undefined> {
    const key = h[FLOW_H.concurrencyKey];
    const keyTok = key === undefined ? ALL : keyToken(key);
    const base = `${nameToken(name)}.${keyTok}`;
    const subject = `${this.broker.names.waitingSubject}.${queue}.${nameToken(name)}.${keyTok}`;
    const id = h[H.id] || "";
    const handed = h[FLOW_H.handed];
    let lease = handed?.startsWith(`${base}.`) ? await this.leases.adopt(handed, id) : undefined;
    if (!lease && !(await this.#head(subject))) lease = await this.leases.acquire(base, limit, id);
    if (lease) return { lease, subject, base, limit, queue };
    await this.#park(m, h, subject);
    // A lease may have come free between our look and our parking: if so, pass it on.
    const free = await this.leases.acquire(base, limit, "=pass");
    if (free) await this.#passOn(free, subject, base, limit, queue);
    return undefined;
  }

  /** After the run: the lease goes to the oldest waiting task of the key, or back. */
  async leave(e: Entered): Promise<void> {
    try {
      await this.#passOn(e.lease, e.subject, e.base, e.limit, e.queue);
    } catch (err) {
      log.warn(`could not pass on concurrency lease ${e.lease.key}: ${(err as Error).message}; it lapses within ${this.leases.ttlSeconds} s`);
    }
  }

  async #passOn(lease: Lease, subject: string, base: string, limit: number, queue: string): Promise<void> {
    for (let round = 0;; round++) {
      if (round === MAX_PASS_ROUNDS) {
        // Something keeps failing (the broker?): give the lease back; the sweep tries again.
        await this.leases.release(lease);
        return;
      }
      const head = await this.#head(subject);
      if (head) {
        const next = head.header?.get(H.id) ?? "";
        if (!(await this.leases.handOver(lease, next))) return;
        let moved = false;
        try {
          moved = await this.#promote(head, queue, lease.key);
        } catch (e) {
          log.warn(`could not move waiting task ${next} to queue ${queue}: ${(e as Error).message}`);
        }
        if (moved) return;
        // Another worker moved that task first (with a lease of its own): take ours back and
        // look again, or it would stay handed to a task that never adopts it.
        await this.leases.release(lease);
        const again = await this.leases.acquire(base, limit, "=pass");
        if (!again) return;
        lease = again;
        continue;
      }
      await this.leases.release(lease);
      if (!(await this.#head(subject))) return;
      const again = await this.leases.acquire(base, limit, "=pass");
      if (!again) return; // its holder passes it on when it finishes
      lease = again;
    }
  }

  /**
   * The waiting message of `subject` that arrived first, or null. Two workers may park messages
   * of one key in the other order than they arrived, so the first few parked are compared by
   * their arrival (tasks-stream sequence).
   */
  async #head(subject: string): Promise<StoredMsg | null> {
    let best: StoredMsg | null = null;
    let bestArrival = Infinity;
    let seq = 0;
    for (let i = 0; i < HEAD_WINDOW; i++) {
      const m = await this.#next(subject, seq);
      if (!m) break;
      const arrival = Number(m.header?.get(FLOW_H.arrival) || m.seq);
      if (arrival < bestArrival) [best, bestArrival] = [m, arrival];
      seq = m.seq + 1;
    }
    return best;
  }

  async #next(subject: string, seq: number): Promise<StoredMsg | null> {
    const jsm = await this.broker.jsm();
    try {
      // nats-server 2.9 answers next_by_subj on the stream's message-get API.
      return await jsm.streams.getMessage(this.broker.names.waitingStream, { seq, next_by_subj: subject } as unknown as { seq: number });
    } catch (e) {
      if (/no message found|not found/i.test(String((e as Error).message))) return null;
      throw e;
    }
  }

  async #park(m: JsMsg, h: Record<string, string>, subject: string): Promise<void> {
    const hdrs = natsHeaders();
    for (const k in h) if (!k.startsWith("Nats-")) hdrs.set(k, h[k]);
    if (!h[FLOW_H.arrival]) hdrs.set(FLOW_H.arrival, String(m.seq));
    hdrs.set(H.msgId, `park:${m.info.stream}:${m.seq}:${m.info.deliveryCount}`);
    await jsPublisher(this.broker.nc).publish(subject, m.data, hdrs);
    m.ack();
    log.info(`Task ${h[H.task]}[${h[H.id]}] waits for a concurrency slot${h[FLOW_H.concurrencyKey] !== undefined ? ` of key ${h[FLOW_H.concurrencyKey]}` : ""}`);
  }

  /**
   * Puts a waiting message back on its queue (at its priority) and removes it from the waiting
   * stream; false when another worker moved it first (the queue's stream saw its id already).
   */
  async #promote(head: StoredMsg, queue: string, leaseKey: string): Promise<boolean> {
    const hdrs: MsgHdrs = natsHeaders();
    for (const [k, values] of head.header ?? []) if (!k.startsWith("Nats-") && k !== FLOW_H.handed) for (const v of values) hdrs.append(k, v);
    hdrs.set(H.msgId, `waiting:${head.seq}`);
    hdrs.set(FLOW_H.handed, leaseKey);
    const subject = this.broker.prioritySubject(queue, priorityOf(head.header?.get(FLOW_H.priority) || undefined));
    await this.broker.ensureStreams();
    const ack = await jsPublisher(this.broker.nc).publish(subject, head.data, hdrs);
    if (ack.duplicate) return false;
    const jsm = await this.broker.jsm();
    await jsm.streams.deleteMessage(this.broker.names.waitingStream, head.seq, false).catch((e) => {
      // Already deleted by a worker that retried the same move: nothing left to do.
      if (!/no message found|not found/i.test(String((e as Error).message))) throw e;
    });
    return true;
  }

  /** Gives free leases to keys with waiting tasks (leases lapsed after a worker died). */
  async #sweep(): Promise<void> {
    const jsm = await this.broker.jsm();
    const info = await jsm.streams.info(this.broker.names.waitingStream, { subjects_filter: `${this.broker.names.waitingSubject}.>` });
    const prefix = `${this.broker.names.waitingSubject}.`;
    for (const [subject, n] of Object.entries(info.state.subjects ?? {})) {
      if (!n) continue;
      const [queue, nameTok, keyTok] = subject.slice(prefix.length).split(".");
      const task = this.#byToken.get(nameTok);
      if (!task || !this.queues.includes(queue) || task.concurrency === undefined) continue;
      const base = `${nameTok}.${keyTok}`;
      // Every free lease of the key goes to a waiting task (one per lease, oldest first).
      for (let i = 0; i < Math.min(n, task.concurrency); i++) {
        const lease = await this.leases.acquire(base, task.concurrency, "=pass");
        if (!lease) break;
        await this.#passOn(lease, subject, base, task.concurrency, queue);
      }
    }
  }
}
