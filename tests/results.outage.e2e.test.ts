/**
 * `app.backend.markAsDone` / `markAsFailure` (what a Batches task or a custom flow calls to
 * settle a request) ride out a broker outage as the worker's own result writes do: the soak saw
 * a Batches task fail 10 requests because its `markAsDone` met "no responders" while a server
 * restarted. A result put is idempotent, so repeating it is safe.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { App } from "../mod.ts";
import { useTaskd } from "./helpers/env.ts";

const app = new App("outage");

describe("result writes of user code through a broker restart", () => {
  const t = useTaskd({ apps: [app] });

  test("markAsDone and markAsFailure called while the server is down complete once it is back", { timeout: 60_000 }, async () => {
    await app.backend.markAsDone(`warm-${crypto.randomUUID()}`, 0); // the bucket exists
    const done = `done-${crypto.randomUUID()}`;
    const failed = `failed-${crypto.randomUUID()}`;
    await t.server.kill("SIGKILL");
    const writes = Promise.allSettled([app.backend.markAsDone(done, { n: 1 }), app.backend.markAsFailure(failed, new RangeError("bad n"))]);
    await new Promise((r) => setTimeout(r, 1500));
    await t.server.restart();
    const [a, b] = await writes;
    assert.equal(a.status, "fulfilled", a.status === "rejected" ? String(a.reason) : "");
    assert.equal(b.status, "fulfilled", b.status === "rejected" ? String(b.reason) : "");
    assert.deepEqual(await app.asyncResult(done).get({ timeout: 10 }), { n: 1 });
    assert.equal((await app.backend.get(failed))?.status, "FAILURE");
  });
});
