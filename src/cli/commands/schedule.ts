/**
 * `taskd schedule list|add|remove|pause|resume|run`: manage the schedules stored on the server
 * (docs/beat.md). Bad input is refused before anything is stored.
 * @module
 */
import process from "node:process";
import type { App } from "../../app/app.ts";
import { type Catchup, normalize, type ScheduleDefinition } from "../../app/schedule/definition.ts";
import type { ScheduleListing } from "../../app/schedule/schedules.ts";
import { type BrokerFlags, cliApp } from "../broker.ts";
import { CliError } from "../errors.ts";

/** Options of `taskd schedule`. */
export interface ScheduleFlags extends BrokerFlags {
  task?: string;
  every?: string | number;
  cron?: string;
  tz?: string;
  at?: string;
  args?: string | number;
  kwargs?: string;
  queue?: string;
  catchup?: string;
  overlap?: string;
  jitter?: string | number;
  start?: string;
  end?: string;
  expires?: string | number;
  json?: boolean;
}

/** The actions. */
export const SCHEDULE_ACTIONS = ["list", "add", "remove", "pause", "resume", "run"] as const;

function json<T>(flag: string, raw: unknown, check: (v: unknown) => boolean, example: string): T {
  let v: unknown;
  try {
    v = JSON.parse(String(raw));
  } catch {
    throw new CliError(`Cannot add schedule: --${flag} must be JSON, e.g. ${example}`);
  }
  if (!check(v)) throw new CliError(`Cannot add schedule: --${flag} must be JSON, e.g. ${example}`);
  return v as T;
}

function catchupOf(raw: string | undefined): Catchup | undefined {
  if (raw === undefined) return undefined;
  const m = String(raw).match(/^all:(\d+)$/);
  if (m) return { all: Number(m[1]) };
  return String(raw) as Catchup;
}

/** The definition the flags describe (checked by the library). */
export function definitionFrom(flags: ScheduleFlags): ScheduleDefinition {
  if (!flags.task) throw new CliError("Cannot add schedule: --task NAME is required");
  const rules = [flags.every !== undefined, flags.cron !== undefined, flags.at !== undefined].filter(Boolean).length;
  if (rules !== 1) throw new CliError("Cannot add schedule: give exactly one of --every S, --cron EXPR or --at ISO");
  if (flags.tz !== undefined && flags.cron === undefined) throw new CliError("Cannot add schedule: --tz goes with --cron");
  const common = {
    task: String(flags.task),
    args: flags.args !== undefined ? json<unknown[]>("args", flags.args, Array.isArray, "'[1, 2]'") : undefined,
    kwargs: flags.kwargs !== undefined ? json<Record<string, unknown>>("kwargs", flags.kwargs, (v) => !!v && typeof v === "object" && !Array.isArray(v), `'{"z": 1}'`) : undefined,
    options: {
      ...(flags.queue !== undefined ? { queue: String(flags.queue) } : {}),
      ...(flags.expires !== undefined ? { expires: Number(flags.expires) } : {}),
    },
    catchup: catchupOf(flags.catchup),
    overlap: flags.overlap as ScheduleDefinition["overlap"],
    jitter: flags.jitter !== undefined ? Number(flags.jitter) : undefined,
    start: flags.start,
    end: flags.end,
  };
  if (flags.every !== undefined) {
    const n = Number(flags.every);
    return { ...common, every: Number.isNaN(n) ? String(flags.every) : n };
  }
  if (flags.cron !== undefined) return { ...common, cron: String(flags.cron), tz: flags.tz === undefined ? undefined : String(flags.tz) };
  return { ...common, at: String(flags.at) };
}

function when(d: Date | null): string {
  return d ? d.toISOString() : "-";
}

function table(rows: ScheduleListing[]): string {
  const head = ["ID", "TASK", "RULE", "NEXT RUN", "LAST RUN", "STATE", "ORIGIN"];
  const body = rows.map((r) => [r.id, r.task, r.rule, when(r.next), when(r.lastRun), r.paused ? "paused" : r.next ? "active" : "done", r.origin]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  return [head, ...body].map((cols) => cols.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd()).join("\n") + "\n";
}

/** Warns when no running worker serves `task` (asks the workers for 0.5 s). */
async function warnUnknownTask(app: App, task: string): Promise<void> {
  try {
    const registered = await app.control.inspect({ timeout: 0.5 }).registered();
    const nodes = Object.keys(registered);
    if (nodes.length === 0) {
      process.stderr.write(`warning: no worker answered, so task ${task} could not be checked; runs of an unknown task are dead-lettered\n`);
    } else if (!nodes.some((n) => (registered[n] ?? []).includes(task))) {
      process.stderr.write(`warning: no running worker has task ${task} registered (asked ${nodes.length}); its runs will be dead-lettered until one does\n`);
    }
  } catch { /* best effort */ }
}

/** Runs one `taskd schedule` action. */
export async function scheduleCommand(action: string, args: string[], flags: ScheduleFlags): Promise<void> {
  if (!(SCHEDULE_ACTIONS as readonly string[]).includes(action)) {
    throw new CliError(`Unknown schedule action '${action}': use ${SCHEDULE_ACTIONS.join(", ")}`);
  }
  const id = args[0];
  if (action !== "list" && !id) throw new CliError(`Cannot ${action} a schedule: give its id, e.g. taskd schedule ${action} nightly`);
  let def: ScheduleDefinition | undefined;
  if (action === "add") {
    def = definitionFrom(flags);
    // Check before connecting: an invalid rule changes nothing.
    normalize(id, def, "api");
  }
  const app = cliApp(flags);
  try {
    const s = app.schedules;
    if (action === "list") {
      const rows = await s.list();
      if (flags.json) process.stdout.write(JSON.stringify(rows) + "\n");
      else process.stdout.write(rows.length ? table(rows) : "no schedules\n");
      return;
    }
    if (action === "add") {
      await warnUnknownTask(app, String(flags.task));
      const r = await s.add(id, def!);
      process.stdout.write(`schedule ${id} ${r}\n`);
      return;
    }
    if (action === "run") {
      const r = await s.run(id);
      process.stdout.write(`${r.id}\n`);
      return;
    }
    const ok = action === "remove" ? await s.remove(id) : action === "pause" ? await s.pause(id) : await s.resume(id);
    if (!ok) throw new CliError(`Cannot ${action} schedule '${id}': there is no such schedule (taskd schedule list shows them)`);
    process.stdout.write(`schedule ${id} ${action === "remove" ? "removed" : action === "pause" ? "paused" : "resumed"}\n`);
  } catch (e) {
    if (e instanceof RangeError || e instanceof TypeError) throw new CliError(e.message);
    throw e;
  } finally {
    await app.close();
  }
}
