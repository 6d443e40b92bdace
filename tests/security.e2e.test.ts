/**
 * Authentication and TLS end to end: for each way NATS authenticates (user/password, token, nkey
 * seed file, credentials file in operator mode, TLS with a CA and a client certificate), a
 * nats-server started with that config, a `dist/taskd worker` and a `taskd call` given the
 * secret through the URL or the CLI flags, and a library client given it through the App
 * config. Wrong or missing secrets fail at once with a clear line. A permissions config lets a
 * client call tasks and read results but not publish to the control subjects.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "@nats-io/transport-node";
import { Empty } from "@nats-io/nats-core";
import { App, type AppConfig, BrokerError } from "../mod.ts";
import { NatsServer } from "./helpers/server.ts";
import { fixture, runCli, startWorker, type WorkerProcess } from "./helpers/taskd.ts";
import { makeCertificates, makeOperatorSetup, makeUserNkey } from "./helpers/auth.ts";

let dir: string;
const servers: NatsServer[] = [];
const workers: WorkerProcess[] = [];
const apps: App[] = [];

async function serverWith(config: string): Promise<NatsServer> {
  const file = join(dir, `server-${servers.length}.conf`);
  writeFileSync(file, config);
  const s = await NatsServer.start(["-c", file]);
  servers.push(s);
  return s;
}

/** A worker, a CLI call and a library call through one authenticated setup. */
async function roundTrip(o: { workerUrl: string; workerArgs?: string[]; cliUrl: string; cliArgs?: string[]; appConfig: AppConfig }): Promise<void> {
  const w = await startWorker(o.workerUrl, fixture("reliable.ts"), { args: ["-c", "4", ...(o.workerArgs ?? [])] });
  workers.push(w);
  const cli = await runCli(o.cliUrl, ["call", "rel.record", "20", "0", "--wait", "--timeout", "20", ...(o.cliArgs ?? [])]);
  assert.equal(cli.code, 0, cli.stderr);
  assert.equal(cli.stdout.trim(), "40");
  const app = new App("sec", o.appConfig);
  apps.push(app);
  assert.equal(await (await app.sendTask("rel.record", [21, 0])).get({ timeout: 20 }), 42);
  await app.close();
  await w.stop(5000);
}

async function refused(url: string, args: string[] = []): Promise<void> {
  const cli = await runCli(url, ["call", "rel.record", "1", "0", ...args], { timeoutMs: 30_000 });
  assert.notEqual(cli.code, 0);
  assert.equal(cli.stderr.trim().split("\n").length, 1, cli.stderr);
  assert.match(cli.stderr, /^taskd: Cannot connect to the broker .*(Authorization Violation|tls|certificate|handshake|socket).*check the credentials/i);
}

describe("authentication and TLS through the URL, the CLI flags and the App config", () => {
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "taskd-sec-"));
    delete process.env.TASKD_BROKER_URL;
  });

  after(async () => {
    for (const a of apps) await a.close().catch(() => {});
    await Promise.all(workers.map((w) => w.stop(2000)));
    for (const s of servers) await s.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("user and password: in the URL and in the App config; a wrong password is refused", { timeout: 60_000 }, async () => {
    const s = await serverWith(`authorization { user: taskd, password: "s3cr et/pw" }\n`);
    const url = `nats://taskd:${encodeURIComponent("s3cr et/pw")}@127.0.0.1:${s.port}`;
    await roundTrip({ workerUrl: url, cliUrl: url, appConfig: { broker: s.url, user: "taskd", pass: "s3cr et/pw" } });
    await refused(`nats://taskd:wrong@127.0.0.1:${s.port}`);
    await refused(s.url);
    const bad = new App("sec-bad", { broker: s.url, user: "taskd", pass: "nope" });
    apps.push(bad);
    await assert.rejects(bad.sendTask("rel.record", [1, 0]), (e: unknown) => e instanceof BrokerError && /Authorization Violation/.test((e as Error).message));
  });

  test("token: in the URL and in the App config; a wrong token is refused", { timeout: 60_000 }, async () => {
    const s = await serverWith(`authorization { token: "t0ken-abc" }\n`);
    const url = `nats://t0ken-abc@127.0.0.1:${s.port}`;
    await roundTrip({ workerUrl: url, cliUrl: url, appConfig: { broker: s.url, token: "t0ken-abc" } });
    await refused(`nats://wrong@127.0.0.1:${s.port}`);
  });

  test("nkey seed file: --nkey on worker and CLI, nkey in the App config", { timeout: 60_000 }, async () => {
    const seed = join(dir, "user.nk");
    const pub = makeUserNkey(seed);
    const s = await serverWith(`authorization { users: [ { nkey: ${pub} } ] }\n`);
    await roundTrip({ workerUrl: s.url, workerArgs: ["--nkey", seed], cliUrl: s.url, cliArgs: ["--nkey", seed], appConfig: { broker: s.url, nkey: seed } });
    const other = join(dir, "other.nk");
    makeUserNkey(other);
    await refused(s.url, ["--nkey", other]);
  });

  test("credentials file (operator mode, JWT chain): --creds on worker and CLI, creds in the App config", { timeout: 60_000 }, async () => {
    const creds = join(dir, "user.creds");
    const { serverConfig } = makeOperatorSetup(creds);
    const s = await serverWith(serverConfig);
    await roundTrip({ workerUrl: s.url, workerArgs: ["--creds", creds], cliUrl: s.url, cliArgs: ["--creds", creds], appConfig: { broker: s.url, creds } });
    const stranger = join(dir, "stranger.creds");
    makeOperatorSetup(stranger); // signed by another operator
    await refused(s.url, ["--creds", stranger]);
  });

  test("TLS with a CA and a client certificate: --tls-ca/--tls-cert/--tls-key and the App config", { timeout: 60_000 }, async () => {
    const c = makeCertificates(dir);
    const s = await serverWith(`tls {\n  cert_file: "${c.serverCert}"\n  key_file: "${c.serverKey}"\n  ca_file: "${c.ca}"\n  verify: true\n  timeout: 5\n}\n`);
    const flags = ["--tls-ca", c.ca, "--tls-cert", c.clientCert, "--tls-key", c.clientKey];
    await roundTrip({ workerUrl: s.url, workerArgs: flags, cliUrl: s.url, cliArgs: flags, appConfig: { broker: s.url, tlsCa: c.ca, tlsCert: c.clientCert, tlsKey: c.clientKey } });
    // Without a client certificate the server refuses the handshake.
    const noCert = await runCli(s.url, ["call", "rel.record", "1", "0", "--tls-ca", c.ca], { timeoutMs: 30_000 });
    assert.notEqual(noCert.code, 0);
    assert.match(noCert.stderr, /^taskd: Cannot connect to the broker/);
  });

  test("permissions: a client may call tasks and read results, not publish control commands", { timeout: 60_000 }, async () => {
    const s = await serverWith(`authorization {
  users: [
    { user: worker, password: wpw }
    { user: client, password: cpw, permissions: {
        publish: {
          allow: ["taskd.tasks.>", "taskd.delayed.>", "$JS.API.INFO", "$JS.API.STREAM.INFO.*",
                  "$JS.API.STREAM.CREATE.KV_taskd_results", "$JS.API.STREAM.MSG.GET.KV_taskd_results",
                  "$JS.API.DIRECT.GET.KV_taskd_results.>", "$KV.taskd_results.>"]
          deny: ["taskd.control.>"]
        }
        subscribe: { allow: ["_INBOX.>", "$KV.taskd_results.>"] }
    } }
  ]
}
`);
    const w = await startWorker(`nats://worker:wpw@127.0.0.1:${s.port}`, fixture("reliable.ts"), { args: ["-c", "4"] });
    workers.push(w);
    const app = new App("sec-client", { broker: s.url, user: "client", pass: "cpw" });
    apps.push(app);
    assert.equal(await (await app.sendTask("rel.record", [5, 0])).get({ timeout: 20 }), 10);
    const nc = await connect({ servers: s.url, user: "client", pass: "cpw" });
    try {
      await assert.rejects(nc.request("taskd.control.shutdown", Empty, { timeout: 3000 }), /permission/i);
    } finally {
      await nc.close().catch(() => {});
    }
    assert.equal(w.proc.exitCode, null);
  });
});
