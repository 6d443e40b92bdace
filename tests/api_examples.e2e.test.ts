/**
 * API.md's examples, run as a new user would: the module pasted from "Defining tasks", served
 * by dist/taskd, called from the library and from the shell.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { add, app, auth, fetchPage, processRows, upload } from "./fixtures/api_examples.ts";
import { useTaskd } from "./helpers/env.ts";

const T = { timeout: 60_000 };
describe("API.md's task definitions through dist/taskd", () => {
  const t = useTaskd({ module: "api_examples.ts", args: ["-n", "api@test"], apps: [app] });

  test("names: function name, explicit name, class name; the worker serves the queue a task names", T, async () => {
    assert.equal(add.name, "tasks.add");
    assert.equal(fetchPage.name, "pages.fetch");
    assert.equal(auth.name, "tasks.NaiveAuthenticateServer");
    assert.match(t.worker.output, /consuming default,io/);
    assert.equal(await (await fetchPage.delay("http://example.com")).get({ timeout: 20 }), "fetched http://example.com");
    assert.equal(await (await auth.delay("george", "password")).get({ timeout: 20 }), true);
  });

  test("an arrow with a base class gets a name numbered in registration order, and its export name on the worker", T, async () => {
    assert.equal(processRows.name, "tasks.anonymous_1");
    const first = await (await processRows.delay()).get({ timeout: 20 });
    const second = await (await processRows.delay()).get({ timeout: 20 });
    assert.deepEqual(first, { rows: [1, 2, 3], connections: 1 });
    assert.deepEqual(second, { rows: [1, 2, 3], connections: 1 }, "the base class's db is created once per process");
    const byExport = await t.cli(["call", "tasks.processRows", "--wait", "--timeout", "20"]);
    assert.equal(byExport.code, 0, byExport.stderr);
    assert.deepEqual(JSON.parse(byExport.stdout), { rows: [1, 2, 3], connections: 1 });
  });

  test("a bound task reports PROGRESS through updateState and returns", T, async () => {
    const r = await upload.delay(["a", "b", "c"]);
    assert.equal(await r.get({ timeout: 20 }), 3);
  });
});
