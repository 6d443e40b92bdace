/**
 * The named arguments each signal's handlers receive: Celery's names in camelCase, plus a few
 * taskd adds (marked). Handlers get `signal` and `sender` too, and must tolerate keys added
 * later. docs/signals.md says where and when each signal fires.
 * @module
 */
import type { Retry } from "../errors/semipredicates.ts";
import type { TaskMessage } from "../protocol/message.ts";

/**
 * The classes that signal arguments name (the task, its request, the app, the worker …).
 * Empty here, so that this folder imports no layer above it; the layers that define those
 * classes fill it in by declaration merging (`declare module` at the end of src/app/app.ts,
 * src/log/setup.ts and src/worker/worker.ts), so handlers get the real classes' types.
 */
// deno-lint-ignore no-empty-interface
export interface SignalTypes {}

/** The class registered under `K` in {@link SignalTypes}, else the structural `Fallback`. */
export type Registered<K extends string, Fallback> = SignalTypes extends Record<K, infer T> ? T : Fallback;
/** The app in signal arguments: `App`. */
export type SignalApp = Registered<"app", { readonly main: string }>;
/** An app's settings in signal arguments: `AppConfig`. */
export type SignalAppConfig = Registered<"appConfig", Record<string, unknown>>;
/** An error's details in signal arguments: `ExceptionInfo`. */
export type SignalExceptionInfo = Registered<"exceptionInfo", { readonly type: string; readonly traceback: string; readonly exception: unknown }>;
/** A request in signal arguments: `Request`. */
export type SignalRequest = Registered<"request", { readonly id: string }>;
/** A task in signal arguments: `Task`. */
export type SignalTask = Registered<"task", { readonly name: string }>;
/** A logger in signal arguments: `ConfigurableLogger`. */
export type SignalLogger = Registered<"logger", { addHandler(fn: (record: unknown) => void): void }>;
/** The worker in signal arguments: `Worker` (from `taskd/worker`). */
export type SignalWorker = Registered<"worker", { readonly hostname: string }>;
/** A worker's options in signal arguments: `WorkerOptions`. */
export type SignalWorkerOptions = Registered<"workerOptions", Record<string, unknown>>;

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
  /** The task's id. */
  taskId: string;
  /** The task object. */
  task: SignalTask;
  /** Positional arguments. */
  args: unknown[];
  /** Keyword arguments. */
  kwargs: Record<string, unknown>;
  /** taskd: the request (`task.request` inside the run). */
  request: SignalRequest;
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
  /** The request of the run. */
  request: SignalRequest;
  /** The Retry thrown; `reason.exc` is the error that caused it. */
  reason: Retry;
  /** The error, its type and stack. */
  einfo: SignalExceptionInfo;
  /** taskd: the task and its id. */
  task: SignalTask;
  /** The task's id. */
  taskId: string;
}

/** taskSuccess. */
export interface TaskSuccessArgs {
  /** The return value. */
  result: unknown;
  /** taskd: the task, its id and request. */
  task: SignalTask;
  /** The task's id. */
  taskId: string;
  /** The request of the run. */
  request: SignalRequest;
}

/** taskFailure. */
export interface TaskFailureArgs {
  /** The task's id. */
  taskId: string;
  /** The error thrown. */
  exception: unknown;
  /** Positional arguments. */
  args: unknown[];
  /** Keyword arguments. */
  kwargs: Record<string, unknown>;
  /** The stack, as text (Celery passes a traceback object). */
  traceback: string;
  /** The error, its type and stack. */
  einfo: SignalExceptionInfo;
  /** taskd: the task and its request. */
  task: SignalTask;
  /** The request of the run. */
  request: SignalRequest;
}

/** taskInternalError: taskd itself failed around a task. */
export interface TaskInternalErrorArgs {
  /** The task's id. */
  taskId?: string;
  /** Positional arguments, when known. */
  args?: unknown[];
  /** Keyword arguments, when known. */
  kwargs?: Record<string, unknown>;
  /** The request, when one was built. */
  request?: SignalRequest;
  /** The error thrown. */
  exception: unknown;
  /** Its stack, as text. */
  traceback?: string;
  /** What is known about it. */
  einfo?: SignalExceptionInfo;
  /** The raw message, when the error concerns one. */
  message?: unknown;
}

/** taskReceived. */
export interface TaskReceivedArgs {
  /** The request about to run (the same object the task sees as `task.request`). */
  request: SignalRequest;
}

/** taskRevoked. */
export interface TaskRevokedArgs {
  /** The request that will not run (args and kwargs empty: the body is not decoded). */
  request: SignalRequest;
  /** True when a running task was stopped. */
  terminated: boolean;
  /** The signal used to stop it, when terminated. */
  signum: string | number | null;
  /** True when it expired rather than being revoked. */
  expired: boolean;
}

/** taskUnknown. */
export interface TaskUnknownArgs {
  /** The task name in the message. */
  name: string;
  /** The task id in the message. */
  id: string;
  /** The raw JetStream message. */
  message: unknown;
  /** The error. */
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
  /** The app. */
  app: SignalApp;
  /** taskd: the absolute path of the module loaded. */
  module: string;
}

/** celerydInit (sender: the node name). */
export interface CelerydInitArgs {
  /** The Worker. */
  instance: SignalWorker;
  /** The first app's config. */
  conf: SignalAppConfig;
  /** The worker's options. */
  options: SignalWorkerOptions;
}

/** celerydAfterSetup (sender: the node name). */
export interface CelerydAfterSetupArgs {
  /** The Worker. */
  instance: SignalWorker;
  /** The first app's config. */
  conf: SignalAppConfig;
}

/** workerInit, workerReady, workerShutdown (sender: the worker). */
export interface WorkerArgs {
  /** taskd: the worker (also the sender). */
  worker: SignalWorker;
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
  /** The exit status. */
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
  /** The level in force, lowercase. */
  loglevel: string;
  /** The log file, when lines go to one. */
  logfile?: string;
  /** The line layout (see LOG_FORMAT). */
  format: string;
  /** Whether lines are coloured. */
  colorize: boolean;
}

/** afterSetupLogger and afterSetupTaskLogger. */
export interface AfterSetupLoggerArgs extends SetupLoggingArgs {
  /** The logger just set up; `logger.addHandler(fn)` adds a handler of structured records. */
  logger: SignalLogger;
}

/** userPreloadOptions (sender: the command's name, e.g. "worker"). */
export interface UserPreloadOptionsArgs {
  /** The app. */
  app: SignalApp;
  /** Every parsed option, camelCased, including ones taskd does not know. */
  options: Record<string, unknown>;
}
