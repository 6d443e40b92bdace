/**
 * One readable line per event, for `taskd events`: time, type, task name and id, worker, and
 * what matters for the type (runtime, result, exception). Colour is the caller's choice.
 * @module
 */
import type { TaskdEvent } from "./event.ts";

const COLOURS: Record<string, string> = {
  "task-succeeded": "\x1b[32m",
  "task-failed": "\x1b[31m",
  "task-rejected": "\x1b[31m",
  "task-revoked": "\x1b[35m",
  "task-retried": "\x1b[33m",
  "worker-online": "\x1b[36m",
  "worker-offline": "\x1b[36m",
};

/** Formats `e` as one line; with `color`, ANSI colours by type. */
export function formatEvent(e: TaskdEvent, color = false): string {
  const time = new Date(e.timestamp * 1000).toISOString();
  const parts = [time, e.type.padEnd(16)];
  if (e.id || e.name) parts.push(`${e.name ?? "?"}[${e.id ?? "?"}]`);
  parts.push(e.hostname);
  if (e.argsrepr !== undefined) parts.push(`args=${e.argsrepr}`);
  if (e.kwargsrepr !== undefined) parts.push(`kwargs=${e.kwargsrepr}`);
  if (e.runtime !== undefined) parts.push(`runtime=${e.runtime}s`);
  if (e.result !== undefined) parts.push(`result=${e.result}`);
  if (e.exception !== undefined) parts.push(`exception=${JSON.stringify(e.exception)}`);
  if (e.terminated) parts.push("terminated");
  if (e.expired) parts.push("expired");
  if (e.type.startsWith("worker-")) parts.push(`active=${e.active ?? 0} processed=${e.processed ?? 0}`);
  const line = parts.join(" ");
  const c = COLOURS[e.type];
  return color && c ? `${c}${line}\x1b[0m` : line;
}
