/**
 * `taskd revoke <id…> [--terminate]`: revokes tasks by id. The revocation is written to the
 * revocations KV bucket (kept three hours), which every worker watches, so a worker that
 * receives the task later, even one started after this command, discards it (state REVOKED).
 * @module
 */
import process from "node:process";
import { type BrokerFlags, cliApp } from "../broker.ts";
import { CliError } from "../errors.ts";

/** Options of `taskd revoke`. */
export interface RevokeFlags extends BrokerFlags {
  /** Also stop the task if it is running (honoured by workers that can stop one). */
  terminate?: boolean;
}

/** Revokes each id; prints one line per id. */
export async function revokeCommand(ids: string[], flags: RevokeFlags): Promise<void> {
  if (ids.length === 0) throw new CliError("Cannot revoke: give at least one task id, e.g. taskd revoke 3f2c…");
  const app = cliApp(flags);
  try {
    for (const id of ids.map(String)) {
      try {
        await app.revoke(id, { terminate: Boolean(flags.terminate) });
      } catch (e) {
        if (e instanceof TypeError) throw new CliError(`Cannot revoke '${id}': ${e.message}`);
        throw e;
      }
      process.stdout.write(`revoked ${id}${flags.terminate ? " (terminate)" : ""}\n`);
    }
  } finally {
    await app.close();
  }
}
