/**
 * `taskd control shutdown`, `rate_limit <task> <rate>`, `enable_events`, `disable_events`: change running
 * workers (all, or those named with `-d`).
 * @module
 */
import { parseRate } from "../../protocol/rate.ts";
import { cliApp } from "../broker.ts";
import { CliError } from "../errors.ts";
import { broadcastOptions, type ControlFlags, printReplies } from "./inspect.ts";

/** Runs `taskd control <command> [...args]`. */
export async function controlCommand(command: string, args: string[], flags: ControlFlags): Promise<void> {
  const options = broadcastOptions(flags);
  let run: (app: ReturnType<typeof cliApp>) => Promise<Record<string, unknown>[]>;
  if (command === "shutdown") {
    run = (app) => app.control.shutdown(options);
  } else if (command === "rate_limit") {
    const [task, rate] = args;
    if (!task || rate === undefined) throw new CliError("Cannot set a rate limit: give the task and the rate, e.g. taskd control rate_limit tasks.add 10/m (0 removes it)");
    let value: string | number | null = isNaN(Number(rate)) ? rate : Number(rate);
    if (parseRate(value) === undefined) value = null;
    run = (app) => app.control.rateLimit(task, value, options);
  } else if (command === "enable_events") {
    run = (app) => app.control.enableEvents(options);
  } else if (command === "disable_events") {
    run = (app) => app.control.disableEvents(options);
  } else {
    throw new CliError(`Cannot run control command '${command}': use shutdown, rate_limit, enable_events or disable_events`);
  }
  const app = cliApp(flags);
  try {
    const replies = await run(app);
    printReplies(command, replies, flags.json);
    const failed = replies.flatMap((r) => Object.values(r)).filter((r) => r && typeof r === "object" && "error" in r);
    if (failed.length > 0) throw new CliError(`${failed.length} worker(s) refused ${command}: ${(failed[0] as { error: string }).error}`);
  } finally {
    await app.close();
  }
}
