/**
 * A delivered message's headers as a plain record, read once per message. nats.js decodes a
 * header block into `MsgHdrs` by appending each line with a name check and a scan of every key
 * so far, and its `get()` lists and filters every key on each call; a worker reads a dozen
 * headers per message, so this reads the block once into a record instead: the first value of
 * each header. Names are kept as sent, except the protocol's own, which are read whatever their
 * case (docs/PROTOCOL.md "Header names"): `taskd-*` names are keyed in lower case
 * (`Taskd-Task` → `taskd-task`), `Content-Type` and `Content-Encoding` in their canonical form.
 * When the message does not expose its raw header block (another nats.js version), the record
 * is built from `m.headers`.
 * @module
 */
import type { JsMsg } from "@nats-io/jetstream";

const cache = new WeakMap<JsMsg, Record<string, string>>();
/** Records of messages that hold a header name more than once (the record keeps the first value). */
const repeated = new WeakSet<Record<string, string>>();
const decoder = new TextDecoder();
const UPPER = /[A-Z]/;

/** The raw header block of `m`, when its core message exposes one (nats.js 3.x `MsgImpl`). */
function rawHeaderBlock(m: JsMsg): Uint8Array | null | undefined {
  // deno-lint-ignore no-explicit-any
  const core = (m as any).msg;
  const hdr = core?._msg?.hdr;
  const data = core?._rdata;
  if (typeof hdr !== "number" || !(data instanceof Uint8Array)) return undefined;
  return hdr > -1 ? data.subarray(0, hdr) : null;
}

/**
 * The key a header name is filed under: `taskd-*` in lower case, `Content-Type` and
 * `Content-Encoding` canonical whatever their case, any other name unchanged. Cheap on the hot
 * path: one character test for most names, no allocation for names already in that form.
 */
export function headerKey(name: string): string {
  const c = name.charCodeAt(0) | 0x20;
  if (c === 0x74 /* t */) {
    if (name.startsWith("taskd-") && !UPPER.test(name)) return name;
    const lower = name.toLowerCase();
    return lower.startsWith("taskd-") ? lower : name;
  }
  if (c === 0x63 /* c */ && (name.length === 12 || name.length === 16)) {
    if (name === "Content-Type" || name === "Content-Encoding") return name;
    const lower = name.toLowerCase();
    if (lower === "content-type") return "Content-Type";
    if (lower === "content-encoding") return "Content-Encoding";
  }
  return name;
}
/** Header names filed by {@link headerKey}, by name as sent: a worker sees the same few names again and again. */
const keys = new Map<string, string>();

function keyOf(name: string): string {
  let k = keys.get(name);
  if (k === undefined) {
    k = headerKey(name);
    // Bounded: names a sender makes up per message must not grow it.
    if (keys.size < 256) keys.set(name, k);
  }
  return k;
}

/** Whether `c` is a character `String.prototype.trim` removes. */
function isTrimmed(c: number): boolean {
  if (c > 32 && c < 0xa0) return false;
  return c === 32 || (c >= 9 && c <= 13) || c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff;
}

function parseBlock(block: Uint8Array): Record<string, string> {
  const record: Record<string, string> = Object.create(null);
  // One string, read line by line in place: the first line is the status line (`NATS/1.0`,
  // with a code on status messages); a line without a name before a colon is skipped.
  const text = decoder.decode(block);
  const n = text.length;
  for (let at = text.indexOf("\r\n"); at >= 0 && at < n;) {
    const start = at + 2;
    let end = text.indexOf("\r\n", start);
    if (end < 0) end = n;
    at = end;
    const colon = text.indexOf(":", start);
    if (colon <= start || colon >= end) continue;
    const name = keyOf(text.slice(start, colon));
    if (record[name] !== undefined) {
      repeated.add(record);
      continue;
    }
    let a = colon + 1;
    let b = end;
    while (a < b && isTrimmed(text.charCodeAt(a))) a++;
    while (b > a && isTrimmed(text.charCodeAt(b - 1))) b--;
    record[name] = text.slice(a, b);
  }
  return record;
}

/** `m`'s headers, name → first value (names filed by {@link headerKey}; absent: `undefined`). Cached per message. */
export function headersOf(m: JsMsg): Record<string, string> {
  let record = cache.get(m);
  if (record) return record;
  const block = rawHeaderBlock(m);
  if (block !== undefined) {
    record = block === null ? Object.create(null) as Record<string, string> : parseBlock(block);
  } else {
    record = Object.create(null) as Record<string, string>;
    const h = m.headers;
    if (h) {
      for (const [name, v] of h) {
        const k = headerKey(name);
        if (v.length > 0 && record[k] === undefined) record[k] = v[0];
        else if (v.length > 0) repeated.add(record);
        if (v.length > 1) repeated.add(record);
      }
    }
  }
  cache.set(m, record);
  return record;
}

/** One header of `m`; `undefined` when absent or empty (as `m.headers?.get(name) || undefined`). */
export function headerOf(m: JsMsg, name: string): string | undefined {
  return headersOf(m)[name] || undefined;
}

/** Whether `m` holds some header name more than once ({@link headersOf} keeps the first value only). */
export function hasRepeatedHeaders(m: JsMsg): boolean {
  return repeated.has(headersOf(m));
}
