/**
 * `taskd dashboard [--port 5555] [--host 127.0.0.1] [--auth user:pass]`: serves the web UI and
 * JSON API (src/dashboard/) until SIGINT/SIGTERM. See docs/dashboard.md.
 * @module
 */
import process from "node:process";
import { Dashboard, DEFAULT_DASHBOARD_HOST, DEFAULT_DASHBOARD_PORT } from "../../dashboard/dashboard.ts";
import { setupLogging } from "../../log/setup.ts";
import { type BrokerFlags, cliApp } from "../broker.ts";
import { CliError } from "../errors.ts";

/** Options of `taskd dashboard`. */
export interface DashboardFlags extends BrokerFlags {
  port?: number | string;
  host?: string;
  auth?: string;
  historyAge?: number | string;
  historyEvents?: number | string;
  maxTasks?: number | string;
}

function num(name: string, v: number | string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new CliError(`Cannot start the dashboard: --${name} must be a number ≥ 0: got '${v}'`);
  return n;
}

/** Runs the dashboard until it is interrupted. */
export async function dashboardCommand(flags: DashboardFlags): Promise<void> {
  await setupLogging({ loglevel: "info" });
  const auth = flags.auth ?? process.env.TASKD_DASHBOARD_AUTH;
  const app = cliApp(flags);
  const dashboard = new Dashboard(app, {
    port: num("port", flags.port) ?? DEFAULT_DASHBOARD_PORT,
    host: flags.host ?? DEFAULT_DASHBOARD_HOST,
    auth: auth === undefined ? undefined : String(auth),
    maxAge: num("history-age", flags.historyAge),
    maxEvents: num("history-events", flags.historyEvents),
    maxTasks: num("max-tasks", flags.maxTasks),
  });
  await dashboard.start();
  const host = flags.host ?? DEFAULT_DASHBOARD_HOST;
  process.stderr.write(`taskd dashboard: listening on http://${host.includes(":") ? `[${host}]` : host}:${dashboard.port}/${auth ? " (basic auth)" : ""}\n`);
  await new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
  await dashboard.stop();
  await app.close();
}
