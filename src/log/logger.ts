/**
 * Loggers for people: one line per event on stderr (or a log file), with the task's name and
 * id when the line is written inside a task; colour only on a TTY; `--loglevel` filters.
 * Handlers added with `addLogHandler` (or `logger.addHandler` in an `afterSetupLogger`
 * handler) receive each record that passes the level, as structured data.
 * @module
 */
import process from "node:process";
import { closeSync, openSync, writeSync } from "node:fs";
import { setImmediate } from "node:timers";
import { currentTask } from "../context/task_context.ts";
import { setHandlerErrorReporter } from "../signals/signal.ts";
import { trace } from "@opentelemetry/api";

/** Log levels, lowest first. */
export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;
/** A log level name. */
export type LogLevel = typeof LOG_LEVELS[number];

/**
 * The layout of a log line, as passed to the logging signals' `format`: `{where}` is the
 * logger's name, or `taskName[taskId]` for a task logger inside a task.
 */
export const LOG_FORMAT = "[{time}: {LEVEL}] {where}: {message}";

/** One log event, as handlers receive it. */
export interface LogRecord {
  /** When it was written. */
  time: Date;
  /** Its level. */
  level: LogLevel;
  /** The logger's name (`taskd.worker`, or the name given to getTaskLogger). */
  logger: string;
  /** The text, arguments joined with spaces. */
  message: string;
  /** Inside a task (task loggers only): the task's name. */
  taskName?: string;
  /** Inside a task (task loggers only): the task's id. */
  taskId?: string;
}

/** Receives every record that passes the level threshold. */
export type LogHandler = (record: LogRecord) => void;

/** A logger. */
export interface Logger {
  /** Debug detail. */
  debug(...msg: unknown[]): void;
  /** Normal events. */
  info(...msg: unknown[]): void;
  /** Something went wrong and was handled. */
  warn(...msg: unknown[]): void;
  /** Something failed. */
  error(...msg: unknown[]): void;
}

let threshold = 1;

// Lines for stderr or the log file are written in one batch per event-loop turn (a busy worker
// logs two lines per task: one write each would cost more than the task), and synchronously
// on exit, so nothing is lost.
let pending: string[] = [];
let flushScheduled = false;
let out: (text: string) => void = (text) => process.stderr.write(text);

/** Writes the log lines still waiting for the end of this event-loop turn. */
export function flushLogs(): void {
  flushScheduled = false;
  if (pending.length === 0) return;
  const text = pending.join("\n") + "\n";
  pending = [];
  try {
    out(text);
  } catch {
    // A closed stderr or a full disk must not break the code that logs.
  }
}

function batched(line: string): void {
  pending.push(line);
  if (!flushScheduled) {
    flushScheduled = true;
    setImmediate(flushLogs);
  }
}

process.on("exit", flushLogs);

let sink: (line: string) => void = batched;
let colorOn = Boolean(process.stderr.isTTY) && !process.env.NO_COLOR;
let logFd: number | undefined;
const handlers: LogHandler[] = [];
const COLORS: Record<LogLevel, string> = { debug: "\x1b[2m", info: "", warn: "\x1b[33m", error: "\x1b[31m" };

function levelIndex(level: string, what: string): number {
  const i = LOG_LEVELS.indexOf(String(level).toLowerCase() as LogLevel);
  if (i < 0) throw new RangeError(`Cannot ${what} '${level}': use one of ${LOG_LEVELS.join(", ")}`);
  return i;
}

/** Sets the lowest level written. Throws `RangeError` on an unknown level. */
export function setLogLevel(level: string): void {
  threshold = levelIndex(level, "set log level");
}

/** The lowest level written now. */
export function getLogLevel(): LogLevel {
  return LOG_LEVELS[threshold];
}

/** Sends log lines somewhere else (tests, a file), one call per line; lines carry no colour codes unless colour is on. */
export function setLogSink(fn: (line: string) => void): void {
  flushLogs();
  sink = fn;
}

/** Turns colour on or off (by default: on when stderr is a TTY and NO_COLOR is unset). */
export function setLogColor(on: boolean): void {
  colorOn = on;
}

/** Whether lines are coloured. */
export function logColor(): boolean {
  return colorOn;
}

/**
 * Appends log lines to `path` instead of stderr (synchronous writes, batched per event-loop
 * turn and flushed on exit). `undefined` goes back to stderr.
 */
export function setLogFile(path: string | undefined): void {
  flushLogs();
  if (logFd !== undefined) closeSync(logFd);
  logFd = undefined;
  sink = batched;
  if (path === undefined) {
    out = (text) => process.stderr.write(text);
    return;
  }
  const fd = openSync(path, "a");
  logFd = fd;
  colorOn = false;
  out = (text) => writeSync(fd, text);
}

/** Adds a handler for every record that passes the level; returns a function that removes it. */
export function addLogHandler(fn: LogHandler): () => void {
  if (typeof fn !== "function") throw new TypeError("Cannot add a log handler: it must be a function");
  handlers.push(fn);
  return () => {
    const i = handlers.indexOf(fn);
    if (i >= 0) handlers.splice(i, 1);
  };
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

const LEVEL_INDEX: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };
const LEVEL_TAG: Record<LogLevel, string> = { debug: "DEBUG", info: "INFO", warn: "WARN", error: "ERROR" };

// A busy worker writes thousands of lines a second, most within the same millisecond as the
// one before: the time's text is made once per millisecond.
let isoMs = NaN;
let isoText = "";
function isoTime(ms: number): string {
  if (ms !== isoMs) {
    isoMs = ms;
    isoText = new Date(ms).toISOString();
  }
  return isoText;
}

function write(level: LogLevel, name: string, task: boolean, parts: unknown[]): void {
  if (LEVEL_INDEX[level] < threshold) return;
  const ctx = task ? currentTask() : undefined;
  const ms = Date.now();
  const message = parts.length === 1 && typeof parts[0] === "string" ? parts[0] : text(parts);
  if (!jsonLines) {
    const where = ctx ? `${ctx.task.name}[${ctx.request.id}]` : name;
    const line = `[${isoTime(ms)}: ${LEVEL_TAG[level]}] ${where}: ${message}`;
    sink(colorOn && COLORS[level] ? `${COLORS[level]}${line}\x1b[0m` : line);
    if (handlers.length === 0) return;
  }
  // Records are made only for JSON lines and handlers.
  const record: LogRecord = { time: new Date(ms), level, logger: name, message };
  if (ctx) {
    record.taskName = ctx.task.name;
    record.taskId = ctx.request.id;
  }
  if (jsonLines) sink(jsonLine(record));
  for (const h of handlers) {
    try {
      h(record);
    } catch {
      // A broken log handler must not break the code that logs; it cannot log its own error.
    }
  }
}

/** The formats `--log-format` accepts. */
export const LOG_FORMATS = ["text", "json"] as const;

// Pool threads read the format from the environment the worker set (`--log-format`).
let jsonLines = process.env.TASKD_LOG_FORMAT === "json";
let workerName: string | undefined;
// taskd's own lines about a task ("Task tasks.add[id] succeeded …") name it this way.
const TASK_LINE = /^Task ([^\s[]+)\[([^\]\s]+)\]/;

/**
 * Writes lines as `text` (people) or `json` (one object per line: `time`, `level`, `logger`,
 * `message`, and `task`, `id`, `worker`, `trace_id`, `span_id` when known). Throws
 * `RangeError` on another name.
 */
export function setLogFormat(format: string): void {
  if (!(LOG_FORMATS as readonly string[]).includes(format)) throw new RangeError(`Cannot set log format '${format}': use one of ${LOG_FORMATS.join(", ")}`);
  flushLogs();
  jsonLines = format === "json";
}

/** The node name JSON lines carry as `worker`. */
export function setLogWorker(name: string | undefined): void {
  workerName = name;
}

function jsonLine(r: LogRecord): string {
  const o: Record<string, unknown> = { time: r.time.toISOString(), level: r.level, logger: r.logger, message: r.message };
  let task = r.taskName;
  let id = r.taskId;
  if (task === undefined) {
    const inTask = currentTask();
    const m = inTask ? undefined : TASK_LINE.exec(r.message);
    task = inTask?.task.name ?? m?.[1];
    id = inTask?.request.id ?? m?.[2];
  }
  if (task !== undefined) o.task = task;
  if (id !== undefined) o.id = id;
  if (workerName !== undefined) o.worker = workerName;
  const span = trace.getActiveSpan()?.spanContext();
  if (span) {
    o.trace_id = span.traceId;
    o.span_id = span.spanId;
  }
  return JSON.stringify(o);
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

// Signal handlers that throw are reported in taskd's log (level error), not on the console.
setHandlerErrorReporter((signal, error) => {
  getLogger("taskd.signals").error(`a ${signal} handler threw; taskd carries on:`, error instanceof Error ? error : String(error));
});
