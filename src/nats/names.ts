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
  prefix: string;
  tasksStream: string;
  deadStream: string;
  delayedStream: string;
  resultsBucket: string;
  revokedBucket: string;
  taskSubject(queue: string): string;
  deadSubject(queue: string): string;
  delayedSubject(queue: string): string;
  queueConsumer(queue: string): string;
  delayedConsumer: string;
  controlSubject: string;
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
    taskSubject: (q) => `${prefix}.tasks.${checkName("queue", q)}`,
    deadSubject: (q) => `${prefix}.dead.${q}`,
    delayedSubject: (q) => `${prefix}.delayed.${checkName("queue", q)}`,
    queueConsumer: (q) => `queue-${q}`,
    delayedConsumer: "scheduler",
    controlSubject: `${prefix}.control`,
    eventsSubject: `${prefix}.events`,
  };
}
