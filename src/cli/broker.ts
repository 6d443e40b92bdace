/**
 * The broker options every command shares (`--broker`, auth and TLS files, `--prefix`) and
 * how a command gets its App from them.
 * @module
 */
import process from "node:process";
import { readFileSync } from "node:fs";
import { CliError } from "./errors.ts";
import { App } from "../app/app.ts";
import type { AppConfig } from "../app/options.ts";

/** Broker options as cac parses them. */
export interface BrokerFlags {
  broker?: string;
  prefix?: string;
  creds?: string;
  nkey?: string;
  tlsCa?: string;
  tlsCert?: string;
  tlsKey?: string;
  signingKey?: string;
  trusted?: string;
}

/** Declares the shared broker options on a cac command. */
// deno-lint-ignore no-explicit-any
export function withBrokerOptions(cmd: any): any {
  return cmd
    .option("--broker <url>", "Broker URL(s), comma-separated (default: TASKD_BROKER_URL, else nats://127.0.0.1:4222)")
    .option("--prefix <prefix>", "Subject, stream and bucket prefix (default: taskd)")
    .option("--creds <file>", "NATS credentials file")
    .option("--nkey <file>", "File holding an nkey seed")
    .option("--tls-ca <file>", "CA certificate to trust")
    .option("--tls-cert <file>", "Client certificate")
    .option("--tls-key <file>", "Client certificate key")
    .option("--signing-key <file>", "File holding the nkey seed (SU…) that signs task messages (default: TASKD_SIGNING_KEY)")
    .option("--trusted <file>", "File of public nkeys (U…), one a line, whose signed messages a worker runs (default: TASKD_TRUSTED_KEYS)");
}

/** Whether the user configured a broker in any way (flag or environment). */
export function brokerConfigured(flags: BrokerFlags): boolean {
  return Boolean(flags.broker ?? process.env.TASKD_BROKER_URL);
}

/**
 * Reads `--signing-key` and `--trusted` into `TASKD_SIGNING_KEY` and `TASKD_TRUSTED_KEYS`, where
 * every App of this process (the task module's, pool threads' and the CLI's own) finds them.
 */
export function applySigningFlags(flags: BrokerFlags): void {
  const read = (flag: string, file: string) => {
    try {
      return readFileSync(file, "utf8").trim();
    } catch (e) {
      throw new CliError(`Cannot read ${flag} ${file}: ${(e as Error).message}`);
    }
  };
  if (flags.signingKey) process.env.TASKD_SIGNING_KEY = read("--signing-key", flags.signingKey);
  if (flags.trusted) process.env.TASKD_TRUSTED_KEYS = read("--trusted", flags.trusted).split(/\s+/).filter(Boolean).join(",");
}

/** The App config the flags describe. */
export function configFrom(flags: BrokerFlags): AppConfig {
  applySigningFlags(flags);
  return {
    ...(flags.broker ? { broker: flags.broker } : {}),
    ...(flags.prefix ? { prefix: flags.prefix } : {}),
    creds: flags.creds,
    nkey: flags.nkey,
    tlsCa: flags.tlsCa,
    tlsCert: flags.tlsCert,
    tlsKey: flags.tlsKey,
  };
}

/** An App for commands that need no task module (call, result, inspect…). */
export function cliApp(flags: BrokerFlags): App {
  const app = new App("taskd-cli", configFrom(flags));
  if (flags.broker) app.useBroker(flags.broker);
  return app;
}
