/**
 * The `taskd` command line (cac). This is the entry point compiled into `dist/taskd`, and
 * what `deno run -A src/cli/main.ts` runs.
 * @module
 */
import process from "node:process";
import { cac } from "cac";
import pkg from "../../package.json" with { type: "json" };
import { runtime } from "../runtime/mod.ts";
import { withBrokerOptions } from "./broker.ts";
import { workerCommand } from "./commands/worker.ts";
import { type CallFlags, callCommand, resultCommand, type ResultFlags } from "./commands/call.ts";
import { DEFAULTS } from "../app/options.ts";
import { deadCommand, type DeadFlags } from "./commands/dead.ts";
import { revokeCommand, type RevokeFlags } from "./commands/revoke.ts";
import { unknownOptions } from "./preload.ts";
import { purgeCommand, type PurgeFlags } from "./commands/purge.ts";
import { INSPECT_COMMANDS, inspectCommand } from "./commands/inspect.ts";
import { controlCommand } from "./commands/control.ts";
import { eventsCommand } from "./commands/events.ts";
import { queueCommand, type QueueFlags } from "./commands/queue.ts";

/** Runs the command line with `argv` (without the runtime and script). */
export async function main(argv: string[]): Promise<void> {
  const cli = cac("taskd");
  const worker = withBrokerOptions(cli.command("worker <module>", "Run a worker serving the tasks the module registers"))
    .option("-Q, --queues <list>", "Queues to consume, comma-separated (default: the default queue and every queue a task names)")
    .option("-c, --concurrency <n>", `Tasks run at once (default: ${DEFAULTS.concurrency})`)
    .option("--pool <kind>", "Execution pool: async (I/O-bound work) or threads (CPU-bound work, hard time limits)", { default: "async" })
    .option("--prefetch <n>", `Messages fetched ahead (default: concurrency × ${DEFAULTS.prefetchMultiplier})`)
    .option("-n, --hostname <name>", "Node name, e.g. w1@host")
    .option("-l, --loglevel <level>", "debug, info, warn or error", { default: "info" })
    .option("-f, --logfile <path>", "Append log lines to this file instead of stderr")
    .option("--time-limit <s>", "Default hard time limit, seconds")
    .option("--soft-time-limit <s>", "Default soft time limit, seconds")
    .option("--without-events", "Send no task or worker events")
    .example("taskd worker ./tasks.ts -c 20 -Q default -n w1@host")
    .allowUnknownOptions() // user preload options: see src/cli/preload.ts
    .action((module: string, flags: Record<string, unknown>) => workerCommand(module, flags, unknownOptions(worker, flags)));
  withBrokerOptions(cli.command("call <name> [...args]", "Send a task by name; args are JSON when they parse, strings otherwise"))
    .option("--kwargs <json>", "Keyword arguments as a JSON object")
    .option("--countdown <s>", "Run no earlier than this many seconds from now")
    .option("--eta <iso>", "Run no earlier than this time")
    .option("--expires <s|iso>", "Do not run after this many seconds, or this time")
    .option("--queue <name>", "Queue to send to")
    .option("--wait", "Wait for the result and print it")
    .option("--timeout <s>", "With --wait: give up after this many seconds")
    .example("taskd call tasks.add 2 3 --wait")
    .action((name: string, args: string[], flags: CallFlags) => callCommand(name, args.map(String), flags));
  withBrokerOptions(cli.command("result <id>", "Show a task's state and result"))
    .option("--wait", "Wait until it is ready and print the value")
    .option("--timeout <s>", "With --wait: give up after this many seconds")
    .option("--json", "Print the stored entry as JSON")
    .action((id: string, flags: ResultFlags) => resultCommand(id, flags));
  withBrokerOptions(cli.command("revoke [...ids]", "Revoke tasks by id: workers will not run them (state REVOKED)"))
    .option("--terminate", "Also stop the task if it is running")
    .example("taskd revoke 3f2c0e8a-…")
    .action((ids: string[], flags: RevokeFlags) => revokeCommand(ids.map(String), flags));
  withBrokerOptions(cli.command("purge [...queues]", "Delete the waiting messages of queues (all queues when none is named)"))
    .option("--delayed", "Also delete delayed tasks (countdown, eta, retry delays)")
    .example("taskd purge default")
    .action((queues: string[], flags: PurgeFlags) => purgeCommand(queues.map(String), flags));
  withBrokerOptions(cli.command("dead <action> [...args]", "Dead letters: list, show <seq>, retry <seq…>|--all, purge"))
    .option("--queue <name>", "Only this queue's dead letters (retry: the queue to send to)")
    .option("--all", "retry: every dead letter (of --queue)")
    .option("--limit <n>", "list: at most this many")
    .option("--json", "Print JSON")
    .example("taskd dead list")
    .example("taskd dead retry 12 13")
    .action((action: string, args: string[], flags: DeadFlags) => deadCommand(String(action), args.map(String), flags));
  withBrokerOptions(cli.command("inspect <what>", `Ask running workers: ${INSPECT_COMMANDS.join(", ")}; or queues (depth, paused, waiting per key)`))
    .option("-d, --destination <nodes>", "Only these node names, comma-separated")
    .option("--timeout <s>", "Seconds to wait for replies (default: 1)")
    .option("--json", "Print the replies as one JSON object")
    .example("taskd inspect active -d w1@host")
    .action((what: string, flags: Record<string, unknown>) => inspectCommand(what, flags));
  withBrokerOptions(cli.command("control <command> [...args]", "Change running workers: shutdown, rate_limit <task> <rate>"))
    .option("-d, --destination <nodes>", "Only these node names, comma-separated")
    .option("--timeout <s>", "Seconds to wait for replies (default: 1)")
    .option("--json", "Print the replies as one JSON object")
    .example("taskd control rate_limit tasks.add 10/m")
    .action((command: string, args: string[], flags: Record<string, unknown>) => controlCommand(command, args.map(String), flags));
  withBrokerOptions(cli.command("queue <action> [queue]", "Queues: pause <queue>, resume <queue> (durable: workers started later stay paused), list"))
    .option("--reason <text>", "pause: why (shown by list)")
    .option("--json", "list: print JSON")
    .example("taskd queue pause emails --reason 'provider outage'")
    .example("taskd queue list")
    .action((action: string, queue: string | undefined, flags: QueueFlags) => queueCommand(String(action), queue === undefined ? undefined : String(queue), flags));
  withBrokerOptions(cli.command("events", "Show task and worker events live"))
    .option("--json", "One JSON object per line")
    .option("--heartbeats", "Also show worker heartbeats")
    .action((flags: Record<string, unknown>) => eventsCommand(flags));
  cli.help();
  cli.version(`${pkg.version} (${runtime.name} ${runtime.version})`);
  cli.parse(["taskd", "taskd", ...argv], { run: false });
  if (!cli.matchedCommand) {
    if (cli.options.help || cli.options.version) return;
    if (cli.args.length > 0) throw new Error(`Unknown command '${cli.args[0]}': run taskd --help for the list`);
    cli.outputHelp();
    return;
  }
  await cli.runMatchedCommand();
}

if (import.meta.main) {
  main(process.argv.slice(2)).then(
    () => process.exit(0),
    (e) => {
      const message = e instanceof Error ? e.message : String(e);
      process.stderr.write(`taskd: ${message.split("\n")[0]}\n`);
      if (process.env.TASKD_DEBUG && e instanceof Error) process.stderr.write(`${e.stack}\n`);
      process.exit(1);
    },
  );
}
