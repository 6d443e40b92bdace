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
 * - due otherwise: released to its queue under its own `Nats-Msg-Id`. A copy released in the
 *   last `dedupWindow` (60 s) is dropped by the tasks stream as a duplicate; one never released
 *   runs now. A copy released longer ago whose task has not stored a state yet would run twice:
 *   sweeps every 30 s find copies inside the window.
 * The stranded copy is then removed. Sweeps of several workers meet on `Nats-Msg-Id`.
 * @module
 */
import process from "node:process";
import type { JetStreamManager, StoredMsg } from "@nats-io/jetstream";
import { headers as natsHeaders, type MsgHdrs } from "@nats-io/nats-core";
import type { Broker } from "../nats/broker.ts";
import { jsPublisher } from "../nats/jspublish.ts";
import { isNotFound } from "../nats/errors.ts";
import { H } from "../protocol/message.ts";
import { FLOW_H, priorityOf } from "../protocol/flow.ts";
import { getLogger } from "../log/logger.ts";
import type { DeadLetterContext } from "./dead_letter.ts";

const log = getLogger("taskd.scheduler");

/** How often a worker looks for stranded delayed messages (`TASKD_SWEEP_MS` overrides it, for tests). */
export const SWEEP_MS = Number(process.env.TASKD_SWEEP_MS) || 30_000;
/** Messages one sweep looks at, at most (the next sweep goes on). */
const SWEEP_MAX = 1_000;

function isMissing(e: unknown): boolean {
  return isNotFound(e) || (e as { code?: number })?.code === 10057 || /no message found/i.test(String((e as Error)?.message));
}

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
  const found = { waiting: 0, ran: 0, released: 0 };
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
  const n = found.waiting + found.ran + found.released;
  if (n) log.warn(`found ${n} delayed message${n === 1 ? "" : "s"} the server no longer delivered (${found.waiting} not yet due, sent round again; ${found.ran} already run, removed; ${found.released} released)`);
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

async function settle(broker: Broker, m: StoredMsg, ctx?: DeadLetterContext): Promise<"waiting" | "ran" | "released"> {
  const h = m.header;
  const id = h.get(H.id);
  const msgId = h.get(H.msgId) || `${id}:${h.get(H.retries) || 0}`;
  const publisher = jsPublisher(broker.nc);
  if (Date.parse(h.get(H.eta)) > Date.now()) {
    await publisher.publish(m.subject, m.data, copyHeaders(h, `${msgId}:swept:${m.seq}`));
    return "waiting";
  }
  const app = ctx?.registry.get(h.get(H.task))?.app;
  const stored = id && app ? await app.backend.get(id).catch(() => null) : null;
  if (stored && (stored.retries ?? 0) >= (Number(h.get(H.retries)) || 0)) return "ran";
  const queue = h.get(H.queue) || m.subject.split(".").pop() || "default";
  await publisher.publish(broker.prioritySubject(queue, priorityOf(h.get(FLOW_H.priority) || undefined)), m.data, copyHeaders(h, msgId));
  return "released";
}
