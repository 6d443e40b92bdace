/**
 * Flow control on the wire: the headers a sender writes so that workers can apply priorities,
 * keyed concurrency, keyed rate limits and uniqueness without decoding a body. They are plain
 * (`x-taskd-…`) headers, so a retry or a requeue carries them along like the caller's own.
 * docs/flow.md describes what each one does.
 * @module
 */

/** Header names of flow control. */
export const FLOW_H = {
  /** `0`…`9`, 9 first; absent: the default level. */
  priority: "x-taskd-priority",
  /** The key a `concurrencyKey` function gave (as sent). */
  concurrencyKey: "x-taskd-concurrency-key",
  /** The key a `rateLimitKey` function gave (as sent). */
  rateKey: "x-taskd-rate-key",
  /** The unique-marker key in the unique bucket, when the call was `unique`. */
  unique: "x-taskd-unique",
  /** `queued` or `finished`: when the unique marker is removed. */
  uniqueUntil: "x-taskd-unique-until",
  /** The concurrency lease a finishing run handed to this task as it put it back on its queue. */
  handed: "x-taskd-handed",
  /** Set when a task first waits for a concurrency slot: its tasks-stream sequence, its place in line. */
  arrival: "x-taskd-arrival",
} as const;

/** The lowest and highest priority levels. */
export const MIN_PRIORITY = 0;
/** The highest priority level: it runs first. */
export const MAX_PRIORITY = 9;
/**
 * The level of a task sent without a priority: the middle, so that work can be sent both above
 * and below the ordinary flow. Its messages use the queue's plain subject.
 */
export const DEFAULT_PRIORITY = 5;

/** Checks a priority: a whole number 0…9; throws `RangeError` otherwise. */
export function checkPriority(what: string, p: unknown): number {
  if (typeof p !== "number" || !Number.isInteger(p) || p < MIN_PRIORITY || p > MAX_PRIORITY) {
    throw new RangeError(`Cannot ${what}: 'priority' must be a whole number from 0 to 9 (9 runs first): current value is ${String(p)}`);
  }
  return p;
}

/** The priority a message's headers name; the default level when absent or unreadable. */
export function priorityOf(value: string | undefined): number {
  if (value === undefined || value === "") return DEFAULT_PRIORITY;
  const p = Number(value);
  return Number.isInteger(p) && p >= MIN_PRIORITY && p <= MAX_PRIORITY ? p : DEFAULT_PRIORITY;
}

/** The subject suffix of a level: none for the default level, `.p<N>` for the others. */
export function levelSuffix(priority: number): string {
  return priority === DEFAULT_PRIORITY ? "" : `.p${priority}`;
}

/**
 * A key as one subject or KV-key token: itself when it is short and uses only letters, digits,
 * `_` and `-`; else `h<hash>` (FNV-1a, 64 bits), so any string is safe and stable.
 */
export function keyToken(key: string): string {
  if (/^[A-Za-z0-9_-]{1,64}$/.test(key)) return key;
  let h1 = 0x811c9dc5, h2 = 0x01000193 ^ key.length;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193) >>> 0;
    h2 = Math.imul(h2 ^ c, 0x5bd1e995) >>> 0;
  }
  return `h${h1.toString(16).padStart(8, "0")}${h2.toString(16).padStart(8, "0")}`;
}

/**
 * A task name as one subject token, one-to-one: `_` doubles, `.` becomes `_d`, other characters
 * `_x<hex>_` (`tasks.add` → `tasks_dadd`, `tasks_add` → `tasks__add`).
 */
export function nameToken(name: string): string {
  return name.replace(/_/g, "__").replace(/\./g, "_d").replace(/[^A-Za-z0-9_-]/g, (c) => `_x${c.codePointAt(0)!.toString(16)}_`);
}

/** The task name a {@link nameToken} came from. */
export function nameFromToken(token: string): string {
  return token.replace(/_(_|d|x([0-9a-f]+)_)/g, (_m, c: string, hex?: string) => (c === "_" ? "_" : c === "d" ? "." : String.fromCodePoint(parseInt(hex!, 16))));
}
