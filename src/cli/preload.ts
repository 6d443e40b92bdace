/**
 * User preload options, as Celery's `user_preload_options` signal: `taskd worker` accepts
 * options it does not know (`--monitoring`), and once the task module is loaded it sends
 * `userPreloadOptions` with every parsed option, so a handler in the module can act on its
 * own flags. An unknown option with no handler connected is still a typo: it is refused.
 * @module
 */
import type { Command } from "cac";
import type { App } from "../app/app.ts";
import { signals } from "../signals/signals.ts";
import { CliError } from "./errors.ts";

/** The options in `flags` that `cmd` (and the global command) do not declare. */
export function unknownOptions(cmd: Command, flags: Record<string, unknown>): string[] {
  const declared = [...cmd.options, ...(cmd.cli?.globalCommand.options ?? [])].flatMap((o) => o.names);
  return Object.keys(flags).filter((k) => k !== "--" && !declared.includes(k));
}

function flagName(key: string): string {
  const kebab = key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
  return kebab.length === 1 ? `-${kebab}` : `--${kebab}`;
}

/**
 * Sends `userPreloadOptions` (sender: the command's name) with the app and every parsed
 * option; throws a `CliError` when options nobody declared were given and no handler listens.
 */
export async function sendPreloadOptions(command: string, app: App, flags: Record<string, unknown>, unknown: string[]): Promise<void> {
  if (unknown.length > 0 && !signals.userPreloadOptions.hasReceivers) {
    throw new CliError(
      `Unknown option ${unknown.map(flagName).join(", ")} for taskd ${command}: run taskd ${command} --help for the list (a userPreloadOptions handler in the task module may accept its own options)`,
    );
  }
  const { "--": _rest, ...options } = flags;
  await signals.userPreloadOptions.send(command, { app, options });
}
