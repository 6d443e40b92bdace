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
import { watchWorker } from "./watch.ts";
import { type CallFlags, callCommand, resultCommand, type ResultFlags } from "./commands/call.ts";
import { DEFAULTS } from "../app/options.ts";
import { deadCommand, type DeadFlags } from "./commands/dead.ts";
import { revokeCommand, type RevokeFlags } from "./commands/revoke.ts";
import { unknownOptions } from "./preload.ts";
import { purgeCommand, type PurgeFlags } from "./commands/purge.ts";
import { INSPECT_COMMANDS, inspectChordCommand, inspectCommand } from "./commands/inspect.ts";
import { controlCommand } from "./commands/control.ts";
import { eventsCommand } from "./commands/events.ts";
import { statusCommand, type StatusFlags } from "./commands/status.ts";
import { beatCommand } from "./commands/beat.ts";
import { SCHEDULE_ACTIONS, scheduleCommand } from "./commands/schedule.ts";
import { dashboardCommand, type DashboardFlags } from "./commands/dashboard.ts";
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
    .option("-E, --events", "Send task events even when no one listens (default: only while `taskd events` or a dashboard listens)")
    .option("--metrics-port <n>", "Serve Prometheus metrics on this port at /metrics")
    .option("--log-format <format>", "text (default) or json: one JSON object per line")
    .option("--no-redirect-stdouts", "Leave a task's console output raw on stdout (default: it goes through the task logger)")
    .option("--redirect-stdouts-level <level>", "Level of a task's console.log lines in the log (default: warn)")
    .option("-B, --beat", "Also run a beat (periodic tasks) in this worker; any number may run")
    .option("--watch", "Restart the worker (warm shutdown first) when the module or its relative imports change: for development")
    .example("taskd worker ./tasks.ts -c 20 -Q default -n w1@host")
    .example("taskd worker ./tasks.ts --watch")
    .allowUnknownOptions() // user preload options: see src/cli/preload.ts
    .action((module: string, flags: Record<string, unknown>) =>
      flags.watch ? watchWorker(module, argv) : workerCommand(module, flags, unknownOptions(worker, flags))
    );
  withBrokerOptions(cli.command("call <name> [...args]", "Send a task by name; args are JSON when they parse, strings otherwise"))
    .option("--kwargs <json>", "Keyword arguments as a JSON object, bound by name as in Celery (docs/tasks.md)")
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
  withBrokerOptions(cli.command("inspect <what> [id]", `Ask running workers: ${INSPECT_COMMANDS.join(", ")}; a chord's progress: chord <id>; or queues (depth, paused, waiting per key)`))
    .option("-d, --destination <nodes>", "Only these node names, comma-separated")
    .option("--timeout <s>", "Seconds to wait for replies (default: 1)")
    .option("--json", "Print the replies as one JSON object")
    .example("taskd inspect active -d w1@host")
    .example("taskd inspect chord 5a1c… --json")
    .action((what: string, id: string | undefined, flags: Record<string, unknown>) => (what === "chord" ? inspectChordCommand(id, flags) : inspectCommand(what, flags)));
  withBrokerOptions(cli.command("control <command> [...args]", "Change running workers: shutdown, rate_limit <task> <rate>, enable_events, disable_events"))
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
  withBrokerOptions(cli.command("status", "Show the size of each stream and bucket against its bounds"))
    .option("--json", "Print one JSON object")
    .example("taskd status")
    .action((flags: StatusFlags) => statusCommand(flags));
  withBrokerOptions(cli.command("beat <module>", "Fire the periodic tasks of the module's apps (any number of beats may run)"))
    .option("-l, --loglevel <level>", "debug, info, warn or error", { default: "info" })
    .option("-n, --hostname <name>", "Name in events and logs")
    .example("taskd beat ./tasks.ts")
    .action((module: string, flags: Record<string, unknown>) => beatCommand(module, flags));
  withBrokerOptions(cli.command("schedule <action> [...args]", `Periodic tasks stored on the server: ${SCHEDULE_ACTIONS.join(", ")}`))
    .option("--task <name>", "add: the task to run")
    .option("--every <s>", "add: every S seconds, or 15m, 2h")
    .option("--cron <expr>", "add: a cron expression (5 fields, or 6 with leading seconds)")
    .option("--tz <zone>", "add: the cron's IANA time zone (default: UTC)")
    .option("--at <iso>", "add: one run at this time")
    .option("--args <json>", "add: positional arguments, a JSON array")
    .option("--kwargs <json>", "add: keyword arguments, a JSON object")
    .option("--queue <name>", "add: the queue to send to")
    .option("--expires <s>", "add: a run not started this many seconds after its due time is dropped")
    .option("--catchup <policy>", "add: skip (default), once, or all:N")
    .option("--overlap <policy>", "add: allow (default) or skip")
    .option("--jitter <s>", "add: delay each run by up to S seconds")
    .option("--start <iso>", "add: no run before this time")
    .option("--end <iso>", "add: no run at or after this time")
    .option("--json", "list: print JSON")
    .example("taskd schedule add nightly --task tasks.report --cron '30 2 * * *' --tz Europe/Berlin")
    .example("taskd schedule list")
    .action((action: string, args: string[], flags: Record<string, unknown>) => scheduleCommand(String(action), args.map(String), flags));
  withBrokerOptions(cli.command("dashboard", "Serve the web dashboard and its JSON API (history, search, live updates, metrics)"))
    .option("--port <n>", "TCP port (default: 5555)")
    .option("--host <addr>", "Interface to bind (default: 127.0.0.1)")
    .option("--auth <user:pass>", "Require HTTP basic auth for every page and API call (default: TASKD_DASHBOARD_AUTH)")
    .option("--history-age <s>", "Seconds the history stream keeps task events (default: 7 days)")
    .option("--history-events <n>", "Task events the history stream keeps at most (default: 1000000)")
    .option("--max-tasks <n>", "Tasks kept in the dashboard's index (default: 200000)")
    .example("taskd dashboard --port 5555 --auth admin:secret")
    .action((flags: DashboardFlags) => dashboardCommand(flags));
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

/**
 * Runs the command line and exits the process: 0 when the command finished, 1 with a one-line
 * message on stderr when it failed (the stack too with `TASKD_DEBUG=1`). The package's `taskd`
 * bin (bin/taskd.mjs) calls this when no compiled binary is at hand.
 */
export function run(argv: string[]): Promise<void> {
  return main(argv).then(
    () => process.exit(0),
    (e) => {
      const message = e instanceof Error ? e.message : String(e);
      process.stderr.write(`taskd: ${message.split("\n")[0]}\n`);
      if (process.env.TASKD_DEBUG && e instanceof Error) process.stderr.write(`${e.stack}\n`);
      process.exit(1);
    },
  );
}

// Read through a variable: `bun build --target node` rewrites a literal `import.meta.main` into
// a test that is always true under Node.js ESM, which would run the CLI on every import of the
// built dist/lib/src/cli/main.js (the bin imports it and calls run()).
const meta: { main?: boolean } = import.meta;
if (meta.main) run(process.argv.slice(2));
