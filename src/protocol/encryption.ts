/**
 * An encrypting body codec: AES-256-GCM around another serializer (msgpack by default), for
 * `registerSerializer()`. The broker then stores and forwards only ciphertext; routing headers
 * (task name, id, argsrepr…) stay readable, so workers can still route, expire and dead-letter.
 * Serializers are synchronous (they run inside encode/decode of every message), so this uses
 * `node:crypto`'s AES-GCM — the same algorithm WebCrypto offers, available in Bun and Deno —
 * rather than `crypto.subtle`, whose calls are all asynchronous. See docs/security.md.
 * @module
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { msgpack, type Serializer } from "./codec.ts";

/** Options of {@link aesGcmSerializer}. */
export interface AesGcmOptions {
  /** The 256-bit key: 32 bytes, or those bytes in base64. */
  key: Uint8Array | string;
  /** The serializer whose output is encrypted. @default msgpack */
  inner?: Serializer;
  /** The `Content-Type` written on messages. @default "application/x-taskd-aesgcm" */
  contentType?: string;
}

const VERSION = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * A serializer that encrypts bodies with AES-256-GCM: `[version][12-byte IV][ciphertext][16-byte tag]`,
 * a fresh random IV per message. A body that was tampered with, or sealed with another key,
 * fails to decode (the worker dead-letters it with the reason).
 * @example
 * ```ts
 * import { App, aesGcmSerializer, registerSerializer } from "taskd";
 * registerSerializer("aesgcm", aesGcmSerializer({ key: process.env.TASKD_KEY! })); // on clients AND in the task module
 * export const app = new App("tasks", { taskSerializer: "aesgcm" });
 * ```
 */
export function aesGcmSerializer(options: AesGcmOptions): Serializer {
  const { inner = msgpack, contentType = "application/x-taskd-aesgcm" } = options;
  const key = typeof options.key === "string" ? new Uint8Array(Buffer.from(options.key, "base64")) : options.key;
  if (!(key instanceof Uint8Array) || key.length !== 32) {
    throw new RangeError(`Cannot create the AES-GCM serializer: the key must be 32 bytes (or their base64): current length is ${key?.length}`);
  }
  return {
    encrypts: true,
    contentType,
    encode(value) {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv("aes-256-gcm", key, iv);
      const sealed = Buffer.concat([cipher.update(inner.encode(value)), cipher.final()]);
      const out = new Uint8Array(1 + IV_BYTES + sealed.length + TAG_BYTES);
      out[0] = VERSION;
      out.set(iv, 1);
      out.set(sealed, 1 + IV_BYTES);
      out.set(cipher.getAuthTag(), 1 + IV_BYTES + sealed.length);
      return out;
    },
    decode(bytes) {
      if (bytes.length < 1 + IV_BYTES + TAG_BYTES || bytes[0] !== VERSION) {
        throw new TypeError("not an AES-GCM sealed body (too short or unknown version)");
      }
      const iv = bytes.subarray(1, 1 + IV_BYTES);
      const tag = bytes.subarray(bytes.length - TAG_BYTES);
      const decipher = createDecipheriv("aes-256-gcm", key, iv);
      decipher.setAuthTag(tag);
      const plain = Buffer.concat([decipher.update(bytes.subarray(1 + IV_BYTES, bytes.length - TAG_BYTES)), decipher.final()]);
      return inner.decode(new Uint8Array(plain.buffer, plain.byteOffset, plain.length));
    },
  };
}
