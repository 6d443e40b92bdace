/**
 * Every signal taskd sends, with Celery's names in camelCase. docs/signals.md says where and
 * when each one fires and what it receives.
 * @module
 */
import { Signal } from "./signal.ts";

type Args = Record<string, unknown>;

/** All signals, by name. */
export const signals = {
  // Task signals
  /** Before a task message is published, in the sending process. Sender: the task name. */
  beforeTaskPublish: new Signal<Args>("beforeTaskPublish"),
  /** After the broker stored a task message, in the sending process. Sender: the task name. */
  afterTaskPublish: new Signal<Args>("afterTaskPublish"),
  /** Before a task runs, in the worker. Sender: the task. */
  taskPrerun: new Signal<Args>("taskPrerun"),
  /** After a task ran (whatever its outcome). Sender: the task. */
  taskPostrun: new Signal<Args>("taskPostrun"),
  /** When a task is retried. Sender: the task. */
  taskRetry: new Signal<Args>("taskRetry"),
  /** When a task succeeded. Sender: the task. */
  taskSuccess: new Signal<Args>("taskSuccess"),
  /** When a task failed. Sender: the task. */
  taskFailure: new Signal<Args>("taskFailure"),
  /** When taskd itself failed while running a task (e.g. the result could not be stored). */
  taskInternalError: new Signal<Args>("taskInternalError"),
  /** When a worker received a task message. Sender: the consumer. */
  taskReceived: new Signal<Args>("taskReceived"),
  /** When a task was revoked or expired. Sender: the task. */
  taskRevoked: new Signal<Args>("taskRevoked"),
  /** When a message named an unregistered task. */
  taskUnknown: new Signal<Args>("taskUnknown"),
  /** When a message was rejected (dead-lettered or requeued). */
  taskRejected: new Signal<Args>("taskRejected"),
  // App signals
  /** When the worker loads the user's module. */
  importModules: new Signal<Args>("importModules"),
  // Worker signals
  /** Before the worker starts (Celery's celeryd_init). Sender: the node name. */
  celerydInit: new Signal<Args>("celerydInit"),
  /** After the worker's queues are set up. Sender: the worker. */
  celerydAfterSetup: new Signal<Args>("celerydAfterSetup"),
  /** Before the worker starts consuming. Sender: the worker. */
  workerInit: new Signal<Args>("workerInit"),
  /** When the worker consumes and is ready. Sender: the worker. */
  workerReady: new Signal<Args>("workerReady"),
  /** After each heartbeat event. Sender: the worker. */
  heartbeatSent: new Signal<Args>("heartbeatSent"),
  /** When a shutdown begins. Sender: the node name. */
  workerShuttingDown: new Signal<Args>("workerShuttingDown"),
  /** In each execution unit (thread) after it starts. */
  workerProcessInit: new Signal<Args>("workerProcessInit"),
  /** In each execution unit before it stops. */
  workerProcessShutdown: new Signal<Args>("workerProcessShutdown"),
  /** When the worker stops. Sender: the worker. */
  workerShutdown: new Signal<Args>("workerShutdown"),
  // Beat signals (beat is later work; declared so handlers can be connected)
  /** When a beat scheduler starts. */
  beatInit: new Signal<Args>("beatInit"),
  /** When a beat scheduler embedded in a worker starts. */
  beatEmbeddedInit: new Signal<Args>("beatEmbeddedInit"),
  // Logging signals
  /** When logging is set up; a handler returning `true` takes over the setup. */
  setupLogging: new Signal<Args>("setupLogging"),
  /** After the worker's logger is set up. */
  afterSetupLogger: new Signal<Args>("afterSetupLogger"),
  /** After the task logger is set up. */
  afterSetupTaskLogger: new Signal<Args>("afterSetupTaskLogger"),
  // Command signals
  /** When the command line's options are parsed, with the options. */
  userPreloadOptions: new Signal<Args>("userPreloadOptions"),
} as const;
