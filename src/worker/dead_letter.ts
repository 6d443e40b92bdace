/**
 * The FAILURE a dead-lettered message leaves under its task id, whatever made it unreadable
 * (no or another protocol version, no task header, a bad header value, a queue that is no
 * subject token): a sender waiting on that id learns why at once instead of at its timeout.
 * Only a message with no usable id (none, or one that is no KV key) leaves nothing, and so
 * does one a worker that takes only signed messages cannot verify: nothing of it is trusted,
 * not even its id (docs/PROTOCOL.md "Which failures produce a result"). The paths that read the envelope store
 * their FAILURE themselves; this is for the ones that could not.
 * @module
 */
import type { JsMsg } from "@nats-io/jetstream";
import type { App } from "../app/app.ts";
import { H } from "../protocol/message.ts";
import { checkTaskId } from "../protocol/result.ts";
import { ProtocolError } from "../errors/errors.ts";
import type { MessageVerifier } from "../protocol/signing.ts";
import { failureMeta, storeResult } from "./results.ts";
import { headersOf } from "./headers.ts";

/** What storing the FAILURE needs: the apps (by task name, else the fallback) and the worker's name. */
export interface DeadLetterContext {
  /** Registered tasks of every served app, by name (for the app whose bucket holds the result). */
  registry: Map<string, { app: App }>;
  /** The app used when the message names no known task. */
  fallbackApp: App;
  /** The worker's node name. */
  hostname: string;
  /** When messages must be signed: the trusted keys' verifier (an unverified message stores nothing). */
  verifier?: MessageVerifier;
}

/** The message's task id when it can be a result key, else `undefined`. */
export function usableTaskId(m: JsMsg): string | undefined {
  const id = headersOf(m)[H.id];
  if (!id) return undefined;
  try {
    return checkTaskId(id);
  } catch {
    return undefined;
  }
}

/**
 * Stores FAILURE (the error's type and message, e.g. `ProtocolError: Cannot read message:
 * protocol version '2' is not supported …`) under the message's task id and replies to its
 * `taskd-reply-to`, read from the raw headers; does nothing when the id is not usable. Never throws.
 */
export async function failDeadLetter(ctx: DeadLetterContext, m: JsMsg, error: unknown): Promise<void> {
  const id = usableTaskId(m);
  if (id === undefined) return;
  const h = headersOf(m);
  if (ctx.verifier?.refusal((name) => h[name] || undefined, m.data)) return;
  const task = h[H.task] ?? "";
  const retries = Number(h[H.retries] ?? 0);
  const app = ctx.registry.get(task)?.app ?? ctx.fallbackApp;
  const e = error instanceof Error ? error : new ProtocolError(String(error));
  await storeResult(app, failureMeta({ id, task, retries: Number.isInteger(retries) && retries >= 0 ? retries : 0 }, e, ctx.hostname), h[H.replyTo] || undefined);
}
