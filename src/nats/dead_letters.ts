/**
 * Reading the dead-letter stream `<PREFIX>_DEAD`: the messages the worker gave up on, each the
 * original task message plus why it died (`taskd-dead-reason`), when (`taskd-dead-at`) and where
 * it was (`taskd-dead-subject`). `taskd dead` and the tests read it through here.
 * @module
 */
import type { JetStreamManager, StoredMsg } from "@nats-io/jetstream";
import { Match } from "@nats-io/nats-core";
import { H } from "../protocol/message.ts";
import { isNotFound } from "./errors.ts";
import type { Names } from "./names.ts";

/** One dead letter, described from its headers. */
export interface DeadLetter {
  /** Its sequence number in the dead stream. */
  seq: number;
  /** The queue it was consumed from (the last token of `<prefix>.dead.<queue>`). */
  queue: string;
  task?: string;
  id?: string;
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

/** Describes a stored dead letter of the app with subject prefix `prefix`. */
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

/** Every stored dead letter (of `queue`, when given), oldest first, at most `limit`. */
export async function* deadLetters(jsm: JetStreamManager, names: Names, queue?: string, limit = Infinity): AsyncGenerator<StoredMsg> {
  const stream = names.deadStream;
  const info = await jsm.streams.info(stream).catch((e) => {
    if (isNotFound(e)) return undefined;
    throw e;
  });
  if (!info || info.state.messages === 0) return;
  const subject = queue === undefined ? undefined : names.deadSubject(queue);
  let n = 0;
  for (let seq = info.state.first_seq; seq <= info.state.last_seq && n < limit; seq++) {
    const m = await jsm.streams.getMessage(stream, { seq }).catch(() => null);
    if (!m || (subject && m.subject !== subject)) continue;
    n++;
    yield m;
  }
}
