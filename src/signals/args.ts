/**
 * The named arguments each signal's handlers receive: Celery's names in camelCase, plus a few
 * taskd adds (marked). Handlers get `signal` and `sender` too, and must tolerate keys added
 * later. docs/signals.md says where and when each signal fires.
 * @module
 */
import type { App } from "../app/app.ts";
import type { AppConfig } from "../app/options.ts";
import type { ExceptionInfo, Request } from "../app/request.ts";
import type { Task } from "../app/task.ts";
import type { Retry } from "../errors/semipredicates.ts";
import type { TaskMessage } from "../protocol/message.ts";
import type { ConfigurableLogger } from "../log/setup.ts";
import type { Worker, WorkerOptions } from "../worker/worker.ts";

/** beforeTaskPublish: the message about to be published (mutable: changes are sent). */
export interface BeforeTaskPublishArgs {
  /** `[args, kwargs, embed]`. */
  body: unknown[];
  /** Always "" (NATS has no exchanges; kept for Celery's signature). */
  exchange: string;
  /** The queue the message goes to. */
  routingKey: string;
  /** The whole message (id, task, retries, eta, argsrepr, user headers…); change it to change what is sent. */
  headers: TaskMessage;
  /** Message properties (none on NATS; kept for Celery's signature). */
  properties: Record<string, unknown>;
}

/** afterTaskPublish: the message the broker stored. */
export interface AfterTaskPublishArgs {
  /** The whole message. */
  headers: TaskMessage;
  /** `[args, kwargs, embed]`. */
  body: unknown[];
  /** Always "". */
  exchange: string;
  /** The queue it went to. */
  routingKey: string;
}

/** taskPrerun. */
export interface TaskPrerunArgs {
  taskId: string;
  task: Task;
  args: unknown[];
  kwargs: Record<string, unknown>;
  /** taskd: the request (`task.request` inside the run). */
  request: Request;
}

/** taskPostrun. */
export interface TaskPostrunArgs extends TaskPrerunArgs {
  /** The return value, or the error (failure), Retry, Ignore or Reject thrown. */
  retval: unknown;
  /** SUCCESS, FAILURE, RETRY, or Celery's internal IGNORED / REJECTED. */
  state: string;
}

/** taskRetry. */
export interface TaskRetryArgs {
  request: Request;
  /** The Retry thrown; `reason.exc` is the error that caused it. */
  reason: Retry;
  einfo: ExceptionInfo;
  /** taskd: the task and its id. */
  task: Task;
  taskId: string;
}

/** taskSuccess. */
export interface TaskSuccessArgs {
  result: unknown;
  /** taskd: the task, its id and request. */
  task: Task;
  taskId: string;
  request: Request;
}

/** taskFailure. */
export interface TaskFailureArgs {
  taskId: string;
  exception: unknown;
  args: unknown[];
  kwargs: Record<string, unknown>;
  /** The stack, as text (Celery passes a traceback object). */
  traceback: string;
  einfo: ExceptionInfo;
  /** taskd: the task and its request. */
  task: Task;
  request: Request;
}

/** taskInternalError: taskd itself failed around a task. */
export interface TaskInternalErrorArgs {
  taskId?: string;
  exception: unknown;
  /** The raw message, when the error concerns one. */
  message?: unknown;
}

/** taskReceived. */
export interface TaskReceivedArgs {
  /** The request about to run (the same object the task sees as `task.request`). */
  request: Request;
}

/** taskRevoked. */
export interface TaskRevokedArgs {
  /** The request that will not run (args and kwargs empty: the body is not decoded). */
  request: Request;
  /** True when a running task was stopped. */
  terminated: boolean;
  /** The signal used to stop it, when terminated. */
  signum: string | number | null;
  /** True when it expired rather than being revoked. */
  expired: boolean;
}

/** taskUnknown. */
export interface TaskUnknownArgs {
  name: string;
  id: string;
  /** The raw JetStream message. */
  message: unknown;
  exc: Error;
}

/** taskRejected. */
export interface TaskRejectedArgs {
  /** The raw JetStream message. */
  message: unknown;
  /** Why: the Reject thrown, or a reason text. */
  exc: unknown;
}

/** importModules. */
export interface ImportModulesArgs {
  app: App;
  /** taskd: the absolute path of the module loaded. */
  module: string;
}

/** celerydInit (sender: the node name). */
export interface CelerydInitArgs {
  instance: Worker;
  conf: AppConfig;
  options: WorkerOptions;
}

/** celerydAfterSetup (sender: the node name). */
export interface CelerydAfterSetupArgs {
  instance: Worker;
  conf: AppConfig;
}

/** workerInit, workerReady, workerShutdown (sender: the worker). */
export interface WorkerArgs {
  /** taskd: the worker (also the sender). */
  worker: Worker;
}

/** workerShuttingDown (sender: the node name). */
export interface WorkerShuttingDownArgs {
  /** The POSIX signal received, e.g. "SIGTERM". */
  sig: string;
  /** "warm" or "cold". */
  how: "warm" | "cold";
  /** The exit status the worker will use. */
  exitcode: number;
}

/** workerProcessInit (sender: the node name). */
export interface WorkerProcessInitArgs {
  /** The process id. */
  pid: number;
  /** taskd: which pool's execution unit ("async", "threads"). */
  pool: string;
  /** taskd: the thread's id in a threads pool. */
  threadId?: number;
}

/** workerProcessShutdown (sender: the node name). */
export interface WorkerProcessShutdownArgs extends WorkerProcessInitArgs {
  exitcode: number;
}

/** heartbeatSent (sender: the worker). */
export interface HeartbeatSentArgs {
  /** taskd: the heartbeat event sent. */
  event?: unknown;
}

/** beatInit, beatEmbeddedInit (sender: the beat service). */
export interface BeatArgs {
  /** The beat service. */
  service?: unknown;
}

/** setupLogging: return `true` from a handler to configure logging yourself. */
export interface SetupLoggingArgs {
  loglevel: string;
  logfile?: string;
  /** The line layout (see LOG_FORMAT). */
  format: string;
  colorize: boolean;
}

/** afterSetupLogger and afterSetupTaskLogger. */
export interface AfterSetupLoggerArgs extends SetupLoggingArgs {
  /** The logger just set up; `logger.addHandler(fn)` adds a handler of structured records. */
  logger: ConfigurableLogger;
}

/** userPreloadOptions (sender: the command's name, e.g. "worker"). */
export interface UserPreloadOptionsArgs {
  app: App;
  /** Every parsed option, camelCased, including ones taskd does not know. */
  options: Record<string, unknown>;
}
