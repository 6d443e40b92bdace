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

/** Compressions a message body can carry: "gzip" built in, others by {@link registerCompression}. */
export type Compression = "gzip" | (string & Record<never, never>);

/** A body compression (Celery's compression registry, kombu's `register`). */
export interface Compressor {
  /** Bytes to compressed bytes. */
  compress(bytes: Uint8Array): Uint8Array;
  /** Compressed bytes back; must refuse to produce more than `maxBytes` (a decompression bomb). */
  decompress(bytes: Uint8Array, maxBytes: number): Uint8Array;
}

const compressors = new Map<string, Compressor>([
  ["gzip", {
    compress: (bytes) => new Uint8Array(gzipSync(bytes)),
    decompress: (bytes, maxBytes) => new Uint8Array(gunzipSync(bytes, { maxOutputLength: maxBytes })),
  }],
]);

/**
 * Registers a body compression under `name` (written in `Content-Encoding`), on the client and
 * in the task module the worker loads, as serializers are.
 * @example
 * ```ts
 * import { brotliCompressSync, brotliDecompressSync } from "node:zlib";
 * registerCompression("br", {
 *   compress: (b) => new Uint8Array(brotliCompressSync(b)),
 *   decompress: (b, maxBytes) => new Uint8Array(brotliDecompressSync(b, { maxOutputLength: maxBytes })),
 * });
 * ```
 */
export function registerCompression(name: string, compressor: Compressor): void {
  if (!/^[a-z0-9][a-z0-9.+-]*$/i.test(name)) throw new TypeError(`Cannot register compression '${name}': use letters, digits and . + - only`);
  compressors.set(name, compressor);
}

function compressor(name: string, verb: string): Compressor {
  const c = compressors.get(name);
  if (!c) throw new TypeError(`Cannot ${verb} '${name}': no such compression is registered (known: ${[...compressors.keys()].join(", ")}); registerCompression() it on both sides`);
  return c;
}

/** Compresses a body. */
export function compress(bytes: Uint8Array, compression: Compression): Uint8Array {
  return compressor(compression, "compress with").compress(bytes);
}

/** Decompresses a body, bounded so a small bomb cannot exhaust memory. */
export function decompress(bytes: Uint8Array, compression: string, maxBytes = 64 * 1024 * 1024): Uint8Array {
  const out = compressor(compression, "decompress").decompress(bytes, maxBytes);
  if (out.length > maxBytes) throw new RangeError(`Cannot decompress: the body is larger than ${maxBytes} bytes`);
  return out;
}
