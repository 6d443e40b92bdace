/**
 * The broker: JetStream streams and consumers for tasks, delayed tasks and dead letters, and
 * publishing to them. Streams and consumers are created idempotently on first use, by clients
 * and workers alike, so the order in which they start does not matter; a worker also brings
 * existing streams to its configured bounds (src/nats/settings.ts, docs/limits.md).
 * @module
 */
import type { MsgHdrs, NatsConnection } from "@nats-io/nats-core";
import { headers as natsHeaders } from "@nats-io/nats-core";
import {
  AckPolicy,
  type Consumer,
  jetstream,
  type JetStreamClient,
  type JetStreamManager,
  jetstreamManager,
  type JsMsg,
  type PubAck,
  RetentionPolicy,
  type StreamConfig,
  StorageType,
} from "@nats-io/jetstream";
import { PayloadTooLargeError, QueueFullError } from "../errors/errors.ts";
import { H, type WireMessage } from "../protocol/message.ts";
import type { Names } from "./names.ts";
import { retryTransient } from "./retry.ts";
import { isNotFound } from "./errors.ts";
import { jsPublisher, toMsgHdrs } from "./jspublish.ts";
import { ensureStream, type StreamLimits } from "./settings.ts";
import { getLogger } from "../log/logger.ts";
import { DEFAULT_PRIORITY, levelSuffix } from "../protocol/flow.ts";

/** How long a queue consumer waits for an ack before redelivering (workers heartbeat well inside it). */
export const ACK_WAIT_MS = 30_000;
/**
 * How long a worker's pull request lives. The client sends idle heartbeats at half of it and
 * re-pulls after two are missed, so a pull lost with a dead server (the consumer's leader on a
 * cluster) is replaced within this time instead of the client's default 30 s.
 */
export const PULL_EXPIRES_MS = 5_000;
/**
 * The window in which `Nats-Msg-Id` de-duplicates publishes, in seconds (60). It must outlast
 * the longest gap between two sends of one id: a client's publish retried through an outage
 * (`PUBLISH_RETRY_MS`, 30 s) and a message republished after its worker died (`ACK_WAIT_MS`,
 * 30 s, before the redelivery). The server keeps each id of the window in memory (~250 bytes,
 * docs/limits.md), so the window times the send rate is its cost.
 */
export const DEFAULT_DEDUP_WINDOW = 60;
/**
 * Bytes the tasks stream and the delayed stream may each hold by default: no byte bound (-1),
 * because JetStream reserves a stream's `max_bytes` in the server's storage up front; the count
 * bound ({@link DEFAULT_QUEUE_MAX_COUNT}) and the server's own `max_file_store` bound them.
 */
export const DEFAULT_QUEUE_MAX_BYTES = -1;
/**
 * Messages the tasks stream and the delayed stream may each hold (10,000,000): when full, sends
 * are refused (discard new), never dropped. A count bound reserves no storage.
 */
export const DEFAULT_QUEUE_MAX_COUNT = 10_000_000;
/** Seconds dead letters are kept (7 days). */
export const DEFAULT_DEAD_LETTER_EXPIRES = 7 * 86_400;
/** Bytes the dead-letter stream may hold (128 MiB); the oldest dead letters go first. */
export const DEFAULT_DEAD_LETTER_MAX_BYTES = 128 * 1024 ** 2;

/** The bounds of the broker's streams (the App's settings; docs/limits.md). */
export interface BrokerLimits {
  /** JetStream replicas. @default 1 */
  replicas?: number;
  /** Seconds `Nats-Msg-Id` de-duplicates on the tasks and delayed streams. @default DEFAULT_DEDUP_WINDOW */
  dedupWindow?: number;
  /** Bytes the tasks stream and the delayed stream may each hold; -1: no bound. @default DEFAULT_QUEUE_MAX_BYTES */
  queueMaxBytes?: number;
  /** Messages the tasks stream and the delayed stream may each hold; -1: no bound. @default DEFAULT_QUEUE_MAX_COUNT */
  queueMaxCount?: number;
  /** Seconds dead letters are kept; 0: until purged. @default DEFAULT_DEAD_LETTER_EXPIRES */
  deadLetterExpires?: number;
  /** Bytes the dead-letter stream may hold; -1: no bound. @default DEFAULT_DEAD_LETTER_MAX_BYTES */
  deadLetterMaxBytes?: number;
}

/** Streams and consumers of one app prefix on one connection. */
export class Broker {
  readonly js: JetStreamClient;
  #jsm?: Promise<JetStreamManager>;
  #streams?: Promise<void>;
  readonly #consumers = new Map<string, Promise<void>>();

  readonly replicas: number;

  constructor(readonly nc: NatsConnection, readonly names: Names, readonly limits: BrokerLimits = {}) {
    this.js = jetstream(nc);
    this.replicas = limits.replicas ?? 1;
  }

  /** The JetStream manager, created once. */
  jsm(): Promise<JetStreamManager> {
    // A failed attempt (a timeout while a cluster elects its leader) is not kept: the next call tries again.
    this.#jsm ??= jetstreamManager(this.nc).catch((e) => {
      this.#jsm = undefined;
      throw e;
    });
    return this.#jsm;
  }

  /**
   * Creates the tasks, delayed and dead-letter streams if they are missing (once per broker);
   * on a connection that owns settings (a worker's), updates existing ones to the configured bounds.
   */
  ensureStreams(): Promise<void> {
    this.#streams ??= this.#createStreams().then(() => {
      this.#streamsReady = true;
    }, (e) => {
      this.#streams = undefined;
      throw e;
    });
    return this.#streams;
  }

  /** The streams are known to exist (publishes skip awaiting {@link ensureStreams}). */
  #streamsReady = false;

  async #createStreams(): Promise<void> {
    const jsm = await this.jsm();
    if (this.replicas > 1) warnUnsafeReplication(this.nc.info?.version, this.replicas);
    for (const s of this.streamLimits()) await ensureStream(this.nc, s.config, s.limits, { jsm, settings: s.settings });
  }

  /** Each stream's config and bounds, as this broker's settings make them. */
  streamLimits(): { config: Partial<StreamConfig> & { name: string }; limits: StreamLimits; settings: Record<string, string> }[] {
    const n = this.names;
    const l = this.limits;
    const queue: StreamLimits = {
      maxAgeSeconds: 0,
      maxBytes: l.queueMaxBytes ?? DEFAULT_QUEUE_MAX_BYTES,
      maxMsgs: l.queueMaxCount ?? DEFAULT_QUEUE_MAX_COUNT,
      discard: "new",
      replicas: this.replicas,
      duplicateWindowSeconds: l.dedupWindow ?? DEFAULT_DEDUP_WINDOW,
    };
    const queueSettings = { max_bytes: "queueMaxBytes", max_msgs: "queueMaxCount", duplicate_window: "dedupWindow", num_replicas: "replicas" };
    const deadAge = l.deadLetterExpires ?? DEFAULT_DEAD_LETTER_EXPIRES;
    const dedup = l.dedupWindow ?? DEFAULT_DEDUP_WINDOW;
    const dead: StreamLimits = {
      maxAgeSeconds: deadAge,
      maxBytes: l.deadLetterMaxBytes ?? DEFAULT_DEAD_LETTER_MAX_BYTES,
      maxMsgs: -1,
      discard: "old",
      replicas: this.replicas,
      // JetStream wants the dedup window no longer than max_age.
      duplicateWindowSeconds: deadAge > 0 ? Math.min(dedup, deadAge) : dedup,
    };
    const storage = StorageType.File;
    return [
      {
        config: { name: n.tasksStream, storage, subjects: [`${n.prefix}.tasks.>`], retention: RetentionPolicy.Workqueue },
        limits: queue,
        settings: queueSettings,
      },
      {
        config: { name: n.delayedStream, storage, subjects: [`${n.prefix}.delayed.>`], retention: RetentionPolicy.Workqueue },
        limits: queue,
        settings: queueSettings,
      },
      {
        config: { name: n.deadStream, storage, subjects: [`${n.prefix}.dead.>`], retention: RetentionPolicy.Limits },
        limits: dead,
        settings: { max_age: "deadLetterExpires", max_bytes: "deadLetterMaxBytes", duplicate_window: "dedupWindow", num_replicas: "replicas" },
      },
    ];
  }

  /**
   * Creates the durable pull consumer that every worker of `queue` shares, one per priority
   * level: `queue-<q>` on `<prefix>.tasks.<q>` for the default level, `queue-<q>=p<N>` on
   * `<prefix>.tasks.<q>.p<N>` for the others (docs/flow.md).
   */
  ensureQueueConsumer(queue: string, level = DEFAULT_PRIORITY): Promise<void> {
    const name = this.queueConsumerName(queue, level);
    let p = this.#consumers.get(name);
    if (!p) {
      p = this.#ensureConsumer(this.names.tasksStream, name, this.prioritySubject(queue, level));
      this.#consumers.set(name, p);
      p.catch(() => this.#consumers.delete(name));
    }
    return p;
  }

  /**
   * The durable consumer name of `queue` at priority `level`. `=` cannot occur in a queue name,
   * so `queue-a=p3` (queue `a`, level 3) never meets the consumer of a queue named `a-p3`.
   */
  queueConsumerName(queue: string, level = DEFAULT_PRIORITY): string {
    return `${this.names.queueConsumer(queue)}${level === DEFAULT_PRIORITY ? "" : `=p${level}`}`;
  }

  /** The subject of `queue` at priority `level` (checks the queue name). */
  prioritySubject(queue: string, level = DEFAULT_PRIORITY): string {
    return `${this.names.taskSubject(queue)}${levelSuffix(level)}`;
  }

  #waiting?: Promise<void>;
  /** Creates the stream of tasks waiting for a concurrency slot if it is missing (docs/flow.md). */
  ensureWaitingStream(): Promise<void> {
    // Parked tasks are never dropped: the queues' bounds (a count, sends refused when full).
    const [tasks] = this.streamLimits();
    this.#waiting ??= this.ensureStreams().then(async () => {
      await ensureStream(
        this.nc,
        { storage: StorageType.File, name: this.names.waitingStream, subjects: [`${this.names.waitingSubject}.>`], retention: RetentionPolicy.Limits },
        tasks.limits,
        { jsm: await this.jsm(), settings: tasks.settings },
      );
    }).catch((e) => {
      this.#waiting = undefined;
      throw e;
    });
    return this.#waiting;
  }

  /** Creates the scheduler's consumer on the delayed stream (no bound on ack-pending: see docs/delays.md). */
  ensureDelayedConsumer(): Promise<void> {
    return this.#ensureConsumer(this.names.delayedStream, this.names.delayedConsumer, `${this.names.prefix}.delayed.>`, -1);
  }

  async #ensureConsumer(stream: string, durable: string, filter: string, maxAckPending = 10_000): Promise<void> {
    await this.ensureStreams();
    const jsm = await this.jsm();
    try {
      await jsm.consumers.info(stream, durable);
    } catch (e) {
      if (!isNotFound(e)) throw e;
      await jsm.consumers.add(stream, {
        durable_name: durable,
        ack_policy: AckPolicy.Explicit,
        filter_subject: filter,
        ack_wait: ACK_WAIT_MS * 1e6,
        max_ack_pending: maxAckPending,
        max_deliver: -1,
      });
    }
  }

  /** The shared pull consumer of `queue` at priority `level`. */
  async queueConsumer(queue: string, level = DEFAULT_PRIORITY): Promise<Consumer> {
    await this.ensureQueueConsumer(queue, level);
    return this.js.consumers.get(this.names.tasksStream, this.queueConsumerName(queue, level));
  }

  /** The scheduler's consumer of delayed tasks. */
  async delayedConsumer(): Promise<Consumer> {
    await this.ensureDelayedConsumer();
    return this.js.consumers.get(this.names.delayedStream, this.names.delayedConsumer);
  }

  /**
   * Publishes an encoded message to `subject`, refusing one over the server's max_payload, and
   * retrying through a broker outage for up to `PUBLISH_RETRY_MS` (same `Nats-Msg-Id`: stored once).
   */
  async publish(subject: string, wire: WireMessage): Promise<PubAck> {
    const max = this.nc.info?.max_payload ?? 1024 * 1024;
    let headerBytes = 0;
    for (const k in wire.headers) headerBytes += k.length + wire.headers[k].length + 4;
    const size = wire.data.length + headerBytes;
    if (size > max) {
      throw new PayloadTooLargeError(
        `Cannot send ${wire.headers[H.task] ?? "message"}: it is ${size} bytes and the server's max_payload is ${max}; pass large data by reference (a URL or object key)`,
        { taskName: wire.headers[H.task], taskId: wire.headers[H.id] },
      );
    }
    const h = toMsgHdrs(wire.headers, wire.headers[H.msgId], H.msgId);
    const publisher = jsPublisher(this.nc);
    // Through an outage (restart, leader election) the same Nats-Msg-Id is sent again: stored once.
    try {
      return await retryTransient(() => {
        if (this.#streamsReady) return publisher.publish(subject, wire.data, h);
        return this.ensureStreams().then(() => publisher.publish(subject, wire.data, h));
      });
    } catch (e) {
      if (!/maximum (bytes|messages) exceeded/i.test(String((e as Error)?.message))) throw e;
      const stream = subject.startsWith(`${this.names.prefix}.delayed.`) ? this.names.delayedStream : this.names.tasksStream;
      throw new QueueFullError(
        `Cannot send ${wire.headers[H.task] ?? "message"}: ${stream} is full (${e instanceof Error ? e.message : e}; bounds queueMaxCount ${
          this.limits.queueMaxCount ?? DEFAULT_QUEUE_MAX_COUNT
        }, queueMaxBytes ${this.limits.queueMaxBytes ?? DEFAULT_QUEUE_MAX_BYTES}); start workers or raise the bound (taskd status shows the queues)`,
        { taskName: wire.headers[H.task], taskId: wire.headers[H.id], cause: e },
      );
    }
  }

  /**
   * Copies `m` to the dead-letter stream with `reason`, its original headers and body, then
   * acks it (or leaves it, when it was already acked).
   */
  async deadLetter(m: JsMsg, queue: string, reason: string, options: { acked?: boolean } = {}): Promise<void> {
    await this.deadLetterCopy({ subject: m.subject, data: m.data, headers: m.headers, stream: m.info.stream, seq: m.seq }, queue, reason);
    // Ack, not term: the copy is safe in the dead-letter stream, and nats-server 2.9 keeps a
    // terminated message in a work-queue stream forever (only an ack removes it).
    if (!options.acked) m.ack();
  }

  /**
   * Copies a message read from `stream` at `seq` (its subject, body and headers) to the
   * dead-letter stream of `queue` with `reason`; the caller removes the original.
   */
  async deadLetterCopy(m: { subject: string; data: Uint8Array; headers?: MsgHdrs; stream: string; seq: number }, queue: string, reason: string): Promise<void> {
    const h = natsHeaders();
    if (m.headers) {
      for (const [k, values] of m.headers) {
        if (k === H.msgId || k.startsWith("Nats-")) continue;
        for (const v of values) h.append(k, v);
      }
    }
    h.set(H.deadReason, oneLine(reason).slice(0, 2000));
    h.set(H.deadAt, new Date().toISOString());
    h.set(H.deadSubject, m.subject);
    await this.ensureStreams();
    // The original stream sequence makes re-dead-lettering the same message idempotent.
    await this.js.publish(this.names.deadSubject(safeToken(queue)), m.data, { headers: h, msgID: `dead:${m.stream}:${m.seq}` });
  }
}

function oneLine(s: string): string {
  return s.replace(/[\r\n]+/g, " ");
}

function safeToken(s: string): string {
  return /^[A-Za-z0-9_-]+$/.test(s) ? s : "invalid";
}

let warnedReplication = false;

/**
 * Whether nats-server `version` ("2.9.10" or "v2.9.10") is one whose replicated streams the
 * chaos soak saw lose acknowledged tasks: before 2.10 (docs/guarantees.md).
 */
export function losesReplicatedTasks(version: string | undefined): boolean {
  const [major, minor] = (version ?? "").replace(/^v/, "").split(".").map(Number);
  return major < 2 || (major === 2 && minor < 10);
}

/**
 * Says once per process that replicated streams on nats-server before 2.10 can lose tasks: the
 * chaos soak (docs/guarantees.md) saw 2.9.10's replicas disagree on what a stream sequence holds
 * after servers were killed, and acknowledged tasks vanish; 2.10.27 lost none under the same faults.
 */
function warnUnsafeReplication(version: string | undefined, replicas: number): void {
  if (warnedReplication || !losesReplicatedTasks(version)) return;
  warnedReplication = true;
  getLogger("taskd.broker").warn(
    `nats-server ${version} with replicated streams (replicas ${replicas}) can lose acknowledged tasks when servers crash and restart; run nats-server 2.10 or later for a replicated deployment (docs/guarantees.md, "Replicated streams need nats-server 2.10")`,
  );
}
