/**
 * `taskd status [--json]`: the size of each stream and bucket taskd uses (messages, bytes)
 * against its bounds (max_msgs, max_bytes, max_age, discard, dedup window), read from the
 * server, so an operator sees what is near full before the server does. It changes nothing
 * and creates nothing: a stream or bucket not made yet is listed as missing.
 * @module
 */
import process from "node:process";
import type { StreamInfo } from "@nats-io/jetstream";
import { type BrokerFlags, cliApp } from "../broker.ts";
import { isNotFound } from "../../nats/errors.ts";

/** Options of `taskd status`. */
export interface StatusFlags extends BrokerFlags {
  /** Print one JSON object instead of a table. */
  json?: boolean;
}

/** One stream or bucket as `taskd status --json` prints it; -1 means no bound. */
export interface StoreStatus {
  /** The stream's name (`KV_<bucket>` for a bucket). */
  name: string;
  /** What it holds. */
  role: string;
  /** Whether it exists on the server. */
  exists: boolean;
  messages?: number;
  maxMessages?: number;
  bytes?: number;
  maxBytes?: number;
  /** Seconds a message is kept; 0: no limit. */
  maxAgeSeconds?: number;
  /** `old` (oldest go first) or `new` (new messages refused) at a bound. */
  discard?: string;
  /** Seconds of `Nats-Msg-Id` de-duplication. */
  duplicateWindowSeconds?: number;
  replicas?: number;
}

/** Reads each stream and bucket of the prefix and prints their sizes and bounds. */
export async function statusCommand(flags: StatusFlags): Promise<void> {
  const app = cliApp(flags);
  try {
    const broker = await app.broker();
    const jsm = await broker.jsm();
    const n = app.names;
    const stores: [string, string][] = [
      [n.tasksStream, "tasks"],
      [n.delayedStream, "delayed tasks"],
      [n.deadStream, "dead letters"],
      [`KV_${n.resultsBucket}`, "results"],
      [`KV_${n.prefix}_canvas`, "chord and group state"],
      [`KV_${n.revokedBucket}`, "revocations"],
      [`KV_${n.prefix}_ratelimits`, "global rate limits"],
      [n.waitingStream, "tasks waiting for a concurrency slot"],
      [`KV_${n.leasesBucket}`, "concurrency leases"],
      [`KV_${n.uniqueBucket}`, "unique-task markers"],
      [`KV_${n.pausedBucket}`, "paused queues"],
      [`KV_${n.prefix}_schedules`, "periodic task schedules"],
      [`KV_${n.prefix}_events`, "event listener leases"],
      [`${n.prefix.toUpperCase()}_HISTORY`, "dashboard task history"],
    ];
    const out: StoreStatus[] = [];
    for (const [name, role] of stores) {
      let si: StreamInfo;
      try {
        si = await jsm.streams.info(name);
      } catch (e) {
        if (!isNotFound(e)) throw e;
        out.push({ name, role, exists: false });
        continue;
      }
      const c = si.config;
      out.push({
        name,
        role,
        exists: true,
        messages: si.state.messages,
        maxMessages: c.max_msgs ?? -1,
        bytes: si.state.bytes,
        maxBytes: c.max_bytes ?? -1,
        maxAgeSeconds: Math.round((c.max_age ?? 0) / 1e9),
        discard: c.discard,
        duplicateWindowSeconds: Math.round((c.duplicate_window ?? 0) / 1e9),
        replicas: c.num_replicas,
      });
    }
    if (flags.json) {
      process.stdout.write(JSON.stringify({ prefix: n.prefix, server: broker.nc.info?.version, stores: out }, null, 2) + "\n");
      return;
    }
    process.stdout.write(formatStatus(out));
  } finally {
    await app.close();
  }
}

/** The table `taskd status` prints. */
export function formatStatus(stores: StoreStatus[]): string {
  const rows = [["NAME", "HOLDS", "MESSAGES", "BYTES", "MAX AGE", "AT BOUND", "DEDUP"]];
  for (const s of stores) {
    if (!s.exists) {
      rows.push([s.name, s.role, "(not created yet)", "", "", "", ""]);
      continue;
    }
    rows.push([
      s.name,
      s.role,
      against(s.messages!, s.maxMessages!, (v) => v.toLocaleString("en-US")),
      against(s.bytes!, s.maxBytes!, bytes),
      s.maxAgeSeconds ? duration(s.maxAgeSeconds) : "forever",
      s.discard === "new" ? "refuse new" : "drop oldest",
      s.name.startsWith("KV_") ? "" : duration(s.duplicateWindowSeconds!),
    ]);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd()).join("\n") + "\n";
}

function against(v: number, max: number, fmt: (v: number) => string): string {
  if (max <= 0) return `${fmt(v)} / no bound`;
  return `${fmt(v)} / ${fmt(max)} (${Math.floor((v / max) * 100)}%)`;
}

/** 1536 → "1.5 KiB". */
export function bytes(v: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(v >= 100 ? 0 : 1)} ${units[i]}`;
}

/** 90 → "90s", 86400 → "1d". */
function duration(s: number): string {
  if (s % 86_400 === 0) return `${s / 86_400}d`;
  if (s % 3600 === 0) return `${s / 3600}h`;
  if (s % 60 === 0 && s >= 60) return `${s / 60}m`;
  return `${s}s`;
}
