/**
 * Signed task messages (Celery's `security` serializer, on nkeys): a client signs the body and
 * the headers that decide what runs with an ed25519 key (an nkey seed, `SU…`); a worker runs a
 * message only when its signature verifies against one of its trusted public keys (`U…`).
 * Keys are nkeys (`@nats-io/nkeys` decodes and checks them); signing and verifying use
 * `node:crypto`'s ed25519, which Bun, Deno and Node provide natively (nkeys' own JavaScript
 * ed25519 costs ~2.7 ms a signature, this ~10–35 µs). docs/security.md "Signed messages".
 * @module
 */
import { createPrivateKey, createPublicKey, type KeyObject, sign, verify } from "node:crypto";
import { fromPublic, fromSeed, Prefix } from "@nats-io/nkeys";
import { Codec } from "@nats-io/nkeys/lib/codec.js";
import { H, type HeaderReader } from "./message.ts";

/** Signing settings of an app (`AppConfig.signing`). */
export interface SigningOptions {
  /** The nkey seed (`SU…`) this app signs with; a worker trusts its own key too. */
  key?: string;
  /** Public nkeys (`U…`) whose signatures a worker accepts. */
  trusted?: string[];
}

/**
 * The headers a signature covers, in this order: everything that decides what runs, when, and
 * where its result goes. `Nats-Msg-Id`, `taskd-requeues`, dead-letter headers and user headers
 * are not covered (the broker path and the worker set them).
 */
export const SIGNED_HEADERS: readonly string[] = [
  H.protocol, H.task, H.id, H.retries, H.queue, H.eta, H.expires, H.rootId, H.parentId, H.group,
  H.origin, H.argsrepr, H.kwargsrepr, H.timelimit, H.ignoreResult, H.replyTo, H.contentType,
  H.contentEncoding, H.shadow, H.signer,
];

const encoder = new TextEncoder();

/** The bytes a signature covers: each signed header as `name:value\n`, then the body. */
export function signedBytes(get: HeaderReader, body: Uint8Array): Uint8Array {
  let text = "";
  for (const name of SIGNED_HEADERS) text += `${name}:${get(name) ?? ""}\n`;
  const head = encoder.encode(text);
  const out = new Uint8Array(head.length + body.length);
  out.set(head);
  out.set(body, head.length);
  return out;
}

// DER prefixes of an ed25519 PKCS#8 private key and SPKI public key (RFC 8410), before the 32 raw bytes.
const PKCS8 = [0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20];
const SPKI = [0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00];

/** Signs task messages with one nkey seed. */
export class MessageSigner {
  /** The public key (`U…`) workers must trust. */
  readonly publicKey: string;
  readonly #key: KeyObject;

  /** A signer for `seed` (`SU…`); throws a `TypeError` naming the problem when it is not one. */
  constructor(seed: string) {
    const text = String(seed).trim();
    let raw: Uint8Array;
    try {
      this.publicKey = fromSeed(encoder.encode(text)).getPublicKey();
      raw = Codec.decodeSeed(encoder.encode(text)).buf;
    } catch (e) {
      throw new TypeError(`Cannot sign with the signing key: it is not an nkey seed (SU…): ${(e as Error).message}; make one with \`nsc generate nkey --user\` or createUser() from @nats-io/nkeys`);
    }
    this.#key = createPrivateKey({ key: Buffer.from([...PKCS8, ...raw]), format: "der", type: "pkcs8" });
  }

  /** Adds `taskd-signer` and `taskd-signature` to `headers` for a message with `body`. */
  sign(headers: Record<string, string>, body: Uint8Array): void {
    headers[H.signer] = this.publicKey;
    const sig = sign(null, signedBytes((n) => headers[n], body), this.#key);
    headers[H.signature] = Buffer.from(sig).toString("base64url");
  }
}

/** Checks task messages against trusted public keys. */
export class MessageVerifier {
  readonly #keys = new Map<string, KeyObject>();

  /** A verifier trusting `publicKeys` (`U…`); throws a `TypeError` naming a key that is not one. */
  constructor(publicKeys: readonly string[]) {
    for (const k of publicKeys) {
      const text = String(k).trim();
      if (!text) continue;
      let raw: Uint8Array;
      try {
        fromPublic(text);
        raw = Codec.decode(Prefix.User, encoder.encode(text));
      } catch (e) {
        throw new TypeError(`Cannot trust '${text}': it is not a user public nkey (U…): ${(e as Error).message}`);
      }
      this.#keys.set(text, createPublicKey({ key: Buffer.from([...SPKI, ...raw]), format: "der", type: "spki" }));
    }
    if (this.#keys.size === 0) throw new TypeError("Cannot verify signed messages: no trusted key; give signing.trusted or a signing key");
  }

  /** The trusted public keys. */
  get trusted(): string[] {
    return [...this.#keys.keys()];
  }

  /** Why a message with these headers and `body` must not run, or `undefined` when it may. */
  refusal(get: HeaderReader, body: Uint8Array): string | undefined {
    const signer = get(H.signer);
    const signature = get(H.signature);
    if (!signer || !signature) return "unsigned message: this worker runs only messages signed by a trusted key (taskd-signer, taskd-signature)";
    const key = this.#keys.get(signer);
    if (!key) return `message signed by an untrusted key ${signer}: add it to the worker's signing.trusted to accept it`;
    let ok = false;
    try {
      ok = verify(null, signedBytes(get, body), key, Buffer.from(signature, "base64url"));
    } catch {
      ok = false;
    }
    return ok ? undefined : `signature does not match the message (forged, or altered after signing) for signer ${signer}`;
  }
}
