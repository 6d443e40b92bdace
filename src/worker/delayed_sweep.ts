/**
 * Recovering delayed messages the server no longer delivers. Under server kills, nats-server
 * 2.9's consumer state can run ahead of its stream: `make soak` found 657 messages held in the
 * delayed stream while the scheduler's consumer counted none pending or un-acked — most of them
 * copies of messages already released (acked, yet not removed), 41 of them countdowns never
 * released, which nothing would deliver again (docs/guarantees.md). Every {@link SWEEP_MS}, each
 * worker compares the stream's count with the consumer's; when more is held than pending, it
 * reads the messages where the consumer has nothing pending and settles each:
 * - not due yet: never released (a release waits for the due time); published again to the
 *   delayed stream, its due time kept, under a new `Nats-Msg-Id`;
 * - due, and its task stored a state for that attempt: released and run; only removed;
 * - due less than {@link RELEASE_WITHIN_MS} ago: released to its queue under its own
 *   `Nats-Msg-Id`; a copy released already is inside the tasks stream's dedup window (60 s) and
 *   is dropped as a duplicate, one never released runs now;
 * - due longer ago, with no state stored: it may be running or may have run without a result
 *   (`ignoreResult`), or never have been released — no sweep can tell, and releasing it could
 *   run it twice: it is dead-lettered with that reason (`taskd dead retry` sends it again).
 * The stranded copy is then removed. Sweeps of several workers meet on `Nats-Msg-Id`.
 * @module
 */
import process from "node:process";
import type { JetStreamManager, StoredMsg } from "@nats-io/jetstream";
import { headers as natsHeaders, type MsgHdrs } from "@nats-io/nats-core";
import type { Broker } from "../nats/broker.ts";
import { jsPublisher } from "../nats/jspublish.ts";
import { isNoMessage, isNotFound } from "../nats/errors.ts";
import { H } from "../protocol/message.ts";
import { FLOW_H, priorityOf } from "../protocol/flow.ts";
import { getLogger } from "../log/logger.ts";
import type { DeadLetterContext } from "./dead_letter.ts";

const log = getLogger("taskd.scheduler");

/** How often a worker looks for stranded delayed messages (`TASKD_SWEEP_MS` overrides it, for tests). */
export const SWEEP_MS = Number(process.env.TASKD_SWEEP_MS) || 30_000;
/** Messages one sweep looks at, at most (the next sweep goes on). */
const SWEEP_MAX = 1_000;
/** A stranded due copy is released only this soon after its due time: inside the dedup window. */
const RELEASE_WITHIN_MS = 50_000;

const isMissing = (e: unknown) => isNoMessage(e) || isNotFound(e);

/** Looks for stranded delayed messages and settles them; returns how many it found. */
export async function sweepDelayed(broker: Broker, ctx?: DeadLetterContext): Promise<number> {
  const jsm = await broker.jsm();
  const { delayedStream: stream, delayedConsumer: durable } = broker.names;
  const ci = await jsm.consumers.info(stream, durable);
  const si = await jsm.streams.info(stream);
  // Everything held is pending or waiting for its redelivery: nothing is stranded.
  if (si.state.messages <= ci.num_pending + ci.num_ack_pending) return 0;
  // Below the ack floor nothing is pending; with nothing un-acked, nothing up to the last
  // delivered sequence is: a message held there will not be delivered again.
  const floor = ci.num_ack_pending === 0 ? Math.max(ci.delivered.stream_seq, ci.ack_floor.stream_seq) : ci.ack_floor.stream_seq;
  const found: Found = { waiting: 0, ran: 0, released: 0, deadLettered: 0 };
  for (let seq = si.state.first_seq, looked = 0; seq <= floor && looked < SWEEP_MAX; looked++) {
    const m = await next(jsm, stream, seq);
    if (!m || m.seq > floor) break;
    seq = m.seq + 1;
    try {
      found[await settle(broker, m, ctx)]++;
      await jsm.streams.deleteMessage(stream, m.seq, false).catch((e) => {
        if (!isMissing(e)) throw e;
      });
    } catch (e) {
      log.warn(`could not settle stranded delayed message ${m.seq}: ${(e as Error).message}; the next sweep tries again`);
    }
  }
  const n = found.waiting + found.ran + found.released + found.deadLettered;
  if (n) {
    log.warn(
      `found ${n} delayed message${n === 1 ? "" : "s"} the server no longer delivered (${found.waiting} not yet due, sent round again; ${found.ran} already run, removed; ${found.released} released; ${found.deadLettered} dead-lettered)`,
    );
  }
  return n;
}

async function next(jsm: JetStreamManager, stream: string, seq: number): Promise<StoredMsg | null> {
  try {
    // MSG.GET's next_by_subj (nats-server 2.9): the first message at or after `seq`.
    return await jsm.streams.getMessage(stream, { seq, next_by_subj: ">" } as unknown as { seq: number });
  } catch (e) {
    if (isMissing(e)) return null;
    throw e;
  }
}

function copyHeaders(h: MsgHdrs, msgId: string): MsgHdrs {
  const copy = natsHeaders();
  for (const [k, values] of h) if (!k.startsWith("Nats-")) for (const v of values) copy.append(k, v);
  copy.set(H.msgId, msgId);
  return copy;
}

async function settle(broker: Broker, m: StoredMsg, ctx?: DeadLetterContext): Promise<keyof Found> {
  const h = m.header;
  const id = h.get(H.id);
  const msgId = h.get(H.msgId) || `${id}:${h.get(H.retries) || 0}`;
  const publisher = jsPublisher(broker.nc);
  const due = Date.parse(h.get(H.eta));
  if (due > Date.now()) {
    await publisher.publish(m.subject, m.data, copyHeaders(h, `${msgId}:swept:${m.seq}`));
    return "waiting";
  }
  const app = ctx?.registry.get(h.get(H.task))?.app;
  const stored = id && app ? await app.backend.get(id).catch(() => null) : null;
  if (stored && (stored.retries ?? 0) >= (Number(h.get(H.retries)) || 0)) return "ran";
  const queue = h.get(H.queue) || m.subject.split(".").pop() || "default";
  if (!(Date.now() - due <= RELEASE_WITHIN_MS)) {
    const reason = `Cannot tell whether delayed task ${h.get(H.task) || "?"}[${id || "?"}], due at ${h.get(H.eta) || "?"}, ran: the server stopped delivering it and it stored no result; check it and send it again with taskd dead retry if it did not run`;
    await broker.deadLetterCopy({ subject: m.subject, data: m.data, headers: h, stream: broker.names.delayedStream, seq: m.seq }, queue, reason);
    return "deadLettered";
  }
  await publisher.publish(broker.prioritySubject(queue, priorityOf(h.get(FLOW_H.priority) || undefined)), m.data, copyHeaders(h, msgId));
  return "released";
}

/** What a sweep did with the stranded messages it found, by kind. */
interface Found {
  waiting: number;
  ran: number;
  released: number;
  deadLettered: number;
}
