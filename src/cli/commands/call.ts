/**
 * `taskd call <name> [args…]` and `taskd result <id>`: send a task by name and read results
 * from the shell. Arguments are JSON when they parse as JSON, strings otherwise.
 * @module
 */
import process from "node:process";
import type { AsyncResult } from "../../result/async_result.ts";
import { TaskError } from "../../errors/errors.ts";
import { type BrokerFlags, cliApp } from "../broker.ts";
import { CliError } from "../errors.ts";

/** Options of `taskd call`. */
export interface CallFlags extends BrokerFlags {
  kwargs?: string;
  countdown?: number;
  eta?: string;
  expires?: number | string;
  queue?: string;
  wait?: boolean;
  timeout?: number;
  json?: boolean;
}

/** Parses a command-line argument: JSON when it parses, else the string itself. */
export function parseArg(raw: unknown): unknown {
  if (typeof raw !== "string") return raw;
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

function show(value: unknown): string {
  return typeof value === "string" ? value : JSON.stringify(value) ?? String(value);
}

async function waitAndPrint(r: AsyncResult, timeout: number | undefined): Promise<void> {
  try {
    const value = await r.get({ timeout });
    process.stdout.write(show(value) + "\n");
  } catch (e) {
    if (e instanceof TaskError) {
      const issues = describeIssues(e.data);
      throw new CliError(`${r.taskName ?? "task"}[${r.id}] failed: ${e.remoteType}: ${e.remoteMessage}${issues}`);
    }
    throw e;
  }
}

function describeIssues(data: unknown): string {
  const issues = (data as { issues?: { message?: string; path?: { key?: unknown }[] }[] } | undefined)?.issues;
  if (!Array.isArray(issues) || issues.length === 0) return "";
  return " (" + issues.map((i) => `${(i.path ?? []).map((p) => String(p.key)).join(".") || "(root)"}: ${i.message}`).join("; ") + ")";
}

/** Sends `name` with `args`; prints the id, or with --wait the result. */
export async function callCommand(name: string, args: string[], flags: CallFlags): Promise<void> {
  let kwargs: Record<string, unknown> | undefined;
  if (flags.kwargs !== undefined) {
    const parsed = parseArg(String(flags.kwargs));
    if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) {
      throw new CliError(`Cannot call ${name}: --kwargs must be a JSON object, e.g. '{"z": 1}'`);
    }
    kwargs = parsed as Record<string, unknown>;
  }
  const timeout = flags.timeout === undefined ? undefined : Number(flags.timeout);
  const app = cliApp(flags);
  try {
    const r = await app.sendTask(name, args.map(parseArg), {
      kwargs,
      countdown: flags.countdown === undefined ? undefined : Number(flags.countdown),
      eta: flags.eta,
      expires: flags.expires === undefined ? undefined : isNaN(Number(flags.expires)) ? String(flags.expires) : Number(flags.expires),
      queue: flags.queue,
    });
    if (flags.wait) await waitAndPrint(r, timeout);
    else process.stdout.write(r.id + "\n");
  } finally {
    await app.close();
  }
}

/** Options of `taskd result`. */
export interface ResultFlags extends BrokerFlags {
  wait?: boolean;
  timeout?: number;
  json?: boolean;
}

/** Prints a result: with --wait its value once ready; else its state (and value when ready). */
export async function resultCommand(id: string, flags: ResultFlags): Promise<void> {
  const app = cliApp(flags);
  try {
    const r = app.asyncResult(String(id));
    if (flags.wait) return await waitAndPrint(r, flags.timeout === undefined ? undefined : Number(flags.timeout));
    const meta = await r.meta();
    if (flags.json) {
      process.stdout.write(JSON.stringify(meta ?? { taskId: id, status: "PENDING", result: null }) + "\n");
      return;
    }
    process.stdout.write((meta?.status ?? "PENDING") + "\n");
    if (meta && meta.result !== null && meta.result !== undefined) process.stdout.write(show(meta.result) + "\n");
  } finally {
    await app.close();
  }
}
