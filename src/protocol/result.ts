/**
 * The stored result format: what a worker writes under a task id in the results bucket and
 * what every client reads (docs/PROTOCOL.md "Results"). Pure data rules: the task-id rule
 * (an id must be a KV key), the entry's fields and how they are encoded, and which reply
 * subjects a worker may answer on.
 * @module
 */
import { msgpack, type Serializer, serializerByContentType } from "./codec.ts";
import type { State } from "./states.ts";

/** What the backend stores for a task. */
export interface ResultMeta {
  /** The task's state. */
  status: State;
  /** The return value (SUCCESS), the serialized error (FAILURE, RETRY, REVOKED), or custom meta. */
  result: unknown;
  /** The remote stack, for failures. */
  traceback?: string;
  /** When the task reached a ready state (ISO). */
  dateDone?: string;
  /** The task's id. */
  taskId: string;
  /** The task's name. */
  taskName?: string;
  /** How many times it was retried so far. */
  retries?: number;
  /** The worker's node name. */
  worker?: string;
  /** Ids of tasks it started (chords, groups). */
  children?: string[];
  /** The result and traceback, sealed by an encrypting serializer (see {@link sealMeta}). */
  sealed?: Uint8Array;
  /** The content type of the serializer that sealed them. */
  sealedAs?: string;
}

const KEY = /^[-/_=.a-zA-Z0-9]+$/;

/** Checks that a task id can be a KV key. */
export function checkTaskId(id: string): string {
  if (!KEY.test(id) || id.startsWith(".") || id.endsWith(".")) {
    throw new TypeError(`Cannot use task id '${id}': use letters, digits and - / _ = . only`);
  }
  return id;
}

/**
 * Seals the result and traceback of `meta` with an encrypting serializer: they travel and rest
 * as `sealed` bytes (`sealedAs` names the content type), while the state, ids and times stay
 * readable for routing and monitoring. A reader with the serializer registered opens them.
 */
export function sealMeta(meta: ResultMeta, serializer: Serializer): ResultMeta {
  const { result, traceback, ...rest } = meta;
  return { ...rest, result: null, sealed: serializer.encode({ result, traceback }), sealedAs: serializer.contentType };
}

function unseal(meta: ResultMeta): ResultMeta {
  const serializer = serializerByContentType(meta.sealedAs!);
  if (!serializer) {
    throw new TypeError(`Cannot read the result of ${meta.taskName ?? "task"}[${meta.taskId}]: it is sealed as ${meta.sealedAs}; register that serializer (registerSerializer) in this process`);
  }
  const opened = serializer.decode(meta.sealed!) as { result: unknown; traceback?: string };
  const { sealed: _s, sealedAs: _a, ...rest } = meta;
  return { ...rest, result: opened.result, ...(opened.traceback !== undefined ? { traceback: opened.traceback } : {}) };
}

/** Decodes a stored result entry; throws a `TypeError` when the bytes are not one. */
export function decodeMeta(bytes: Uint8Array): ResultMeta {
  const meta = msgpack.decode(bytes) as ResultMeta;
  if (!meta || typeof meta !== "object" || typeof meta.status !== "string") {
    throw new TypeError("Cannot read a stored result: it is not a taskd result entry");
  }
  return meta.sealedAs ? unseal(meta) : meta;
}

// A reply inbox a worker accepts: `_INBOX.<one token>` (never a wildcard, never an API subject a
// sender could aim a worker's permissions at).
const REPLY_INBOX = /^_INBOX\.[A-Za-z0-9_-]+$/;

/** Whether a worker may send a result under `inbox` (a `taskd-reply-to` value: `_INBOX.<token>`). */
export function isReplySubject(inbox: string | undefined): inbox is string {
  return typeof inbox === "string" && inbox.length <= 128 && REPLY_INBOX.test(inbox);
}

