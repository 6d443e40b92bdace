/**
 * `taskd revoke <id…> [--terminate]`: revokes tasks by id. The revocation is written to the
 * revocations KV bucket (kept three hours), which every worker watches, so a worker that
 * receives the task later, even one started after this command, discards it (state REVOKED).
 * With `--terminate` the workers are also told at once, and one running the task stops it.
 * @module
 */
import process from "node:process";
import { type BrokerFlags, cliApp } from "../broker.ts";
import { CliError } from "../errors.ts";
import { checkTaskId } from "../../protocol/result.ts";

/** Options of `taskd revoke`. */
export interface RevokeFlags extends BrokerFlags {
  /** Also stop the task if it is running. */
  terminate?: boolean;
}

/** Revokes each id; prints one line per id (and which were terminated). */
export async function revokeCommand(ids: string[], flags: RevokeFlags): Promise<void> {
  if (ids.length === 0) throw new CliError("Cannot revoke: give at least one task id, e.g. taskd revoke 3f2c…");
  for (const id of ids) {
    try {
      checkTaskId(id);
    } catch (e) {
      throw new CliError(`Cannot revoke '${id}': ${(e as Error).message}`);
    }
  }
  const app = cliApp(flags);
  try {
    if (!flags.terminate) {
      for (const id of ids) {
        await app.revoke(id);
        process.stdout.write(`revoked ${id}\n`);
      }
      return;
    }
    const replies = await app.control.revoke(ids, { terminate: true });
    const stopped = new Set(replies.flatMap((r) => Object.values(r)).flatMap((r) => (r as { terminated?: string[] })?.terminated ?? []));
    for (const id of ids) {
      process.stdout.write(`revoked ${id} (${stopped.has(id) ? "terminated" : "not running on any worker that answered"})\n`);
    }
  } finally {
    await app.close();
  }
}
