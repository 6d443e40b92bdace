/**
 * An App's signing settings, resolved once per config: the signer of its messages
 * (`signing.key`, else `TASKD_SIGNING_KEY`) and the keys a worker serving it trusts
 * (`signing.trusted`, else `TASKD_TRUSTED_KEYS`, plus its own). docs/security.md.
 * @module
 */
import process from "node:process";
import { MessageSigner, MessageVerifier, type SigningOptions } from "../protocol/signing.ts";

const signers = new WeakMap<object, MessageSigner | null>();

/** The signer `config` asks for, or `null` (unsigned); a `TypeError` when the key is not an nkey seed. */
export function signerOf(config: { readonly signing?: SigningOptions }): MessageSigner | null {
  let signer = signers.get(config);
  if (signer === undefined) {
    const key = config.signing?.key ?? process.env.TASKD_SIGNING_KEY;
    signer = key ? new MessageSigner(key) : null;
    signers.set(config, signer);
  }
  return signer;
}

/** The public keys a worker serving `config`'s app accepts, or `undefined` when it takes unsigned messages. */
export function trustedKeysOf(config: { readonly signing?: SigningOptions }): string[] | undefined {
  const listed = config.signing?.trusted ?? process.env.TASKD_TRUSTED_KEYS?.split(/[\s,]+/).filter(Boolean);
  const own = signerOf(config)?.publicKey;
  if (!listed?.length && !own) return undefined;
  return [...new Set([...(listed ?? []), ...(own ? [own] : [])])];
}

/**
 * The verifier of a worker serving an app with `config` when it takes only signed messages. It
 * must sign what it sends itself (retries, workflow steps), so trusted keys without a signing key
 * are refused with a `TypeError`.
 */
export function verifierOf(config: { readonly signing?: SigningOptions }): MessageVerifier | undefined {
  const trusted = trustedKeysOf(config);
  if (!trusted) return undefined;
  if (!signerOf(config)) {
    throw new TypeError("Cannot start a worker that takes only signed messages without a signing key: the retries and workflow steps it sends must be signed too; set signing.key (or TASKD_SIGNING_KEY, --signing-key)");
  }
  return new MessageVerifier(trusted);
}
