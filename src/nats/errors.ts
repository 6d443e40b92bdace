/**
 * Typed checks on the errors the NATS client throws: by JetStream API error code
 * (`JetStreamApiError.code`, the codes in `JetStreamApiCodes`) first, by message text only as a
 * last resort (errors that cross a thread or an older server's wording).
 * @module
 */
import { JetStreamApiCodes, JetStreamApiError } from "@nats-io/jetstream";

/** JetStream's "stream name already in use with a different configuration". */
const STREAM_NAME_EXIST = 10058;

function codeOf(e: unknown): number | undefined {
  if (e instanceof JetStreamApiError) return e.code;
  // deno-lint-ignore no-explicit-any
  const any = e as any;
  const code = any?.api_error?.err_code ?? any?.code;
  return typeof code === "number" ? code : undefined;
}

function says(e: unknown, pattern: RegExp): boolean {
  return pattern.test(String((e as Error)?.message ?? e));
}

/** True when a JetStream API error says the stream or consumer does not exist. */
export function isNotFound(e: unknown): boolean {
  const code = codeOf(e);
  if (code !== undefined) return code === JetStreamApiCodes.StreamNotFound || code === JetStreamApiCodes.ConsumerNotFound;
  return says(e, /not found/i);
}

/** True when a KV `update`/`create` lost a compare-and-set race (wrong last sequence, key exists). */
export function isCasConflict(e: unknown): boolean {
  const code = codeOf(e);
  if (code === JetStreamApiCodes.StreamWrongLastSequence || code === JetStreamApiCodes.StreamWrongLastSequenceUnknown) return true;
  return says(e, /wrong last sequence|key exists|already exists/i);
}

/** True when creating a stream (or bucket) failed because one exists with other settings. */
export function isExistingStream(e: unknown): boolean {
  return codeOf(e) === STREAM_NAME_EXIST || says(e, /already in use|different configuration/i);
}

/**
 * True when a stream has no message at the sequence asked for (deleted, or never there): a get
 * answers `NoMessageFound`; a delete answers its generic "delete failed" code with that text.
 */
export function isNoMessage(e: unknown): boolean {
  return codeOf(e) === JetStreamApiCodes.NoMessageFound || says(e, /no message found/i);
}
