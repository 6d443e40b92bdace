/**
 * `taskd beat <module>`: store the module's code-defined schedules and fire every schedule of
 * its app prefix until stopped. Run as many as you like (docs/beat.md): each due time fires once.
 * @module
 */
import process from "node:process";
import { getLogger, setLogLevel } from "../../log/logger.ts";
import { ensureDevServer } from "../../nats/devserver.ts";
import { startBeats } from "../../beat/beat.ts";
import { type BrokerFlags, brokerConfigured } from "../broker.ts";
import { loadTaskModule } from "../load.ts";

const log = getLogger("taskd.beat");

/** Options of `taskd beat`. */
export interface BeatFlags extends BrokerFlags {
  loglevel?: string;
  hostname?: string;
}

/** Runs beats for the module's apps until SIGINT/SIGTERM. */
export async function beatCommand(module: string, flags: BeatFlags): Promise<void> {
  setLogLevel(flags.loglevel ?? "info");
  if (flags.broker) process.env.TASKD_BROKER_URL = flags.broker;
  const apps = await loadTaskModule(module);
  for (const app of apps) {
    for (const key of ["creds", "nkey", "tlsCa", "tlsCert", "tlsKey"] as const) if (flags[key] !== undefined) app.config[key] ??= String(flags[key]);
  }
  const dev = !brokerConfigured(flags) && !apps[0].config.broker ? await ensureDevServer() : undefined;
  if (dev) log.info(`started the dev server at ${dev.url} (store in .taskd/); pass --broker to use another`);
  const beats = await startBeats(apps, { hostname: flags.hostname });
  await new Promise<void>((resolve) => {
    const stop = (sig: string) => {
      log.info(`${sig} received: stopping`);
      resolve();
    };
    process.once("SIGINT", () => stop("SIGINT"));
    process.once("SIGTERM", () => stop("SIGTERM"));
  });
  for (const b of beats) await b.stop();
  for (const app of apps) await app.close().catch(() => {});
  dev?.stop();
}
