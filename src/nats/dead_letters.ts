/**
 * The dead-letter stream `<PREFIX>_DEAD`, read and replayed: what `taskd dead` and the dashboard
 * share. A dead letter is the original task message (headers and body) plus why it died
 * (`taskd-dead-reason`), when (`taskd-dead-at`) and where it was (`taskd-dead-subject`). A
 * replay puts it back on its queue under a fresh de-duplication key and deletes the dead copy.
 * @module
 */
import { headers as natsHeaders, Match } from "@nats-io/nats-core";
import type { JetStreamManager, StoredMsg } from "@nats-io/jetstream";
import type { Broker } from "./broker.ts";
import { isNotFound } from "./errors.ts";
import type { Names } from "./names.ts";
import { H } from "../protocol/message.ts";

/** Where dead letters are read from: a broker, or any JetStream manager with the app's names. */
export interface DeadLetterSource {
  /** The JetStream manager. */
  jsm(): Promise<JetStreamManager>;
  /** The app's names (the dead stream and subjects). */
  readonly names: Names;
}

/** One dead letter as the commands, the dashboard and the tests show it. */
export interface DeadLetter {
  /** Its sequence number in the dead stream. */
  seq: number;
  /** The queue it was consumed from (the last token of `<prefix>.dead.<queue>`). */
  queue: string;
  /** The task's name. */
  task?: string;
  /** The task's id. */
  id?: string;
  /** Retries before it died. */
  retries?: number;
  /** Why the worker dead-lettered it. */
  reason?: string;
  /** When (ISO 8601), else the time the stream stored it. */
  deadAt?: string;
  /** The subject it was consumed from. */
  from?: string;
}

/** A header of a stored message, its name matched whatever its case (as a worker reads them). */
export function storedHeader(m: StoredMsg, name: string): string | undefined {
  return m.header?.get(name, Match.IgnoreCase) || undefined;
}

/** Headers a replay drops: the death record and the requeue counter. */
const DROPPED = new Set<string>([H.deadReason, H.deadAt, H.deadSubject, H.requeues]);

/** The summary of a stored dead letter. */
export function describeDeadLetter(m: StoredMsg, prefix: string): DeadLetter {
  const get = (k: string) => storedHeader(m, k);
  return {
    seq: m.seq,
    queue: m.subject.slice(`${prefix}.dead.`.length),
    task: get(H.task),
    id: get(H.id),
    retries: get(H.retries) === undefined ? undefined : Number(get(H.retries)),
    reason: get(H.deadReason),
    deadAt: get(H.deadAt) ?? m.time.toISOString(),
    from: get(H.deadSubject),
  };
}

/**
 * Stored dead letters (of `queue`, when given), at most `limit`: oldest first, or newest first
 * with `newestFirst`.
 */
export async function* deadLetters(source: DeadLetterSource, queue?: string, limit = Infinity, newestFirst = false): AsyncGenerator<StoredMsg> {
  const jsm = await source.jsm();
  const stream = source.names.deadStream;
  const info = await jsm.streams.info(stream).catch((e) => {
    if (isNotFound(e)) return undefined;
    throw e;
  });
  if (!info || info.state.messages === 0) return;
  const subject = queue === undefined ? undefined : source.names.deadSubject(queue);
  const { first_seq: first, last_seq: last } = info.state;
  let n = 0;
  for (let seq = newestFirst ? last : first; (newestFirst ? seq >= first : seq <= last) && n < limit; seq += newestFirst ? -1 : 1) {
    const m = await jsm.streams.getMessage(stream, { seq }).catch(() => null);
    if (!m || (subject && m.subject !== subject)) continue;
    n++;
    yield m;
  }
}

/** The dead letter stored under `seq`, or `null` when there is none. */
export async function getDeadLetter(broker: Broker, seq: number): Promise<StoredMsg | null> {
  if (!Number.isInteger(seq) || seq < 1) return null;
  const jsm = await broker.jsm();
  return await jsm.streams.getMessage(broker.names.deadStream, { seq }).catch(() => null);
}

/**
 * Sends dead letter `m` back to `queue` (default: the queue it died in) as a new delivery
 * (fresh `Nats-Msg-Id`), then deletes it from the dead stream. Throws a `TypeError` when the
 * target queue's name is not valid. Returns the queue it went to.
 */
export async function replayDeadLetter(broker: Broker, m: StoredMsg, queue?: string): Promise<string> {
  const d = describeDeadLetter(m, broker.names.prefix);
  const target = queue ?? (storedHeader(m, H.queue) || d.queue);
  const subject = broker.names.taskSubject(target);
  const h = natsHeaders();
  for (const [k, values] of m.header ?? []) {
    const name = k.toLowerCase();
    if (DROPPED.has(name) || k.startsWith("Nats-") || name === H.queue) continue;
    for (const v of values) h.append(k, v);
  }
  if (storedHeader(m, H.protocol)) h.set(H.queue, target);
  const eta = Date.parse(storedHeader(m, H.eta) ?? "");
  const to = eta > Date.now() ? broker.names.delayedSubject(target) : subject;
  await broker.js.publish(to, m.data, { headers: h, msgID: `${d.id ?? "msg"}:${d.retries ?? 0}:replay:${d.seq}` });
  const jsm = await broker.jsm();
  await jsm.streams.deleteMessage(broker.names.deadStream, m.seq, false);
  return target;
}

/** Deletes the dead letters (of `queue`); returns how many. */
export async function purgeDeadLetters(broker: Broker, queue?: string): Promise<number> {
  await broker.ensureStreams();
  const jsm = await broker.jsm();
  const r = await jsm.streams.purge(broker.names.deadStream, queue ? { filter: broker.names.deadSubject(queue) } : undefined);
  return r.purged;
}
