/**
 * Protocol version 1: a task message is routing metadata in NATS headers plus a body
 * `[args, kwargs, embed]`. A worker can route, expire, revoke or dead-letter a message from
 * its headers alone, without decoding the body. docs/PROTOCOL.md is the full description.
 * @module
 */
import { ProtocolError } from "../errors/errors.ts";
import { compress, type Compression, decompress, serializerByContentType, serializerByName } from "./codec.ts";

/** The protocol version this code writes and reads. */
export const PROTOCOL_VERSION = "1";

/** Header names of protocol v1. */
export const H = {
  protocol: "taskd-protocol",
  task: "taskd-task",
  id: "taskd-id",
  retries: "taskd-retries",
  eta: "taskd-eta",
  expires: "taskd-expires",
  rootId: "taskd-root-id",
  parentId: "taskd-parent-id",
  group: "taskd-group",
  origin: "taskd-origin",
  argsrepr: "taskd-argsrepr",
  kwargsrepr: "taskd-kwargsrepr",
  timelimit: "taskd-timelimit",
  ignoreResult: "taskd-ignore-result",
  replyTo: "taskd-reply-to",
  queue: "taskd-queue",
  requeues: "taskd-requeues",
  shadow: "taskd-shadow",
  signer: "taskd-signer",
  signature: "taskd-signature",
  contentType: "Content-Type",
  contentEncoding: "Content-Encoding",
  msgId: "Nats-Msg-Id",
  deadReason: "taskd-dead-reason",
  deadAt: "taskd-dead-at",
  deadSubject: "taskd-dead-subject",
  schedule: "taskd-schedule",
  scheduledFor: "taskd-scheduled-for",
  backfilled: "taskd-backfilled",
  /** W3C trace context of the sender's span (OpenTelemetry; src/app/tracing.ts). */
  traceparent: "traceparent",
  tracestate: "tracestate",
} as const;

/** What a message carries besides its arguments: callbacks and workflow steps. */
export interface Embed {
  /** Signatures to call with the result on success. */
  callbacks?: unknown[] | null;
  /** Signatures to call on failure. */
  errbacks?: unknown[] | null;
  /** The rest of a chain, to run after this task. */
  chain?: unknown[] | null;
  /** A chord's body and counter, when this task is part of a chord header. */
  chord?: unknown | null;
}

/** A task message, decoded. */
export interface TaskMessage {
  /** The task id (`taskd-id`): a UUID by default; KV-key characters `[-/_=.a-zA-Z0-9]`. */
  id: string;
  /** The task's registered name (`taskd-task`), e.g. `tasks.add`. */
  task: string;
  /** How many times it was retried before this attempt (`taskd-retries`): `0` the first time. */
  retries: number;
  /** The queue it is sent to (`taskd-queue`). */
  queue: string;
  /** Positional arguments (body). */
  args: unknown[];
  /** Keyword arguments (body): bound to the body's parameters by name, the others as one options object (docs/tasks.md). */
  kwargs: Record<string, unknown>;
  /** Callbacks and workflow steps (body). */
  embed: Embed;
  /** ISO 8601 time before which it must not run (`taskd-eta`). */
  eta?: string;
  /** ISO 8601 time after which it must not run: it then ends REVOKED (`taskd-expires`). */
  expires?: string;
  /** The id of the first task of its workflow (`taskd-root-id`). */
  rootId?: string;
  /** The id of the task that sent it (`taskd-parent-id`). */
  parentId?: string;
  /** The id of the group it belongs to (`taskd-group`). */
  group?: string;
  /** The sender, as `host/pid` (`taskd-origin`). */
  origin?: string;
  /** How the arguments appear in logs and events (`taskd-argsrepr`): the only way they do. */
  argsrepr?: string;
  /** How the keyword arguments appear in logs and events (`taskd-kwargsrepr`). */
  kwargsrepr?: string;
  /** The name logs and events show instead of the task's (`taskd-shadow`; Celery's `shadow`). */
  shadow?: string;
  /** `[soft, hard]` in seconds; `null` for none. */
  timelimit?: [number | null, number | null];
  /** The caller's choice to store no result (`taskd-ignore-result`); absent: the task's setting. */
  ignoreResult?: boolean;
  /** The sender's reply inbox (`taskd-reply-to`, `_INBOX.<token>`): where the ready result is also sent. */
  replyTo?: string;
  /** Extra user headers, passed through as they are. */
  headers?: Record<string, string>;
  /** De-duplication key (`Nats-Msg-Id`). @default `<id>:<retries>` */
  dedupeKey?: string;
}

/** An encoded message: headers and body bytes. */
export interface WireMessage {
  headers: Record<string, string>;
  data: Uint8Array;
}

/** How to encode a body. */
export interface EncodeOptions {
  /** Serializer name. @default "msgpack" */
  serializer?: string;
  /** Body compression. @default undefined (none) */
  compression?: Compression;
}

/** Encodes a task message for the wire. */
export function encodeTask(msg: TaskMessage, options: EncodeOptions = {}): WireMessage {
  const serializer = serializerByName(options.serializer ?? "msgpack");
  let data = serializer.encode([msg.args, msg.kwargs, msg.embed]);
  const headers: Record<string, string> = { ...msg.headers };
  headers[H.protocol] = PROTOCOL_VERSION;
  headers[H.task] = msg.task;
  headers[H.id] = msg.id;
  headers[H.retries] = String(msg.retries);
  headers[H.queue] = msg.queue;
  headers[H.contentType] = serializer.contentType;
  headers[H.msgId] = msg.dedupeKey ?? `${msg.id}:${msg.retries}`;
  if (options.compression) {
    data = compress(data, options.compression);
    headers[H.contentEncoding] = options.compression;
  }
  // In this order (a message's header block keeps it); one call each, no list built per message.
  optional(headers, H.eta, msg.eta);
  optional(headers, H.expires, msg.expires);
  optional(headers, H.rootId, msg.rootId);
  optional(headers, H.parentId, msg.parentId);
  optional(headers, H.group, msg.group);
  optional(headers, H.origin, msg.origin);
  optional(headers, H.argsrepr, msg.argsrepr);
  optional(headers, H.kwargsrepr, msg.kwargsrepr);
  optional(headers, H.shadow, msg.shadow);
  optional(headers, H.replyTo, msg.replyTo);
  optional(headers, H.timelimit, msg.timelimit ? msg.timelimit.map((v) => v ?? "").join(",") : undefined);
  optional(headers, H.ignoreResult, msg.ignoreResult === undefined ? undefined : msg.ignoreResult ? "1" : "0");
  return { headers, data };
}

/** Sets header `name` to `value` (on one line) unless it is absent or empty. */
function optional(headers: Record<string, string>, name: string, value: string | undefined): void {
  if (value !== undefined && value !== "") headers[name] = oneLine(value);
}

// Header values cannot hold line breaks; a repr is for people, so flatten it.
function oneLine(value: string): string {
  return /[\r\n]/.test(value) ? value.replace(/[\r\n]+/g, " ") : value;
}

/**
 * Reads one header; `undefined` when absent. Protocol header names are matched whatever their
 * case (`Taskd-Task` is `taskd-task`: docs/PROTOCOL.md "Header names"); a reader built on a
 * worker's header record (src/worker/headers.ts) has them filed in lower case already.
 */
export type HeaderReader = (name: string) => string | undefined;

/** The routing part of a message: everything but the body, read from headers only. */
export type TaskEnvelope = Omit<TaskMessage, "args" | "kwargs" | "embed">;

/** Reads the headers of a task message; throws {@link ProtocolError} when they are not v1. */
export function decodeEnvelope(get: HeaderReader): TaskEnvelope {
  const version = get(H.protocol);
  if (version === undefined) throw new ProtocolError("Cannot read message: it has no taskd-protocol header; it was not sent by taskd");
  if (version !== PROTOCOL_VERSION) {
    throw new ProtocolError(`Cannot read message: protocol version '${version}' is not supported (this worker speaks ${PROTOCOL_VERSION})`);
  }
  const task = get(H.task);
  const id = get(H.id);
  if (!task) throw new ProtocolError("Cannot read message: the taskd-task header is missing");
  if (!id) throw new ProtocolError("Cannot read message: the taskd-id header is missing", { taskName: task });
  const retries = Number(get(H.retries) ?? "0");
  if (!Number.isInteger(retries) || retries < 0) {
    throw new ProtocolError(`Cannot read message: taskd-retries must be a whole number: current value is '${get(H.retries)}'`, { taskName: task, taskId: id });
  }
  const tl = get(H.timelimit);
  const env: TaskEnvelope = {
    id,
    task,
    retries,
    queue: get(H.queue) ?? "default",
    eta: get(H.eta),
    expires: get(H.expires),
    rootId: get(H.rootId),
    parentId: get(H.parentId),
    group: get(H.group),
    origin: get(H.origin),
    argsrepr: get(H.argsrepr),
    kwargsrepr: get(H.kwargsrepr),
    shadow: get(H.shadow),
    replyTo: get(H.replyTo),
    ignoreResult: get(H.ignoreResult) === undefined ? undefined : get(H.ignoreResult) === "1",
  };
  if (tl) {
    const [soft, hard] = tl.split(",").map((s) => (s === "" ? null : Number(s)));
    env.timelimit = [soft ?? null, hard ?? null];
  }
  return env;
}

/** Decodes a body into `[args, kwargs, embed]`; throws {@link ProtocolError} when it cannot. */
export function decodeBody(
  get: HeaderReader,
  data: Uint8Array,
): Pick<TaskMessage, "args" | "kwargs" | "embed"> {
  const contentType = get(H.contentType) ?? "application/x-msgpack";
  const serializer = serializerByContentType(contentType);
  if (!serializer) throw new ProtocolError(`Cannot decode body: content type '${contentType}' has no registered serializer`);
  let body: unknown;
  try {
    const encoding = get(H.contentEncoding);
    body = serializer.decode(encoding ? decompress(data, encoding) : data);
  } catch (e) {
    throw new ProtocolError(`Cannot decode body as ${contentType}: ${(e as Error).message}`, { cause: e });
  }
  if (!Array.isArray(body) || body.length < 2 || !Array.isArray(body[0])) {
    throw new ProtocolError("Cannot decode body: expected [args, kwargs, embed] with args an array");
  }
  const [args, kwargs, embed] = body;
  if (kwargs !== null && kwargs !== undefined && (typeof kwargs !== "object" || Array.isArray(kwargs))) {
    throw new ProtocolError("Cannot decode body: kwargs must be an object or null");
  }
  return {
    args,
    kwargs: (kwargs ?? {}) as Record<string, unknown>,
    embed: (embed && typeof embed === "object" ? embed : {}) as Embed,
  };
}
