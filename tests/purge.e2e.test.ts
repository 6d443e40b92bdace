/**
 * `taskd purge`: waiting messages of the named queues go, others stay; `--delayed` takes the
 * delayed ones too.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { App } from "../mod.ts";
import { useTaskd } from "./helpers/env.ts";

const app = new App("purge");

describe("taskd purge", () => {
  const t = useTaskd({ apps: [app], connect: false });

  test("purges the named queue only; --delayed purges its delayed tasks too; bad names are refused", async () => {
    for (let i = 0; i < 3; i++) await app.sendTask("x.y", [i], { queue: "a" });
    await app.sendTask("x.y", [9], { queue: "b" });
    await app.sendTask("x.y", [8], { queue: "a", countdown: 300 });
    const first = await t.cli(["purge", "a"]);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(first.stdout.trim(), "purged 3 messages from queue a");
    const second = await t.cli(["purge", "a", "--delayed"]);
    assert.deepEqual(second.stdout.trim().split("\n"), ["purged 0 messages from queue a", "purged 1 message from queue a (delayed)"]);
    const rest = await t.cli(["purge"]);
    assert.equal(rest.stdout.trim(), "purged 1 message from all queues");
    const bad = await t.cli(["purge", "a.b"]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /^taskd: Cannot use queue 'a\.b'/);
  });
});
