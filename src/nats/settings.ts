/**
 * One owner for stream and bucket settings. Every stream (tasks, delayed, dead letters) and
 * every KV bucket (a bucket is the stream `KV_<name>`) goes through {@link ensureStream}, which
 * compares what the server has with what this process is configured with:
 *
 * - a missing stream is created with the configured values, by whoever needs it first (a client
 *   sending before any worker started must not fail);
 * - on a connection that owns the settings ({@link ownSettings}: workers and `taskd setup`), an
 *   existing stream whose limits differ is **updated** to the configured values — `max_age`
 *   (resultExpires), `max_bytes`, `max_msgs`, `discard` and `duplicate_window` can be changed on
 *   a live stream; a refused change (replicas on a single server) is an error naming the setting;
 * - on any other connection (clients) a difference is left alone and warned about once.
 *
 * docs/limits.md explains the defaults and what each bound costs.
 * @module
 */
import type { NatsConnection } from "@nats-io/nats-core";
import { DiscardPolicy, type JetStreamManager, jetstreamManager, type StreamConfig, type StreamInfo } from "@nats-io/jetstream";
import { getLogger } from "../log/logger.ts";
import { TaskdError } from "../errors/base.ts";
import { isExistingStream, isNotFound } from "./errors.ts";
import { isTransient } from "./retry.ts";

/** The limits taskd sets on a stream or bucket; the rest of its config is the stream's own. */
export interface StreamLimits {
  /** Seconds a message is kept (`max_age`); 0 keeps messages until removed. */
  maxAgeSeconds: number;
  /** Bytes the stream may hold (`max_bytes`); -1: no bound. */
  maxBytes: number;
  /** Messages the stream may hold (`max_msgs`); -1: no bound. */
  maxMsgs: number;
  /** At a bound: `old` removes the oldest messages, `new` refuses new ones. */
  discard: "old" | "new";
  /** JetStream replicas. */
  replicas: number;
  /** Seconds `Nats-Msg-Id` de-duplicates (`duplicate_window`); streams without ids leave it unset. */
  duplicateWindowSeconds?: number;
}

/** A setting JetStream refused to change on an existing stream. */
export class StreamSettingsError extends TaskdError {
  override name = "StreamSettingsError" as const;
  override readonly code = "STREAM_SETTINGS";
  /**
   * @param message what was refused and what to do
   * @param stream the stream (or `KV_<bucket>`)
   * @param settings the taskd settings the server refused
   */
  constructor(message: string, readonly stream: string, readonly settings: string[], options?: { cause?: unknown }) {
    super(message, { cause: options?.cause });
  }
}

const owners = new WeakSet<NatsConnection>();
const warned = new Set<string>();
const log = getLogger("taskd.settings");

/**
 * Makes `nc` the owner of stream and bucket settings: streams and buckets opened on it are
 * brought to this process's configured values. Workers call it on their connection.
 */
export function ownSettings(nc: NatsConnection): void {
  owners.add(nc);
}

/** Whether `nc` owns stream and bucket settings. */
export function ownsSettings(nc: NatsConnection): boolean {
  return owners.has(nc);
}

/** One limit that differs: the config field, what the server has, what is configured. */
export interface LimitDifference {
  /** Stream config field (`max_age`, `max_bytes`, …). */
  field: string;
  /** The taskd setting that sets it, for messages. */
  setting: string;
  /** What the server has, in the unit of `setting`. */
  have: number | string;
  /** What this process is configured with, in the same unit. */
  want: number | string;
}

/** The stream config fields that `limits` sets. */
export function limitsConfig(limits: StreamLimits): Partial<StreamConfig> {
  const c: Partial<StreamConfig> = {
    max_age: limits.maxAgeSeconds * 1e9,
    max_bytes: limits.maxBytes,
    max_msgs: limits.maxMsgs,
    discard: limits.discard === "old" ? DiscardPolicy.Old : DiscardPolicy.New,
    num_replicas: limits.replicas,
  };
  if (limits.duplicateWindowSeconds !== undefined) c.duplicate_window = limits.duplicateWindowSeconds * 1e9;
  return c;
}

/** How the server's `config` differs from `limits` (`setting` names are for messages). */
export function limitDifferences(config: StreamConfig, limits: StreamLimits, setting: Partial<Record<string, string>> = {}): LimitDifference[] {
  const out: LimitDifference[] = [];
  const add = (field: string, have: number | string, want: number | string) => {
    if (have !== want) out.push({ field, setting: setting[field] ?? field, have, want });
  };
  add("max_age", Math.round((config.max_age ?? 0) / 1e9), limits.maxAgeSeconds);
  add("max_bytes", config.max_bytes ?? -1, limits.maxBytes);
  add("max_msgs", config.max_msgs ?? -1, limits.maxMsgs);
  add("discard", config.discard ?? "old", limits.discard);
  add("num_replicas", config.num_replicas ?? 1, limits.replicas);
  if (limits.duplicateWindowSeconds !== undefined) {
    add("duplicate_window", Math.round((config.duplicate_window ?? 0) / 1e9), limits.duplicateWindowSeconds);
  }
  return out;
}

/** `resultExpires 30 (server: 86400)` list for messages. */
function describe(diffs: LimitDifference[]): string {
  return diffs.map((d) => `${d.setting} ${d.want} (server: ${d.have})`).join(", ");
}

/** Options of {@link ensureStream}. */
export interface EnsureOptions {
  /** The taskd setting behind each limit field, for messages (e.g. `{ max_age: "resultExpires" }`). */
  settings?: Partial<Record<string, string>>;
  /** The JetStream manager to use (else one is made on `nc`). */
  jsm?: JetStreamManager;
  /** Creates the stream when it is missing (a KV bucket through the KV API); else `streams.add`. */
  create?: () => Promise<unknown>;
}

/**
 * Creates stream `config.name` with `limits` when it is missing; when it exists, updates its
 * limits (on an owner connection) or warns once that they differ (elsewhere). Returns the
 * stream's info as the server has it afterwards. Throws {@link StreamSettingsError} when the
 * server refuses a change.
 */
export async function ensureStream(
  nc: NatsConnection,
  config: Partial<StreamConfig> & { name: string },
  limits: StreamLimits,
  options: EnsureOptions = {},
): Promise<StreamInfo> {
  const jsm = options.jsm ?? await jetstreamManager(nc);
  let info: StreamInfo;
  let created = false;
  try {
    info = await jsm.streams.info(config.name);
  } catch (e) {
    if (!isNotFound(e)) throw e;
    try {
      if (options.create) await options.create();
      else await jsm.streams.add({ ...config, ...limitsConfig(limits) });
      created = true;
    } catch (e2) {
      const message = String((e2 as Error)?.message);
      // JetStream reserves max_bytes in the server's (every replica's) storage up front.
      if (/insufficient (storage|resources)/i.test(message) && limits.maxBytes > 0) {
        const setting = options.settings?.max_bytes ?? "max_bytes";
        throw new StreamSettingsError(
          `Cannot create ${config.name} with ${setting} ${limits.maxBytes}: the server cannot reserve that much storage (${message}); lower ${setting} or raise the server's max_file_store (docs/limits.md)`,
          config.name,
          [setting],
          { cause: e2 },
        );
      }
      // Another process created it between our look-up and our add (the server says "already in
      // use", or "subjects overlap" when both adds race): compare with theirs.
      if (!isExistingStream(e2) && !/subjects overlap/i.test(String((e2 as Error)?.message))) throw e2;
    }
    info = await jsm.streams.info(config.name);
  }
  const diffs = limitDifferences(info.config, limits, options.settings);
  if (diffs.length === 0) return info;
  if (!created && !owners.has(nc)) {
    const key = `${config.name}:${describe(diffs)}`;
    if (!warned.has(key)) {
      warned.add(key);
      log.warn(
        `${config.name} on the server differs from this process's settings: ${describe(diffs)}; workers apply their settings when they start, this client keeps the server's`,
      );
    }
    return info;
  }
  const apply = (fields: Partial<StreamConfig>) => {
    const next = { ...info.config, ...fields };
    // JetStream refuses a dedup window longer than max_age (a bucket's is 2 min by default).
    if (next.max_age > 0 && (next.duplicate_window ?? 0) > next.max_age) next.duplicate_window = next.max_age;
    return jsm.streams.update(config.name, next);
  };
  const all = limitsConfig(limits) as Record<string, unknown>;
  try {
    info = await apply(all);
    if (!created) log.info(`${config.name}: applied ${describe(diffs)}`);
    return info;
  } catch (e) {
    // A cluster electing a leader is no refusal: the caller's retry rides it out.
    if (isTransient(e)) throw e;
    // Find which settings the server refuses: apply the others one by one.
    const refused: LimitDifference[] = [];
    let reason = (e as Error).message;
    for (const d of diffs) {
      try {
        info = await apply({ [d.field]: all[d.field] });
      } catch (e2) {
        refused.push(d);
        reason = (e2 as Error).message;
      }
    }
    const named = refused.length ? refused : diffs;
    throw new StreamSettingsError(
      `Cannot apply ${named.map((d) => `${d.setting} ${d.want}`).join(", ")} to ${config.name}, which has ${
        named.map((d) => `${d.setting} ${d.have}`).join(", ")
      }: the server refused (${reason}); keep the server's value in the config, or recreate ${config.name} (its data is lost)`,
      config.name,
      named.map((d) => d.setting),
      { cause: e },
    );
  }
}
