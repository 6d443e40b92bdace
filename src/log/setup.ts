/**
 * Setting up logging the way Celery's worker does, with its three logging signals:
 * `setupLogging` first (a handler that returns `true` takes logging over and taskd configures
 * nothing), else taskd sets the level, the output (stderr or a log file) and colour, then sends
 * `afterSetupLogger` and `afterSetupTaskLogger` so handlers can add to the configuration.
 * @module
 */
import { signals } from "../signals/signals.ts";
import {
  addLogHandler,
  getLogger,
  getLogLevel,
  getTaskLogger,
  LOG_FORMAT,
  type LogHandler,
  type Logger,
  logColor,
  type LogLevel,
  setLogColor,
  setLogFile,
  setLogLevel,
} from "./logger.ts";

/** Options of {@link setupLogging}. */
export interface LoggingOptions {
  /** The lowest level written. @default the level in force (info unless changed) */
  loglevel?: string;
  /** Append lines to this file instead of stderr. @default undefined (stderr) */
  logfile?: string;
  /** Colour lines. @default true when stderr is a TTY and NO_COLOR is unset (never for a file) */
  colorize?: boolean;
}

/** The logger object the `afterSetup…` signals hand out: a Logger that takes handlers. */
export interface ConfigurableLogger extends Logger {
  /** `taskd` for the worker's logger, `taskd.task` for the task logger. */
  readonly name: string;
  /** The level in force. */
  readonly level: LogLevel;
  /** Changes the level (for every logger: taskd has one threshold). */
  setLevel(level: string): void;
  /**
   * Adds a handler. The worker logger's handlers get every record; the task logger's get only
   * records written by task loggers inside a task (they carry `taskName` and `taskId`).
   */
  addHandler(fn: LogHandler): () => void;
}

function configurable(name: string, onlyTasks: boolean): ConfigurableLogger {
  const base = onlyTasks ? getTaskLogger(name) : getLogger(name);
  return {
    ...base,
    name,
    get level() {
      return getLogLevel();
    },
    setLevel: setLogLevel,
    addHandler: (fn) => addLogHandler(onlyTasks ? (r) => r.taskId !== undefined && fn(r) : fn),
  };
}

/** What {@link setupLogging} did. */
export interface LoggingSetup {
  /** A `setupLogging` handler returned `true`: taskd configured nothing. */
  custom: boolean;
}

/**
 * Sets up logging for a worker and sends the logging signals. Level names are checked first
 * (a `RangeError` names the valid ones), so a typo never reaches the signals.
 */
export async function setupLogging(options: LoggingOptions = {}): Promise<LoggingSetup> {
  const loglevel = options.loglevel ?? getLogLevel();
  setLogLevel(loglevel); // validates before anyone is told
  const logfile = options.logfile;
  const colorize = logfile ? false : (options.colorize ?? logColor());
  const args = { loglevel: loglevel.toLowerCase(), logfile, format: LOG_FORMAT, colorize };
  const answers = await signals.setupLogging.send(undefined, args);
  if (answers.some(([, result]) => result === true)) return { custom: true };
  if (logfile) setLogFile(logfile);
  setLogColor(colorize);
  await signals.afterSetupLogger.send(undefined, { logger: configurable("taskd", false), ...args });
  await signals.afterSetupTaskLogger.send(undefined, { logger: configurable("taskd.task", true), ...args });
  return { custom: false };
}

// Signal arguments name this class (src/signals/args.ts).
declare module "../signals/args.ts" {
  interface SignalTypes {
    logger: ConfigurableLogger;
  }
}
