/**
 * Tenant isolation: two apps on two NATS accounts of one server, both with the default prefix,
 * cannot see or run each other's tasks or read each other's results. Isolation is the
 * account's (JetStream streams, KV buckets and subjects are per account); taskd adds nothing.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "@nats-io/transport-node";
import type { Msg, NatsConnection } from "@nats-io/nats-core";
import { App } from "../mod.ts";
import { NatsServer } from "./helpers/server.ts";
import { fixture, startWorker, type WorkerProcess } from "./helpers/taskd.ts";

let server: NatsServer;
let workerA: WorkerProcess;
let workerB: WorkerProcess;
let appA: App;
let appB: App;
let spy: NatsConnection;

const url = (user: string) => server.url.replace("nats://", `nats://${user}:${user}-pass@`);

describe("tenant isolation with NATS accounts", () => {
  before(async () => {
    const dir = mkdtempSync(join(tmpdir(), "taskd-accounts-"));
    const conf = join(dir, "server.conf");
    writeFileSync(
      conf,
      `accounts {
  TENANT_A { jetstream: enabled, users: [{ user: alice, password: alice-pass }] }
  TENANT_B { jetstream: enabled, users: [{ user: bob, password: bob-pass }] }
}
`,
    );
    server = await NatsServer.start(["-c", conf]);
    workerA = await startWorker(url("alice"), fixture("tasks.ts"), { args: ["-n", "a@test"] });
    workerB = await startWorker(url("bob"), fixture("tasks.ts"), { args: ["-n", "b@test"] });
    appA = new App("tenant-a", { broker: url("alice") });
    appB = new App("tenant-b", { broker: url("bob") });
    spy = await connect({ servers: server.url, user: "bob", pass: "bob-pass" });
  });
  after(async () => {
    await Promise.all([appA?.close(), appB?.close(), spy?.close()]);
    await Promise.all([workerA?.stop(), workerB?.stop()]);
    await server?.stop();
  });

  test("each tenant's tasks run on its own workers; the other tenant sees none of its traffic or results", async () => {
    const seen: Msg[] = [];
    const sub = spy.subscribe(">", { callback: (_e, m) => void seen.push(m) });
    await spy.flush();
    const a = await appA.sendTask("tasks.add", [20, 22]);
    assert.equal(await a.get({ timeout: 15 }), 42);
    const b = await appB.sendTask("tasks.add", [1, 2]);
    assert.equal(await b.get({ timeout: 15 }), 3);
    assert.match(workerA.output, new RegExp(`tasks\\.add\\[${a.id}\\] succeeded`));
    assert.doesNotMatch(workerB.output, new RegExp(a.id), "tenant B's worker never received A's task");
    assert.doesNotMatch(workerA.output, new RegExp(b.id), "tenant A's worker never received B's task");
    await spy.flush();
    sub.unsubscribe();
    // B's own reads below go through B's account: the spy stopped before them.
    assert.equal(await appB.asyncResult(a.id).state, "PENDING", "B cannot read A's result: its bucket is B's own");
    assert.equal(await appA.asyncResult(b.id).state, "PENDING");
    const leaked = seen.filter((m) => m.subject.includes(a.id) || new TextDecoder().decode(m.data).includes(a.id) || m.headers?.get("taskd-id") === a.id);
    assert.deepEqual(leaked.map((m) => m.subject), [], "a '>' subscription in tenant B saw nothing of A's task");
    assert.ok(seen.some((m) => m.headers?.get("taskd-id") === b.id || m.subject.includes(b.id)), "the spy does see its own tenant's traffic (the check can fail)");
  });
});
