/**
 * Every signal taskd sends, with Celery's names in camelCase. docs/signals.md says where and
 * when each one fires; ./args.ts what each handler receives.
 * @module
 */
import { Signal } from "./signal.ts";
import type * as A from "./args.ts";

/** All signals, by name. */
export const signals = {
  // Task signals
  /** Before a task message is published, in the sending process. Sender: the task name. */
  beforeTaskPublish: new Signal<A.BeforeTaskPublishArgs>("beforeTaskPublish"),
  /** After the broker stored a task message, in the sending process. Sender: the task name. */
  afterTaskPublish: new Signal<A.AfterTaskPublishArgs>("afterTaskPublish"),
  /** Before a task runs, in the worker. Sender: the task. */
  taskPrerun: new Signal<A.TaskPrerunArgs>("taskPrerun"),
  /** After a task ran (whatever its outcome). Sender: the task. */
  taskPostrun: new Signal<A.TaskPostrunArgs>("taskPostrun"),
  /** When a task is retried. Sender: the task. */
  taskRetry: new Signal<A.TaskRetryArgs>("taskRetry"),
  /** When a task succeeded. Sender: the task. */
  taskSuccess: new Signal<A.TaskSuccessArgs>("taskSuccess"),
  /** When a task failed. Sender: the task. */
  taskFailure: new Signal<A.TaskFailureArgs>("taskFailure"),
  /** When taskd itself failed while running a task (e.g. the result could not be stored). */
  taskInternalError: new Signal<A.TaskInternalErrorArgs>("taskInternalError"),
  /** When a worker received a task message, before it runs. Sender: the node name. */
  taskReceived: new Signal<A.TaskReceivedArgs>("taskReceived"),
  /** When a task was revoked, expired or terminated. Sender: the task. */
  taskRevoked: new Signal<A.TaskRevokedArgs>("taskRevoked"),
  /** When a message named an unregistered task. */
  taskUnknown: new Signal<A.TaskUnknownArgs>("taskUnknown"),
  /** When a message was rejected (dead-lettered or requeued). */
  taskRejected: new Signal<A.TaskRejectedArgs>("taskRejected"),
  // App signals
  /** After the worker loaded the user's module. Sender: the app. */
  importModules: new Signal<A.ImportModulesArgs>("importModules"),
  // Worker signals
  /** Before the worker starts (Celery's celeryd_init). Sender: the node name. */
  celerydInit: new Signal<A.CelerydInitArgs>("celerydInit"),
  /** After the worker's queues are set up. Sender: the node name. */
  celerydAfterSetup: new Signal<A.CelerydAfterSetupArgs>("celerydAfterSetup"),
  /** Before the worker starts consuming. Sender: the worker. */
  workerInit: new Signal<A.WorkerArgs>("workerInit"),
  /** When the worker consumes and is ready. Sender: the worker. */
  workerReady: new Signal<A.WorkerArgs>("workerReady"),
  /** After each heartbeat event. Sender: the worker. */
  heartbeatSent: new Signal<A.HeartbeatSentArgs>("heartbeatSent"),
  /** When a shutdown begins. Sender: the node name. */
  workerShuttingDown: new Signal<A.WorkerShuttingDownArgs>("workerShuttingDown"),
  /** In each execution unit after it starts (the async pool: once, in the main thread). Sender: the node name. */
  workerProcessInit: new Signal<A.WorkerProcessInitArgs>("workerProcessInit"),
  /** In each execution unit before it stops (the async pool: once, after the last task). Sender: the node name. */
  workerProcessShutdown: new Signal<A.WorkerProcessShutdownArgs>("workerProcessShutdown"),
  /** When the worker stops. Sender: the worker. */
  workerShutdown: new Signal<A.WorkerArgs>("workerShutdown"),
  // Beat signals (docs/beat.md)
  /** When `taskd beat` starts a beat, before it fires anything. Sender: the Beat. */
  beatInit: new Signal<A.BeatArgs>("beatInit"),
  /** When `taskd worker -B` starts its beat. Sender: the Beat. */
  beatEmbeddedInit: new Signal<A.BeatArgs>("beatEmbeddedInit"),
  // Logging signals
  /** When logging is set up; a handler returning `true` takes over the setup. */
  setupLogging: new Signal<A.SetupLoggingArgs>("setupLogging"),
  /** After the worker's logger is set up. */
  afterSetupLogger: new Signal<A.AfterSetupLoggerArgs>("afterSetupLogger"),
  /** After the task logger is set up. */
  afterSetupTaskLogger: new Signal<A.AfterSetupLoggerArgs>("afterSetupTaskLogger"),
  // Command signals
  /** When the command line's options are parsed, with the options. */
  userPreloadOptions: new Signal<A.UserPreloadOptionsArgs>("userPreloadOptions"),
} as const;
