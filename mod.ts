/**
 * taskd: Celery's task model for TypeScript, on NATS JetStream.
 *
 * @example
 * ```ts
 * import { App } from "taskd";
 * export const app = new App("tasks");
 * export const add = app.task(function add(x: number, y: number) { return x + y; });
 *
 * // elsewhere, with a worker running `taskd worker ./tasks.ts`:
 * const r = await add.delay(2, 3);
 * console.log(await r.get({ timeout: 10 })); // 5
 * await app.close();
 * ```
 *
 * What only a worker process needs (the `Worker` class, pools) is in the second entry,
 * `taskd/worker` (worker.ts): importing `taskd` loads no worker code.
 * @module
 */
export { allApps, App } from "./src/app/app.ts";
export type { Based } from "./src/app/decorator.ts";
export type { AnyFn, BoundArgs, TaskClass, TaskDecoratorOptions, ValidatedTaskOptions } from "./src/app/decorator.ts";
export { Task } from "./src/app/task.ts";
export { sharedTask } from "./src/app/shared.ts";
export type { EffectiveOptions, RetryOptions, UpdateStateOptions } from "./src/app/task.ts";
export { ExceptionInfo, Request } from "./src/app/request.ts";
export type { DeliveryInfo, RequestClass, RequestFields, ScheduleInfo } from "./src/app/request.ts";
export { Schedules } from "./src/app/schedule/schedules.ts";
export type { ScheduleListing } from "./src/app/schedule/schedules.ts";
export type { UpsertResult } from "./src/app/schedule/store.ts";
export type { BeatScheduleEntry, Catchup, Named, Overlap, ScheduleCallOptions, ScheduleCommon, ScheduleDefinition, StoredSchedule } from "./src/app/schedule/definition.ts";
export type { Rule } from "./src/app/schedule/rules.ts";
export type { ApplyOptions } from "./src/app/call.ts";
export type { SendTaskArgs, TaskArgs, TaskResult } from "./src/app/by_name.ts";
export { DEFAULTS } from "./src/app/options.ts";
export type { AppConfig, ErrorClass, TaskOptions } from "./src/app/options.ts";
export { FlowKeyError } from "./src/app/flow.ts";
export type { FlowOptions, KeyFn, UniqueOptions } from "./src/app/flow.ts";
export type { PauseEntry } from "./src/nats/pause.ts";
export type { QueueStats } from "./src/nats/queues.ts";
export { backoffDelay } from "./src/app/backoff.ts";
export { AsyncResult } from "./src/result/async_result.ts";
export type { GetOptions, ResultOwner } from "./src/result/async_result.ts";
export type { CanvasOwner } from "./src/nats/canvas_store.ts";
export { EagerResult } from "./src/result/eager_result.ts";
export { EXCEPTION_STATES, PROPAGATE_STATES, READY_STATES, states, UNREADY_STATES } from "./src/protocol/states.ts";
export type { BuiltinState, State } from "./src/protocol/states.ts";
export { TaskdError } from "./src/errors/base.ts";
export type { TaskdErrorOptions } from "./src/errors/base.ts";
export { Ignore, Reject, Retry } from "./src/errors/semipredicates.ts";
export type { RejectOptions, RetryInfo } from "./src/errors/semipredicates.ts";
export {
  BrokerError,
  MaxRetriesExceededError,
  NotRegistered,
  PayloadTooLargeError,
  ProtocolError,
  QueueFullError,
  SoftTimeLimitExceeded,
  SyncSubtaskError,
  TaskError,
  TaskRevokedError,
  TimeLimitExceeded,
  TimeoutError,
  ModuleLoadError,
  WorkerLostError,
} from "./src/errors/errors.ts";
export type { SerializedError } from "./src/errors/errors.ts";
export { TaskValidationError } from "./src/errors/validation.ts";
export type { IssuePathItem, PlainIssue, PlainPathItem, TaskValidationErrorOptions, ValidationIssue, ValidationTarget } from "./src/errors/validation.ts";
export type {
  AnySchema,
  BodyArgs,
  BodyReturn,
  Dumped,
  Fn,
  InputOf,
  OutputOf,
  Returned,
  SchemaInputs,
  SchemaOutputs,
  TrailingOptional,
  Unvalidated,

} from "./src/validate/types.ts";
export type { ValidateConfig, ValidateContext } from "./src/validate/validate.ts";
export { Signal } from "./src/signals/signal.ts";
export type { ConnectOptions, SignalHandler } from "./src/signals/signal.ts";
export { signals } from "./src/signals/signals.ts";
export type * from "./src/signals/args.ts";
export { addLogHandler, getLogger, getLogLevel, getTaskLogger, LOG_FORMAT, LOG_LEVELS, setLogFile, setLogLevel, setLogSink } from "./src/log/logger.ts";
export type { Logger, LogHandler, LogLevel, LogRecord } from "./src/log/logger.ts";
export { setupLogging } from "./src/log/setup.ts";
export type { ConfigurableLogger, LoggingOptions, LoggingSetup } from "./src/log/setup.ts";
export { registerCompression, registerSerializer } from "./src/protocol/codec.ts";
export { aesGcmSerializer } from "./src/protocol/encryption.ts";
export type { AesGcmOptions } from "./src/protocol/encryption.ts";
export type { SigningOptions } from "./src/protocol/signing.ts";
export type { Compression, Compressor, Serializer } from "./src/protocol/codec.ts";
export type { ResultBackend } from "./src/nats/result_store.ts";
export type { ResultMeta } from "./src/protocol/result.ts";
export type { BrokerAuthOptions } from "./src/nats/connection.ts";
export type { Names } from "./src/nats/names.ts";
export type { Embed, TaskMessage } from "./src/protocol/message.ts";
export { Signature, signature } from "./src/app/signature.ts";
export type { SignatureData, SignatureInit, SignatureOptions, SubtaskType, TailOf } from "./src/app/signature.ts";
export { Chain, chain } from "./src/canvas/chain.ts";
export { Group, group } from "./src/canvas/group.ts";
export { Chord, chord } from "./src/canvas/chord.ts";
export { GroupResult } from "./src/result/group_result.ts";
export { ChainError, ChordError } from "./src/canvas/errors.ts";
export type { MemberFailure } from "./src/canvas/errors.ts";
export { chordProgress } from "./src/canvas/chord_state.ts";
export type { ChordProgress } from "./src/canvas/chord_state.ts";
export { Batches, SimpleRequest } from "./src/app/batches.ts";
export { parseRate } from "./src/protocol/rate.ts";
export { Control, DEFAULT_CONTROL_TIMEOUT, Inspect } from "./src/control/client.ts";
export type { BroadcastOptions, ControlOwner } from "./src/control/client.ts";
export { CONTROL_COMMANDS } from "./src/control/protocol.ts";
export type { ControlCommand, ControlReply, ControlTarget, TaskInfo } from "./src/control/protocol.ts";
export { EventReceiver } from "./src/events/receiver.ts";
export { TASK_EVENTS, SCHEDULE_EVENTS, WORKER_EVENTS } from "./src/events/event.ts";
export type { EventType, TaskdEvent } from "./src/events/event.ts";
export { formatEvent } from "./src/events/format.ts";
export type { Outcome, TraceHooks } from "./src/app/trace.ts";
