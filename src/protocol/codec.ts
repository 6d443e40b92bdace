/**
 * Body codecs: the serializers (msgpack by default, json, or one registered by the user) and
 * the optional gzip compression. Decoding never revives classes: msgpack records and
 * extensions other than dates are off, and `__proto__` keys are dropped.
 * @module
 */
import { Packr } from "msgpackr";
import { gunzipSync, gzipSync } from "node:zlib";

/** A body serializer: turns plain data into bytes and back. */
export interface Serializer {
  /** The MIME type written in the `Content-Type` header. */
  readonly contentType: string;
  /** Plain data to bytes. */
  encode(value: unknown): Uint8Array;
  /** Bytes to plain data. Must not run code found in the data. */
  decode(bytes: Uint8Array): unknown;
  /**
   * The encoding is secret (it encrypts): results of tasks sent with it are sealed with it too
   * (docs/security.md). @default false
   */
  readonly encrypts?: boolean;
}

const packr = new Packr({
  useRecords: false,
  mapsAsObjects: true,
  moreTypes: false,
  structuredClone: false,
  int64AsType: "number",
});

/** Removes `__proto__` and `constructor.prototype` paths so decoded data cannot pollute prototypes. */
export function sanitize(value: unknown, depth = 0): unknown {
  if (depth > 200 || value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = sanitize(value[i], depth + 1);
    return value;
  }
  if (value instanceof Date || value instanceof Uint8Array) return value;
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) {
    // A decoder handed us something that is not plain data: keep its own enumerable fields only.
    return sanitize({ ...(value as object) }, depth + 1);
  }
  for (const key of Object.keys(value)) {
    if (key === "__proto__" || key === "prototype" || key === "constructor") {
      delete (value as Record<string, unknown>)[key];
    } else {
      (value as Record<string, unknown>)[key] = sanitize((value as Record<string, unknown>)[key], depth + 1);
    }
  }
  return value;
}

/** msgpack through msgpackr, with records and class revival off. */
export const msgpack: Serializer = {
  contentType: "application/x-msgpack",
  encode: (value) => packr.pack(value),
  decode: (bytes) => sanitize(packr.unpack(bytes)),
};

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** JSON; dates travel as ISO strings. */
export const json: Serializer = {
  contentType: "application/json",
  encode: (value) => encoder.encode(JSON.stringify(value)),
  decode: (bytes) => sanitize(JSON.parse(decoder.decode(bytes))),
};

const serializers = new Map<string, Serializer>([["msgpack", msgpack], ["json", json]]);

/**
 * Registers a serializer under a name usable as the `serializer` option (e.g. an encrypting
 * codec). Workers must register the same name to read such messages.
 */
export function registerSerializer(name: string, serializer: Serializer): void {
  if (!name) throw new TypeError("Cannot register a serializer: its name must not be empty");
  serializers.set(name, serializer);
}

/** The serializer registered under `name`. */
export function serializerByName(name: string): Serializer {
  const s = serializers.get(name);
  if (!s) {
    throw new TypeError(
      `Cannot use serializer '${name}': it is not registered; use "msgpack", "json" or registerSerializer()`,
    );
  }
  return s;
}

/** The serializer that writes `contentType`, if one is registered. */
export function serializerByContentType(contentType: string): Serializer | undefined {
  for (const s of serializers.values()) if (s.contentType === contentType) return s;
  return undefined;
}

/** Compressions a message body can carry. */
export type Compression = "gzip";

/** Compresses a body. */
export function compress(bytes: Uint8Array, compression: Compression): Uint8Array {
  if (compression !== "gzip") throw new TypeError(`Cannot compress with '${compression}': only "gzip" is supported`);
  return new Uint8Array(gzipSync(bytes));
}

/** Decompresses a body, bounded so a small bomb cannot exhaust memory. */
export function decompress(bytes: Uint8Array, compression: string, maxBytes = 64 * 1024 * 1024): Uint8Array {
  if (compression !== "gzip") throw new TypeError(`Cannot decompress '${compression}': only "gzip" is supported`);
  return new Uint8Array(gunzipSync(bytes, { maxOutputLength: maxBytes }));
}
