/**
 * Riding out a broker outage: which NATS errors are transient (the server is restarting, a
 * cluster is electing a leader, the connection is reconnecting) and a bounded retry for
 * operations that are safe to repeat — publishes carry `Nats-Msg-Id`, so a repeat is stored
 * once; KV puts of a result are idempotent. Permanent errors (a payload over max_payload, a
 * permission violation, a closed connection) are thrown at once. docs/guarantees.md says why.
 * @module
 */

/** How long a client's publish keeps retrying through an outage. @default 30 s */
export const PUBLISH_RETRY_MS = 30_000;

/**
 * True when `e` says the broker is away or busy for a moment rather than refusing the
 * operation: a request timeout, no responders (JetStream not up yet after a restart), a
 * JetStream 503 (no leader while a cluster elects one).
 */
export function isTransient(e: unknown): boolean {
  const err = e as { name?: string; message?: string; code?: unknown; status?: unknown; cause?: unknown } | undefined;
  if (!err || typeof err !== "object") return false;
  const name = String(err.name ?? "");
  const message = String(err.message ?? "");
  // A full stream (queueMaxBytes, discard new) answers 503 too, but waiting does not fix it.
  // A stream setting the server refuses (src/nats/settings.ts) stays refused.
  if (name === "StreamSettingsError") return false;
  if (/closed|draining|permission|authori[sz]ation|max.?payload|too large|maximum (bytes|messages) exceeded/i.test(message)) return false;
  if (name === "TimeoutError" || name === "JetStreamNotEnabled" || name === "NoResponders") return true;
  if (err.status === 503 || err.code === 10008 || err.code === 503) return true;
  if (/timeout|timed out|no responders|temporarily unavailable|no suitable peers|leader|disconnect|reconnect/i.test(message)) return true;
  return err.cause !== undefined && err.cause !== e && isTransient(err.cause);
}

/** Options of {@link retryTransient}. */
export interface RetryTransientOptions {
  /** Milliseconds after which the last error is thrown. @default PUBLISH_RETRY_MS */
  deadlineMs?: number;
  /** First pause between attempts, doubled up to `maxDelayMs`. @default 100 */
  delayMs?: number;
  /** Longest pause between attempts. @default 2000 */
  maxDelayMs?: number;
  /** Called before each new attempt with the error that caused it. */
  onRetry?: (e: unknown, attempt: number) => void;
}

/** Runs `fn`, repeating it while it fails with a transient error and the deadline is ahead. */
export async function retryTransient<T>(fn: () => Promise<T>, options: RetryTransientOptions = {}): Promise<T> {
  const { deadlineMs = PUBLISH_RETRY_MS, delayMs = 100, maxDelayMs = 2000, onRetry } = options;
  const deadline = Date.now() + deadlineMs;
  for (let attempt = 1, delay = delayMs;; attempt++, delay = Math.min(delay * 2, maxDelayMs)) {
    try {
      return await fn();
    } catch (e) {
      if (!isTransient(e) || Date.now() + delay > deadline) throw e;
      onRetry?.(e, attempt);
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}
