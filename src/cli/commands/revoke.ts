/**
 * `taskd revoke <id> [--terminate]`: revoke a task. Workers will not run it (state REVOKED);
 * with `--terminate` a worker running it stops it now. The revocation is kept on the server,
 * so workers started later honour it too.
 * @module
 */
import process from "node:process";
import { type BrokerFlags, cliApp } from "../broker.ts";
import { CliError } from "../errors.ts";

/** Options of `taskd revoke`. */
export interface RevokeFlags extends BrokerFlags {
  terminate?: boolean;
}

/** Runs `taskd revoke <id>`. */
export async function revokeCommand(ids: string[], flags: RevokeFlags): Promise<void> {
  if (ids.length === 0) throw new CliError("Cannot revoke: give at least one task id");
  const app = cliApp(flags);
  try {
    const replies = await app.control.revoke(ids.map(String), { terminate: Boolean(flags.terminate) });
    const stopped = replies.flatMap((r) => Object.values(r)).flatMap((r) => (r as { terminated?: string[] })?.terminated ?? []);
    process.stdout.write(`revoked ${ids.join(", ")}${flags.terminate ? stopped.length ? `; terminated ${stopped.join(", ")}` : "; not running on any worker that answered" : ""}\n`);
  } finally {
    await app.close();
  }
}
