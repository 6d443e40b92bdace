/**
 * The order of a task's states in the result store: a RETRY written late (it waited out a broker
 * outage, or the retry had no countdown) never hides the state of the attempt after it
 * (src/worker/results.ts, ResultBackend.storeUnlessNewer). The soak found a flaky task that
 * succeeded on its second attempt left at RETRY: its first attempt's RETRY write timed out,
 * was repeated, and landed after the SUCCESS.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { add, app } from "./fixtures/tasks.ts";
import { useTaskd } from "./helpers/env.ts";
import { storeResult } from "../src/worker/results.ts";
import { states } from "../src/protocol/states.ts";

describe("result states in attempt order", () => {
  useTaskd({ module: "tasks.ts", args: ["-c", "2"], apps: [app] });
  const retry = (id: string, retries: number) => ({ taskId: id, taskName: add.name, status: states.RETRY, result: { type: "Retry", message: "again" }, retries });

  test("a late RETRY of attempt 0 leaves attempt 1's SUCCESS in place", async () => {
    const id = `order-${crypto.randomUUID()}`;
    await storeResult(app, { taskId: id, taskName: add.name, status: states.SUCCESS, result: 5, retries: 1, dateDone: new Date().toISOString() });
    await storeResult(app, retry(id, 0));
    const r = app.asyncResult(id);
    assert.equal(await r.state, "SUCCESS");
    assert.equal(await r.get({ timeout: 5 }), 5);
  });

  test("a late RETRY of attempt 0 leaves attempt 1's RETRY in place; attempt 2's RETRY replaces it", async () => {
    const id = `order-${crypto.randomUUID()}`;
    await storeResult(app, retry(id, 1));
    await storeResult(app, retry(id, 0));
    assert.equal((await app.backend.get(id))?.retries, 1);
    await storeResult(app, retry(id, 2));
    const meta = await app.backend.get(id);
    assert.equal(meta?.status, "RETRY");
    assert.equal(meta?.retries, 2);
  });

  test("a RETRY is stored over nothing, and over its own attempt's STARTED", async () => {
    const id = `order-${crypto.randomUUID()}`;
    await storeResult(app, retry(id, 0));
    assert.equal(await app.asyncResult(id).state, "RETRY");
    const id2 = `order-${crypto.randomUUID()}`;
    await storeResult(app, { taskId: id2, taskName: add.name, status: states.STARTED, result: { pid: 1, hostname: "h" }, retries: 0 });
    await storeResult(app, retry(id2, 0));
    assert.equal(await app.asyncResult(id2).state, "RETRY");
  });
});
