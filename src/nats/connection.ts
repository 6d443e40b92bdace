/**
 * Opening a NATS connection from taskd's settings: broker URLs (credentials may ride in them),
 * credentials and nkey files, TLS. A worker reconnects forever; a client gives up on its
 * first connect after `timeout` with a clear {@link BrokerError}.
 * @module
 */
import { readFileSync } from "node:fs";
import { connect } from "@nats-io/transport-node";
import {
  credsAuthenticator,
  type NatsConnection,
  nkeyAuthenticator,
  tokenAuthenticator,
  usernamePasswordAuthenticator,
  type Authenticator,
} from "@nats-io/nats-core";
import { BrokerError } from "../errors/errors.ts";

/** The default broker: the dev server's address. */
export const DEFAULT_BROKER_URL = "nats://127.0.0.1:4222";

/** How to reach and authenticate to the broker. Shared by the App config and the CLI. */
export interface BrokerAuthOptions {
  /** A credentials (JWT + seed) file. */
  creds?: string;
  /** A file holding an nkey seed (`SU…`). */
  nkey?: string;
  /** A CA certificate file to trust for TLS. */
  tlsCa?: string;
  /** A client certificate file for TLS. */
  tlsCert?: string;
  /** The client certificate's key file. */
  tlsKey?: string;
  /** User name, when not in the URL. */
  user?: string;
  /** Password, when not in the URL. */
  pass?: string;
  /** Token, when not in the URL. */
  token?: string;
}

/** Options of {@link openConnection}. */
export interface OpenOptions extends BrokerAuthOptions {
  /** One URL, a comma-separated list, or a list of the servers of one cluster. */
  servers: string | string[];
  /** A name shown by the server's monitoring. */
  name?: string;
  /** Milliseconds to wait for the first connection. @default 5000 */
  timeout?: number;
  /** Keep retrying the first connect too (workers). @default false */
  waitOnFirstConnect?: boolean;
}

interface ParsedServers {
  servers: string[];
  user?: string;
  pass?: string;
  token?: string;
}

/** Splits broker URLs and lifts `user:pass@` or `token@` out of them. */
export function parseServers(input: string | string[]): ParsedServers {
  const list = (Array.isArray(input) ? input : input.split(",")).map((s) => s.trim()).filter(Boolean);
  if (list.length === 0) throw new TypeError("Cannot connect: the broker URL is empty; pass --broker nats://host:4222");
  const out: ParsedServers = { servers: [] };
  for (const raw of list) {
    const withScheme = raw.includes("://") ? raw : `nats://${raw}`;
    let url: URL;
    try {
      url = new URL(withScheme);
    } catch {
      throw new TypeError(`Cannot connect: '${raw}' is not a broker URL; expected nats://host:4222`);
    }
    if (url.username && url.password) {
      out.user = decodeURIComponent(url.username);
      out.pass = decodeURIComponent(url.password);
    } else if (url.username) {
      out.token = decodeURIComponent(url.username);
    }
    const scheme = url.protocol === "tls:" ? "tls" : "nats";
    out.servers.push(`${scheme}://${url.hostname}:${url.port || "4222"}`);
  }
  return out;
}

function authenticators(o: BrokerAuthOptions & ParsedServers): Authenticator[] {
  const auth: Authenticator[] = [];
  if (o.creds) auth.push(credsAuthenticator(readFileSync(o.creds)));
  if (o.nkey) auth.push(nkeyAuthenticator(new TextEncoder().encode(readFileSync(o.nkey, "utf8").trim())));
  if (o.user !== undefined) auth.push(usernamePasswordAuthenticator(o.user, o.pass));
  if (o.token !== undefined) auth.push(tokenAuthenticator(o.token));
  return auth;
}

/** Opens a connection; throws {@link BrokerError} naming the servers when it cannot. */
export async function openConnection(options: OpenOptions): Promise<NatsConnection> {
  const parsed = parseServers(options.servers);
  const merged = {
    ...parsed,
    user: options.user ?? parsed.user,
    pass: options.pass ?? parsed.pass,
    token: options.token ?? parsed.token,
    creds: options.creds,
    nkey: options.nkey,
  };
  const auth = authenticators(merged);
  const tls = options.tlsCa || options.tlsCert
    ? { caFile: options.tlsCa, certFile: options.tlsCert, keyFile: options.tlsKey }
    : undefined;
  try {
    return await connect({
      servers: parsed.servers,
      name: options.name,
      timeout: options.timeout ?? 5000,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 500,
      waitOnFirstConnect: options.waitOnFirstConnect ?? false,
      authenticator: auth.length ? auth : undefined,
      tls,
    });
  } catch (e) {
    const message = (e as Error).message;
    const hint = /authori[sz]ation|authentication|permission|tls|certificate|handshake/i.test(`${message} ${(e as Error).name}`)
      ? "check the credentials (user:pass@ or token@ in the URL, --creds, --nkey) and TLS files (--tls-ca, --tls-cert, --tls-key)"
      : "start nats-server with -js or pass --broker / TASKD_BROKER_URL";
    throw new BrokerError(`Cannot connect to the broker at ${parsed.servers.join(",")}: ${message}; ${hint}`, { cause: e });
  }
}

/** The authentication fields of `config` (an app's settings), as `openConnection` takes them. */
export function authOptions(config: BrokerAuthOptions): BrokerAuthOptions {
  const { creds, nkey, tlsCa, tlsCert, tlsKey, user, pass, token } = config;
  return { creds, nkey, tlsCa, tlsCert, tlsKey, user, pass, token };
}

/**
 * Opens a connection, retrying every second with a warning until the broker answers; an
 * authentication failure, or `stop()` turning true, ends the retries with the error.
 */
export async function connectWithRetry(options: OpenOptions, log: { warn(msg: string): void; info(msg: string): void }, stop: () => boolean = () => false): Promise<NatsConnection> {
  for (let attempt = 1;; attempt++) {
    try {
      const nc = await openConnection(options);
      if (attempt > 1) log.info(`connected to ${[options.servers].flat().join(",")}`);
      return nc;
    } catch (e) {
      if (/authori[sz]ation|authentication/i.test(String((e as Error).message)) || stop()) throw e;
      log.warn(`${(e as Error).message} (attempt ${attempt}; retrying in 1 s)`);
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}
