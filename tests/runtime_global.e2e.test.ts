/**
 * `globalRateLimit` across two dist/taskd workers: one schedule kept on the server, so two
 * workers together start no more than the limit.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { app, globallyLimited } from "./fixtures/runtime_tasks.ts";
import { useTaskd } from "./helpers/env.ts";

/** Per-test options: Bun's node:test shim defaults to 5 s. */
const T = { timeout: 60_000 };

describe("global rate limit", () => {
  useTaskd({ module: "runtime_tasks.ts", workers: [["-c", "4", "-n", "g1@test"], ["-c", "4", "-n", "g2@test", "--pool", "threads"]], apps: [app], connect: false });

  test('a global limit of "10/s" holds across two workers', T, async () => {
    const sent = Date.now();
    const rs = await Promise.all(Array.from({ length: 25 }, () => globallyLimited.delay()));
    const starts = await Promise.all(rs.map((r) => r.get({ timeout: 30 })));
    const metas = await Promise.all(rs.map((r) => r.meta()));
    const byWorker = new Set(metas.map((m) => m?.worker));
    assert.deepEqual([...byWorker].sort(), ["g1@test", "g2@test"], "both workers should take part");
    starts.sort((a, b) => a - b);
    if (process.env.DEBUG_STARTS) console.log(starts.map((s) => s - starts[0]).join(","), metas.map((m) => m?.worker).join(","));
    // 25 starts, 0.1 s apart in one shared schedule: the last no earlier than 2.4 s after sending.
    assert.ok(starts[24] - sent >= 2400, `25 starts within ${starts[24] - sent} ms`);
    assert.ok(starts[24] - sent < 15_000, `25 starts took ${starts[24] - sent} ms`);
    // No second holds more than 10 starts. A start is never early but may be late (a cold first
    // task on a loaded box: tens of ms), so a window opening on a late start may catch 2 more.
    for (let i = 0; i < starts.length; i++) {
      const inWindow = starts.filter((s) => s >= starts[i] && s < starts[i] + 1000).length;
      assert.ok(inWindow <= 12, `${inWindow} starts in the second after start ${i}`);
    }
    // Over two seconds the shared schedule holds exactly: at most 21 starts in any 2 s.
    for (let i = 0; i < starts.length; i++) {
      const inWindow = starts.filter((s) => s >= starts[i] && s < starts[i] + 2000).length;
      assert.ok(inWindow <= 22, `${inWindow} starts in the two seconds after start ${i}`);
    }
  });
});
