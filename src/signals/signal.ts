/**
 * `Signal`: Celery's dispatch model in TypeScript. Handlers are connected with an optional
 * sender filter and receive one object of named arguments (Celery's names, camelCased); a
 * handler that throws is logged and never stops the others or the worker.
 * @module
 */

/** A signal handler: one object of named arguments, plus `signal` and `sender`. */
export type SignalHandler<A> = (args: A & { signal: Signal<A>; sender: unknown }) => unknown;

/** Options of {@link Signal.connect}. */
export interface ConnectOptions {
  /**
   * Call the handler only when this sender sends: a task name or task object for task
   * signals, a hostname for worker signals. @default undefined (every sender)
   */
  sender?: unknown;
  /** Disconnect after the first call. @default false */
  once?: boolean;
}

interface Receiver<A> {
  handler: SignalHandler<A>;
  sender?: unknown;
  once: boolean;
}

/**
 * Where handler errors are reported: the console until taskd's log installs itself
 * (src/log/logger.ts calls {@link setHandlerErrorReporter}), so this folder imports no other.
 */
export let reportHandlerError = (signal: string, error: unknown): void => {
  console.error(`a ${signal} handler threw; taskd carries on:`, error);
};

/** Replaces how handler errors are reported. */
export function setHandlerErrorReporter(fn: (signal: string, error: unknown) => void): void {
  reportHandlerError = fn;
}

function senderMatches(filter: unknown, sender: unknown): boolean {
  if (filter === undefined) return true;
  if (filter === sender) return true;
  // A filter given by name matches the object that has it: a task name matches the task, a
  // node name matches the worker (whose `hostname` it is), and the other way round.
  const keys = (x: unknown): unknown[] => {
    if (typeof x === "string") return [x];
    const o = x as { name?: unknown; hostname?: unknown } | null;
    return o && typeof o === "object" ? [o.name, o.hostname].filter((k) => typeof k === "string") : [];
  };
  const f = keys(filter);
  return keys(sender).some((k) => f.includes(k));
}

/**
 * A named signal.
 * @example
 * ```ts
 * signals.taskPrerun.connect(({ taskId, task }) => console.log("starting", task.name, taskId));
 * ```
 */
export class Signal<A = Record<string, unknown>> {
  readonly #receivers: Receiver<A>[] = [];

  /**
   * A signal nobody listens to yet.
   * @param name Celery's name in camelCase, e.g. `taskPrerun`.
   */
  constructor(readonly name: string) {}

  /** Connects `handler`; returns a function that disconnects it. */
  connect(handler: SignalHandler<A>, options: ConnectOptions = {}): () => void {
    if (typeof handler !== "function") throw new TypeError(`Cannot connect to ${this.name}: the handler must be a function`);
    this.#receivers.push({ handler, sender: options.sender, once: options.once ?? false });
    return () => this.disconnect(handler, options);
  }

  /** Disconnects `handler` (for the given sender filter, when one is given). Returns whether one was removed. */
  disconnect(handler: SignalHandler<A>, options: { sender?: unknown } = {}): boolean {
    const i = this.#receivers.findIndex((r) => r.handler === handler && (options.sender === undefined || r.sender === options.sender));
    if (i < 0) return false;
    this.#receivers.splice(i, 1);
    return true;
  }

  /** Whether any handler is connected (lets hot paths skip building arguments). */
  get hasReceivers(): boolean {
    return this.#receivers.length > 0;
  }

  /**
   * Calls every matching handler in the order connected, awaiting async ones; returns
   * `[handler, result]` pairs (a handler that threw gives its error). Errors are reported
   * through taskd's log, never thrown.
   */
  async send(sender: unknown, args: A): Promise<[SignalHandler<A>, unknown][]> {
    if (this.#receivers.length === 0) return [];
    const out: [SignalHandler<A>, unknown][] = [];
    for (const r of [...this.#receivers]) {
      if (!senderMatches(r.sender, sender)) continue;
      if (r.once) this.disconnect(r.handler, { sender: r.sender });
      try {
        out.push([r.handler, await r.handler({ ...args, signal: this, sender })]);
      } catch (e) {
        reportHandlerError(this.name, e);
        out.push([r.handler, e]);
      }
    }
    return out;
  }
}
