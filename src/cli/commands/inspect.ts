/**
 * `taskd inspect ping|registered|active|reserved|scheduled|stats|revoked [-d node]`: ask the
 * running workers, print one block per worker that answered (Celery's layout), or `--json`.
 * `taskd inspect chord <id>` reads a chord's progress from the canvas bucket instead (no
 * worker needs to answer): size, settled, failed members and why, pending member ids.
 * @module
 */
import process from "node:process";
import type { ControlCommand, TaskInfo } from "../../control/protocol.ts";
import { type BrokerFlags, cliApp } from "../broker.ts";
import { CliError } from "../errors.ts";
import { chordProgress, type ChordProgress } from "../../canvas/chord_state.ts";
import { queueCommand } from "./queue.ts";

/** What `taskd inspect` can ask. */
export const INSPECT_COMMANDS = ["ping", "registered", "active", "reserved", "scheduled", "stats", "revoked"] as const;

/** Options of `taskd inspect` and `taskd control`. */
export interface ControlFlags extends BrokerFlags {
  destination?: string;
  timeout?: number;
  json?: boolean;
}

/** The broadcast options the flags describe. */
export function broadcastOptions(flags: ControlFlags): { destination?: string[]; timeout?: number } {
  const timeout = flags.timeout === undefined ? undefined : Number(flags.timeout);
  if (timeout !== undefined && !(timeout > 0)) throw new CliError(`Cannot ask the workers: --timeout must be a number of seconds > 0: current value is ${flags.timeout}`);
  const destination = flags.destination ? String(flags.destination).split(",").map((s) => s.trim()).filter(Boolean) : undefined;
  return { destination, timeout };
}

function task(t: TaskInfo): string {
  const args = t.argsrepr !== undefined || t.kwargsrepr !== undefined ? ` args=${t.argsrepr ?? ""} kwargs=${t.kwargsrepr ?? ""}` : "";
  const since = t.timeStart ? ` (running ${(Date.now() / 1000 - t.timeStart).toFixed(1)}s)` : "";
  return `${t.name}[${t.id}]${args}${since}`;
}

/** Formats one worker's reply to `command` as indented lines. */
export function formatReply(command: string, reply: unknown): string[] {
  if (reply && typeof reply === "object" && "error" in reply) return [`error: ${(reply as { error: string }).error}`];
  if (command === "ping") return [];
  if (Array.isArray(reply)) {
    if (reply.length === 0) return [`- empty -`];
    return reply.map((x) => `* ${typeof x === "string" ? x : task(x as TaskInfo)}`);
  }
  if (reply && typeof reply === "object" && "ok" in reply && Object.keys(reply).length <= 2) return [String((reply as { ok: string }).ok)];
  return JSON.stringify(reply, null, 2).split("\n");
}

/** Prints replies; throws when no worker answered. */
export function printReplies(command: string, replies: Record<string, unknown>[], json: boolean | undefined): void {
  const merged: Record<string, unknown> = Object.assign({}, ...replies);
  if (Object.keys(merged).length === 0) throw new CliError(`No nodes replied within time constraint (${command}); check that workers run on this broker and prefix, or raise --timeout`);
  if (json) {
    process.stdout.write(JSON.stringify(merged) + "\n");
    return;
  }
  for (const [node, reply] of Object.entries(merged)) {
    const failed = Boolean(reply && typeof reply === "object" && "error" in reply);
    const lines = formatReply(command, reply);
    const head = command === "ping" && !failed ? `-> ${node}: OK pong` : `-> ${node}: ${failed ? "ERROR" : "OK"}`;
    process.stdout.write([head, ...lines.map((l) => `    ${l}`)].join("\n") + "\n");
  }
  const n = Object.keys(merged).length;
  if (command === "ping") process.stdout.write(`\n${n} node${n === 1 ? "" : "s"} online.\n`);
}

/** Runs `taskd inspect <what>`. */
export async function inspectCommand(what: string, flags: ControlFlags): Promise<void> {
  // Queues are read from the server, not asked of workers: the same as `taskd queue list`.
  if (what === "queues") return queueCommand("list", undefined, flags);
  if (!(INSPECT_COMMANDS as readonly string[]).includes(what)) {
    throw new CliError(`Cannot inspect '${what}': use one of ${INSPECT_COMMANDS.join(", ")}, queues`);
  }
  const options = broadcastOptions(flags);
  const app = cliApp(flags);
  try {
    const replies = await app.control.broadcast(what as ControlCommand, {}, options);
    printReplies(what, replies, flags.json);
  } finally {
    await app.close();
  }
}

/** The text of a chord's progress (`taskd inspect chord <id>`). */
export function formatChord(p: ChordProgress): string[] {
  const lines = [
    `chord ${p.id}: ${p.state}`,
    `    size: ${p.size}  done: ${p.done}  failed: ${p.failed.length}  pending: ${p.pending.length}`,
    `    body: ${p.body.task}[${p.body.id}]`,
  ];
  if (p.timeout !== undefined) lines.push(`    timeout: ${p.timeout}s`);
  if (p.failed.length) lines.push("    failed:", ...p.failed.map((f) => `    * ${f.taskName}[${f.taskId}] ${f.state}: ${f.reason}`));
  if (p.pending.length) lines.push("    pending:", ...p.pending.map((id) => `    * ${id}`));
  if (p.error) lines.push(`    error: ${p.error}`);
  return lines;
}

/** Runs `taskd inspect chord <id>`. */
export async function inspectChordCommand(id: string | undefined, flags: ControlFlags): Promise<void> {
  if (!id) throw new CliError("Cannot inspect a chord: give its id, e.g. taskd inspect chord 5a1c…");
  const app = cliApp(flags);
  try {
    const p = await chordProgress(app, String(id));
    if (!p) throw new CliError(`No chord ${id}: it was never applied, or its entries expired (resultExpires)`);
    process.stdout.write(flags.json ? JSON.stringify(p) + "\n" : formatChord(p).join("\n") + "\n");
  } finally {
    await app.close();
  }
}
