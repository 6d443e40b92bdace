/**
 * Celery's `worker_redirect_stdouts`: inside a task, what the body writes with `console.log`
 * (and `info`, `debug`, `warn`, `error`) goes through the task logger — one line with the task's
 * name and id, at a level, into `--logfile` when there is one — instead of raw to stdout. Outside
 * a task the console is left as it is.
 * @module
 */
import { currentTask } from "../context/task_context.ts";
import { getTaskLogger, LOG_LEVELS, type LogLevel } from "./logger.ts";

const METHODS = ["log", "info", "debug", "warn", "error"] as const;

/**
 * Routes console output written inside tasks to the task logger, `log`/`info`/`debug` at
 * `level` (Celery's default: warn), `warn` and `error` at their own. Returns the function that
 * puts the console back.
 */
export function redirectConsole(level: LogLevel = "warn"): () => void {
  const logger = getTaskLogger("stdout");
  const saved = METHODS.map((name) => [name, console[name]] as const);
  for (const [name, original] of saved) {
    const at: LogLevel = name === "warn" ? "warn" : name === "error" ? "error" : level;
    console[name] = (...parts: unknown[]) => {
      if (currentTask()) logger[at](...parts);
      else original.apply(console, parts);
    };
  }
  return () => {
    for (const [name, original] of saved) console[name] = original;
  };
}

/** The level redirected console lines get (default "warn"); throws a `RangeError` naming a bad one. */
export function redirectLevel(level: string | undefined): LogLevel {
  const l = (level ?? "warn").toLowerCase();
  if (!(LOG_LEVELS as readonly string[]).includes(l)) throw new RangeError(`Cannot redirect stdouts at level '${level}': use ${LOG_LEVELS.join(", ")}`);
  return l as LogLevel;
}
