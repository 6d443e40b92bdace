/**
 * Loggers for people: one line per event on stderr, with the task's name and id when the line
 * is written inside a task; colour only on a TTY; `--loglevel` filters.
 * @module
 */
import { currentTask } from "../app/context.ts";

/** Log levels, lowest first. */
export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;
/** A log level name. */
export type LogLevel = typeof LOG_LEVELS[number];

/** A logger. */
export interface Logger {
  debug(...msg: unknown[]): void;
  info(...msg: unknown[]): void;
  warn(...msg: unknown[]): void;
  error(...msg: unknown[]): void;
}

let threshold = 1;
let sink: (line: string) => void = (line) => process.stderr.write(line + "\n");
const color = Boolean(process.stderr.isTTY) && !process.env.NO_COLOR;
const COLORS: Record<LogLevel, string> = { debug: "\x1b[2m", info: "", warn: "\x1b[33m", error: "\x1b[31m" };

/** Sets the lowest level written. Throws `RangeError` on an unknown level. */
export function setLogLevel(level: string): void {
  const i = LOG_LEVELS.indexOf(level.toLowerCase() as LogLevel);
  if (i < 0) throw new RangeError(`Cannot set log level '${level}': use one of ${LOG_LEVELS.join(", ")}`);
  threshold = i;
}

/** Sends log lines somewhere else (tests, a file). */
export function setLogSink(fn: (line: string) => void): void {
  sink = fn;
}

function text(parts: unknown[]): string {
  return parts.map((p) => (typeof p === "string" ? p : p instanceof Error ? (p.stack ?? p.message) : safeJson(p))).join(" ");
}

function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

function write(level: LogLevel, name: string, task: boolean, parts: unknown[]): void {
  if (LOG_LEVELS.indexOf(level) < threshold) return;
  const ctx = task ? currentTask() : undefined;
  const where = ctx ? `${ctx.task.name}[${ctx.request.id}]` : name;
  const line = `[${new Date().toISOString()}: ${level.toUpperCase()}] ${where}: ${text(parts)}`;
  sink(color && COLORS[level] ? `${COLORS[level]}${line}\x1b[0m` : line);
}

/** A logger for taskd's own parts (`taskd.worker`, …). */
export function getLogger(name: string): Logger {
  return {
    debug: (...m) => write("debug", name, false, m),
    info: (...m) => write("info", name, false, m),
    warn: (...m) => write("warn", name, false, m),
    error: (...m) => write("error", name, false, m),
  };
}

/**
 * A logger for task bodies: inside a task each line names the task and its id.
 * @example
 * ```ts
 * const logger = getTaskLogger("tasks");
 * export const add = app.task(function add(x: number, y: number) { logger.info("adding"); return x + y; });
 * ```
 */
export function getTaskLogger(name: string): Logger {
  return {
    debug: (...m) => write("debug", name, true, m),
    info: (...m) => write("info", name, true, m),
    warn: (...m) => write("warn", name, true, m),
    error: (...m) => write("error", name, true, m),
  };
}
