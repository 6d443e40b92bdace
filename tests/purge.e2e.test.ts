/**
 * `taskd purge`: waiting messages of the named queues go, others stay; `--delayed` takes the
 * delayed ones too.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { App } from "../mod.ts";
import { NatsServer } from "./helpers/server.ts";
import { runCli } from "./helpers/taskd.ts";

let server: NatsServer;
let app: App;

describe("taskd purge", () => {
  before(async () => {
    server = await NatsServer.start();
    app = new App("purge", { broker: server.url });
  });
  after(async () => {
    await app.close();
    await server?.stop();
  });

  test("purges the named queue only; --delayed purges its delayed tasks too; bad names are refused", async () => {
    const saved = process.env.TASKD_BROKER_URL;
    delete process.env.TASKD_BROKER_URL;
    try {
      for (let i = 0; i < 3; i++) await app.sendTask("x.y", [i], { queue: "a" });
      await app.sendTask("x.y", [9], { queue: "b" });
      await app.sendTask("x.y", [8], { queue: "a", countdown: 300 });
    } finally {
      process.env.TASKD_BROKER_URL = saved;
    }
    const first = await runCli(server.url, ["purge", "a"]);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(first.stdout.trim(), "purged 3 messages from queue a");
    const second = await runCli(server.url, ["purge", "a", "--delayed"]);
    assert.deepEqual(second.stdout.trim().split("\n"), ["purged 0 messages from queue a", "purged 1 message from queue a (delayed)"]);
    const rest = await runCli(server.url, ["purge"]);
    assert.equal(rest.stdout.trim(), "purged 1 message from all queues");
    const bad = await runCli(server.url, ["purge", "a.b"]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /^taskd: Cannot use queue 'a\.b'/);
  });
});
