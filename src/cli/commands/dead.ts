/**
 * `taskd dead list|show|retry|purge`: the operator's view of the dead-letter stream
 * `<PREFIX>_DEAD`. A dead letter is the original task message (headers and body) plus why it
 * died (`taskd-dead-reason`), when (`taskd-dead-at`) and where it was (`taskd-dead-subject`).
 * `retry` puts it back on its queue under a fresh de-duplication key and deletes the dead copy.
 * @module
 */
import process from "node:process";
import type { StoredMsg } from "@nats-io/jetstream";
import type { Broker } from "../../nats/broker.ts";
import { type DeadLetter, deadLetters, describeDeadLetter as describe, getDeadLetter, purgeDeadLetters, replayDeadLetter, storedHeader } from "../../nats/dead_letters.ts";
import { checkName } from "../../nats/names.ts";
import { decodeBody } from "../../protocol/message.ts";
import { type BrokerFlags, cliApp } from "../broker.ts";
import { CliError } from "../errors.ts";

export type { DeadLetter };

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

async function getOne(broker: Broker, seq: number): Promise<StoredMsg> {
  if (!Number.isInteger(seq) || seq < 1) throw new CliError(`Cannot find dead letter '${seq}': give its sequence number as taskd dead list prints it`);
  const m = await getDeadLetter(broker, seq);
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
      const b = decodeBody((k) => storedHeader(m, k), m.data);
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
    const targets: StoredMsg[] = [];
    if (flags.all) for await (const m of deadLetters(broker, flags.queue)) targets.push(m);
    else for (const s of seqs) targets.push(await getOne(broker, Number(s)));
    for (const m of targets) {
      const d = describe(m, broker.names.prefix);
      let target: string;
      try {
        target = await replayDeadLetter(broker, m, flags.queue);
      } catch (e) {
        if (!(e instanceof TypeError)) throw e;
        throw new CliError(`Cannot retry dead letter ${d.seq}: ${e.message}; choose a queue with --queue`);
      }
      process.stdout.write(`${d.seq}\t${d.task ?? "?"}[${d.id ?? "?"}] -> ${target}\n`);
    }
  });
}

/** `taskd dead purge [--queue q]`: deletes the dead letters (of one queue). */
export function deadPurgeCommand(flags: DeadFlags): Promise<void> {
  return withBroker(flags, async (broker) => {
    const purged = await purgeDeadLetters(broker, flags.queue);
    process.stdout.write(`purged ${purged} dead letter${purged === 1 ? "" : "s"}\n`);
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
