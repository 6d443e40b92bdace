/**
 * Signed messages through dist/taskd: a worker given trusted keys runs only messages signed by
 * one of them (or by itself: its retries and workflow steps), and dead-letters unsigned, forged
 * and altered ones with the reason, storing no result for them.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createUser } from "@nats-io/nkeys";
import { connect } from "@nats-io/transport-node";
import { jetstream } from "@nats-io/jetstream";
import { headers as natsHeaders, type NatsConnection } from "@nats-io/nats-core";
import { App, chain, signature } from "../mod.ts";
import { encodeTask } from "../src/protocol/message.ts";
import { MessageSigner, MessageVerifier } from "../src/protocol/signing.ts";
import { NatsServer } from "./helpers/server.ts";
import { eventually, fixture, runCli, startWorker, type WorkerProcess } from "./helpers/taskd.ts";

const seedOf = (kp: ReturnType<typeof createUser>) => new TextDecoder().decode(kp.getSeed());

let server: NatsServer;
let worker: WorkerProcess;
let nc: NatsConnection;
let signed: App;
let unsigned: App;
let stranger: App;
const dir = mkdtempSync(join(tmpdir(), "taskd-signing-"));
const clientKey = createUser();
const workerKey = createUser();
const strangerKey = createUser();
const files = { worker: join(dir, "worker.nk"), client: join(dir, "client.nk"), trusted: join(dir, "trusted.txt") };

interface Dead {
  id?: string;
  task?: string;
  reason?: string;
}

async function deadLetters(): Promise<Dead[]> {
  const r = await runCli(server.url, ["dead", "list", "--json"]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.split("\n").filter(Boolean).map((l) => JSON.parse(l) as Dead);
}

async function deadLetterOf(id: string): Promise<Dead> {
  return await eventually(async () => (await deadLetters()).find((d) => d.id === id), 15_000);
}

describe("signed messages through dist/taskd", () => {
  before(async () => {
    server = await NatsServer.start();
    writeFileSync(files.worker, seedOf(workerKey));
    writeFileSync(files.client, seedOf(clientKey));
    writeFileSync(files.trusted, `${clientKey.getPublicKey()}\n`);
    worker = await startWorker(server.url, fixture("tasks.ts"), { args: ["-n", "signed@test", "--signing-key", files.worker, "--trusted", files.trusted] });
    signed = new App("signed-client", { broker: server.url, signing: { key: seedOf(clientKey) } });
    unsigned = new App("unsigned-client", { broker: server.url });
    stranger = new App("stranger-client", { broker: server.url, signing: { key: seedOf(strangerKey) } });
    nc = await connect({ servers: server.url });
  });
  after(async () => {
    await Promise.all([signed?.close(), unsigned?.close(), stranger?.close()]);
    await nc?.close();
    await worker?.stop();
    await server?.stop();
  });

  test("a message signed by a trusted key runs", async () => {
    const r = await signed.sendTask("tasks.add", [2, 3]);
    assert.equal(await r.get({ timeout: 15 }), 5);
  });

  test("workflow steps the worker sends are signed by its own key and run", async () => {
    const r = await chain(signature("tasks.add", { args: [1, 2], app: signed }), signature("tasks.add", { args: [3], app: signed })).applyAsync();
    assert.equal(await r.get({ timeout: 15 }), 6);
  });

  test("an unsigned message is dead-lettered with the reason and stores no result", async () => {
    const r = await unsigned.sendTask("tasks.add", [1, 1]);
    const d = await deadLetterOf(r.id);
    assert.match(d.reason ?? "", /^unsigned message/);
    assert.equal(await r.state, "PENDING", "no FAILURE is written for a message nobody vouched for");
  });

  test("a message signed by an untrusted key is dead-lettered naming the key", async () => {
    const r = await stranger.sendTask("tasks.add", [1, 1]);
    const d = await deadLetterOf(r.id);
    assert.equal(d.reason, `message signed by an untrusted key ${strangerKey.getPublicKey()}: add it to the worker's signing.trusted to accept it`);
  });

  test("a signed message whose arguments or routing headers were altered is dead-lettered, never run", async () => {
    const js = jetstream(nc);
    const send = async (id: string, alter: (w: { headers: Record<string, string>; data: Uint8Array }) => void) => {
      const wire = encodeTask({ id, task: "tasks.add", retries: 0, queue: "default", args: [2, 2], kwargs: {}, embed: {} });
      new MessageSigner(seedOf(clientKey)).sign(wire.headers, wire.data);
      alter(wire);
      const h = natsHeaders();
      for (const [k, v] of Object.entries(wire.headers)) h.set(k, v);
      await js.publish("taskd.tasks.default", wire.data, { headers: h });
    };
    await send("altered-args", (w) => (w.data = encodeTask({ id: "x", task: "tasks.add", retries: 0, queue: "default", args: [200, 2], kwargs: {}, embed: {} }).data));
    await send("altered-task", (w) => (w.headers["taskd-task"] = "tasks.fail"));
    for (const id of ["altered-args", "altered-task"]) {
      const d = await deadLetterOf(id);
      assert.match(d.reason ?? "", /^signature does not match the message \(forged, or altered after signing\)/, id);
      assert.equal(await signed.asyncResult(id).state, "PENDING");
    }
    assert.doesNotMatch(worker.output, /tasks\.(add|fail)\[altered-/, "neither ran");
  });

  test("taskd call signs with --signing-key; without it the worker refuses the call", async () => {
    const ok = await runCli(server.url, ["call", "tasks.add", "4", "5", "--wait", "--timeout", "15", "--signing-key", files.client]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout.trim(), "9");
    const refused = await runCli(server.url, ["call", "tasks.add", "4", "5"]);
    assert.equal(refused.code, 0, refused.stderr);
    const id = refused.stdout.trim();
    assert.match((await deadLetterOf(id)).reason ?? "", /^unsigned message/);
  });

  test("a worker that takes only signed messages needs a signing key of its own; a bad key is refused", async () => {
    const noKey = await startWorker(server.url, fixture("tasks.ts"), { args: ["-n", "nokey@test", "--trusted", files.trusted], waitReady: false });
    assert.notEqual(await noKey.exited, 0);
    assert.match(noKey.output, /without a signing key: the retries and workflow steps it sends must be signed too/);
    assert.throws(() => new MessageSigner("not-a-seed"), /Cannot sign with the signing key: it is not an nkey seed \(SU…\)/);
    assert.throws(() => new MessageVerifier(["UNOTAKEY"]), /Cannot trust 'UNOTAKEY': it is not a user public nkey/);
  });
});
