/**
 * The names taskd uses on NATS, all derived from one prefix so several apps can share a server:
 * subjects `<prefix>.tasks.<queue>`, streams `<PREFIX>_TASKS`, buckets `<prefix>_results`.
 * @module
 */

const NAME = /^[A-Za-z0-9_-]+$/;

/** Checks a queue name or prefix: letters, digits, `_` and `-` only (it becomes a subject token). */
export function checkName(kind: string, value: string): string {
  if (!NAME.test(value)) {
    throw new TypeError(`Cannot use ${kind} '${value}': use only letters, digits, '_' and '-'`);
  }
  return value;
}

/** Every NATS name derived from a prefix. */
export interface Names {
  /** The prefix itself, e.g. `taskd`: the first token of every subject. */
  prefix: string;
  /** The work-queue stream of task messages: `<PREFIX>_TASKS`. */
  tasksStream: string;
  /** The stream of dead-lettered messages: `<PREFIX>_DEAD`. */
  deadStream: string;
  /** The stream holding messages with a future eta or countdown: `<PREFIX>_DELAYED`. */
  delayedStream: string;
  /** The KV bucket of task results: `<prefix>_results`. */
  resultsBucket: string;
  /** The KV bucket of revoked task ids: `<prefix>_revoked`. */
  revokedBucket: string;
  /** Unique markers (docs/flow.md): `<prefix>_unique`. */
  uniqueBucket: string;
  /** Concurrency leases (docs/flow.md): `<prefix>_leases`. */
  leasesBucket: string;
  /** Durable queue pauses (docs/flow.md): `<prefix>_paused`. */
  pausedBucket: string;
  /** The stream of tasks waiting for a concurrency slot: `<PREFIX>_WAITING`. */
  waitingStream: string;
  /** The subject prefix of waiting tasks: `<prefix>.waiting` (`.<queue>.<task>.<key>` follows). */
  waitingSubject: string;
  /** The subject tasks for `queue` are published on: `<prefix>.tasks.<queue>` (checks the name). */
  taskSubject(queue: string): string;
  /** The subject a dead message of `queue` is stored under: `<prefix>.dead.<queue>`. */
  deadSubject(queue: string): string;
  /** The subject a delayed task for `queue` waits on: `<prefix>.delayed.<queue>` (checks the name). */
  delayedSubject(queue: string): string;
  /** The durable consumer workers share for `queue`: `queue-<queue>`. */
  queueConsumer(queue: string): string;
  /** The durable consumer that republishes delayed tasks once due: `scheduler`. */
  delayedConsumer: string;
  /** The subject prefix of remote-control requests: `<prefix>.control` (`.<command>` follows). */
  controlSubject: string;
  /** The subject prefix of events: `<prefix>.events` (`.task.<kind>` or `.worker.<kind>` follows). */
  eventsSubject: string;
}

/** Builds the names for `prefix`. */
export function namesFor(prefix: string): Names {
  checkName("prefix", prefix);
  const P = prefix.toUpperCase();
  return {
    prefix,
    tasksStream: `${P}_TASKS`,
    deadStream: `${P}_DEAD`,
    delayedStream: `${P}_DELAYED`,
    resultsBucket: `${prefix}_results`,
    revokedBucket: `${prefix}_revoked`,
    uniqueBucket: `${prefix}_unique`,
    leasesBucket: `${prefix}_leases`,
    pausedBucket: `${prefix}_paused`,
    waitingStream: `${P}_WAITING`,
    waitingSubject: `${prefix}.waiting`,
    taskSubject: (q) => `${prefix}.tasks.${checkName("queue", q)}`,
    deadSubject: (q) => `${prefix}.dead.${q}`,
    delayedSubject: (q) => `${prefix}.delayed.${checkName("queue", q)}`,
    queueConsumer: (q) => `queue-${q}`,
    delayedConsumer: "scheduler",
    controlSubject: `${prefix}.control`,
    eventsSubject: `${prefix}.events`,
  };
}
