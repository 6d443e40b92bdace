/**
 * `taskd dead list|show|retry|purge`: the operator's view of the dead-letter stream
 * `<PREFIX>_DEAD`. A dead letter is the original task message (headers and body) plus why it
 * died (`taskd-dead-reason`), when (`taskd-dead-at`) and where it was (`taskd-dead-subject`).
 * `retry` puts it back on its queue under a fresh de-duplication key and deletes the dead copy.
 * @module
 */
import process from "node:process";
import { headers as natsHeaders } from "@nats-io/nats-core";
import type { StoredMsg } from "@nats-io/jetstream";
import type { Broker } from "../../nats/broker.ts";
import { isNotFound } from "../../nats/errors.ts";
import { checkName } from "../../nats/names.ts";
import { decodeBody, H } from "../../protocol/message.ts";
import { FLOW_H, priorityOf } from "../../protocol/flow.ts";
import { type BrokerFlags, cliApp } from "../broker.ts";
import { CliError } from "../errors.ts";

/** Options of the `taskd dead` commands. */
export interface DeadFlags extends BrokerFlags {
  /** Only dead letters of this queue (list, retry --all, purge); for retry, the queue to send to. */
  queue?: string;
  /** Print JSON (list: one object per line). */
  json?: boolean;
  /** list: at most this many, oldest first. */
  limit?: number;
  /** retry: every dead letter (of --queue when given). */
  all?: boolean;
}

/** One dead letter as the commands show it. */
export interface DeadLetter {
  seq: number;
  queue: string;
  task?: string;
  id?: string;
  retries?: number;
  reason?: string;
  deadAt?: string;
  from?: string;
}

/** Headers a replay drops: the death record and the requeue counter. */
const DROPPED = new Set<string>([H.deadReason, H.deadAt, H.deadSubject, H.requeues]);

function describe(m: StoredMsg, prefix: string): DeadLetter {
  const get = (k: string) => m.header?.get(k) || undefined;
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
async function* deadLetters(broker: Broker, queue?: string, limit = Infinity): AsyncGenerator<StoredMsg> {
  const jsm = await broker.jsm();
  const stream = broker.names.deadStream;
  const info = await jsm.streams.info(stream).catch((e) => {
    if (isNotFound(e)) return undefined;
    throw e;
  });
  if (!info || info.state.messages === 0) return;
  const subject = queue === undefined ? undefined : broker.names.deadSubject(queue);
  let n = 0;
  for (let seq = info.state.first_seq; seq <= info.state.last_seq && n < limit; seq++) {
    const m = await jsm.streams.getMessage(stream, { seq }).catch(() => null);
    if (!m || (subject && m.subject !== subject)) continue;
    n++;
    yield m;
  }
}

async function getOne(broker: Broker, seq: number): Promise<StoredMsg> {
  if (!Number.isInteger(seq) || seq < 1) throw new CliError(`Cannot find dead letter '${seq}': give its sequence number as taskd dead list prints it`);
  const jsm = await broker.jsm();
  const m = await jsm.streams.getMessage(broker.names.deadStream, { seq }).catch(() => null);
  if (!m) throw new CliError(`Cannot find dead letter ${seq}: it is not in ${broker.names.deadStream}; run taskd dead list`);
  return m;
}

async function withBroker<T>(flags: DeadFlags, fn: (broker: Broker) => Promise<T>): Promise<T> {
  if (flags.queue !== undefined) checkName("queue", String(flags.queue));
  const app = cliApp(flags);
  try {
    const broker = await app.broker();
    return await fn(broker);
  } finally {
    await app.close();
  }
}

/** `taskd dead list`: one line per dead letter: seq, time, queue, task[id], reason. */
export function deadListCommand(flags: DeadFlags): Promise<void> {
  return withBroker(flags, async (broker) => {
    const limit = flags.limit === undefined ? Infinity : Number(flags.limit);
    let count = 0;
    for await (const m of deadLetters(broker, flags.queue, limit)) {
      const d = describe(m, broker.names.prefix);
      count++;
      if (flags.json) process.stdout.write(JSON.stringify(d) + "\n");
      else process.stdout.write(`${d.seq}\t${d.deadAt}\t${d.queue}\t${d.task ?? "?"}[${d.id ?? "?"}]\t${d.reason ?? ""}\n`);
    }
    if (!flags.json && count === 0) process.stderr.write("no dead letters\n");
  });
}

/** `taskd dead show <seq>`: the dead letter's headers, arguments and reason. */
export function deadShowCommand(seq: string, flags: DeadFlags): Promise<void> {
  return withBroker(flags, async (broker) => {
    const m = await getOne(broker, Number(seq));
    const d = describe(m, broker.names.prefix);
    const headers: Record<string, string> = {};
    for (const [k, v] of m.header ?? []) headers[k] = v[0];
    let body: { args?: unknown[]; kwargs?: Record<string, unknown>; error?: string };
    try {
      const b = decodeBody((k) => m.header?.get(k) || undefined, m.data);
      body = { args: b.args, kwargs: b.kwargs };
    } catch (e) {
      body = { error: (e as Error).message };
    }
    if (flags.json) {
      process.stdout.write(JSON.stringify({ ...d, headers, ...body }) + "\n");
      return;
    }
    const lines = [
      `seq:      ${d.seq}`,
      `task:     ${d.task ?? "?"}[${d.id ?? "?"}]`,
      `queue:    ${d.queue}`,
      `reason:   ${d.reason ?? ""}`,
      `dead at:  ${d.deadAt}`,
      `from:     ${d.from ?? ""}`,
      `retries:  ${d.retries ?? ""}`,
      body.error ? `body:     cannot decode: ${body.error}` : `args:     ${JSON.stringify(body.args)}\nkwargs:   ${JSON.stringify(body.kwargs)}`,
      `headers:  ${JSON.stringify(headers)}`,
    ];
    process.stdout.write(lines.join("\n") + "\n");
  });
}

/**
 * `taskd dead retry <seq…>` or `--all`: sends each dead letter back to its queue (or
 * `--queue`), as a new delivery (fresh `Nats-Msg-Id`), then deletes it from the dead stream.
 */
export function deadRetryCommand(seqs: string[], flags: DeadFlags): Promise<void> {
  if (!flags.all && seqs.length === 0) throw new CliError("Cannot retry dead letters: give their sequence numbers or --all");
  return withBroker(flags, async (broker) => {
    const jsm = await broker.jsm();
    const targets: StoredMsg[] = [];
    if (flags.all) for await (const m of deadLetters(broker, flags.queue)) targets.push(m);
    else for (const s of seqs) targets.push(await getOne(broker, Number(s)));
    for (const m of targets) {
      const d = describe(m, broker.names.prefix);
      const target = flags.queue ?? (m.header?.get(H.queue) || d.queue);
      let subject: string;
      try {
        // Back at its priority level (docs/flow.md).
        subject = broker.prioritySubject(target, priorityOf(m.header?.get(FLOW_H.priority) || undefined));
      } catch (e) {
        throw new CliError(`Cannot retry dead letter ${d.seq}: ${(e as Error).message}; choose a queue with --queue`);
      }
      const h = natsHeaders();
      for (const [k, values] of m.header ?? []) {
        if (DROPPED.has(k) || k.startsWith("Nats-") || k === H.queue) continue;
        for (const v of values) h.append(k, v);
      }
      if (m.header?.get(H.protocol)) h.set(H.queue, target);
      const eta = Date.parse(m.header?.get(H.eta) ?? "");
      const to = eta > Date.now() ? broker.names.delayedSubject(target) : subject;
      await broker.js.publish(to, m.data, { headers: h, msgID: `${d.id ?? "msg"}:${d.retries ?? 0}:replay:${d.seq}` });
      await jsm.streams.deleteMessage(broker.names.deadStream, m.seq, false);
      process.stdout.write(`${d.seq}\t${d.task ?? "?"}[${d.id ?? "?"}] -> ${target}\n`);
    }
  });
}

/** `taskd dead purge [--queue q]`: deletes the dead letters (of one queue). */
export function deadPurgeCommand(flags: DeadFlags): Promise<void> {
  return withBroker(flags, async (broker) => {
    await broker.ensureStreams();
    const jsm = await broker.jsm();
    const r = await jsm.streams.purge(broker.names.deadStream, flags.queue ? { filter: broker.names.deadSubject(flags.queue) } : undefined);
    process.stdout.write(`purged ${r.purged} dead letter${r.purged === 1 ? "" : "s"}\n`);
  });
}

/** Dispatches `taskd dead <action> [args…]`. */
export function deadCommand(action: string, args: string[], flags: DeadFlags): Promise<void> {
  switch (action) {
    case "list":
      return deadListCommand(flags);
    case "show":
      if (args.length !== 1) throw new CliError("Cannot show a dead letter: give one sequence number, e.g. taskd dead show 12");
      return deadShowCommand(args[0], flags);
    case "retry":
      return deadRetryCommand(args, flags);
    case "purge":
      return deadPurgeCommand(flags);
    default:
      throw new CliError(`Unknown dead-letter action '${action}': use list, show, retry or purge`);
  }
}
