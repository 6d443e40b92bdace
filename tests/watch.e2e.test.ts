/**
 * `taskd worker ./tasks.ts --watch`: an edit of the module or of a file it imports restarts
 * the worker within 2 s, after a warm shutdown (a task running at the edit finishes and its
 * result is stored), and the new code serves the next call. Runs the compiled binary on a
 * module in a temporary folder (tests/package.e2e.test.ts has the package's bin; under Deno a
 * restarted worker would not get the repository's `--config`).
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { App } from "../mod.ts";
import { NatsServer } from "./helpers/server.ts";
import { startWorker, type WorkerProcess } from "./helpers/taskd.ts";

const QUEUE = "watch";
const RESTART_WITHIN_MS = 2_000;

const tasksSource = (extra = "") => `
import { App } from "taskd";
import { version } from "./lib/version.ts";
export const app = new App("watch");
export const current = app.task({ name: "watch.version", queue: "${QUEUE}" }, function current() { return version; });
export const slow = app.task({ name: "watch.slow", queue: "${QUEUE}" }, async function slow(ms: number) {
  await new Promise((r) => setTimeout(r, ms));
  return "finished";
});
${extra}
`;
const versionSource = (v: string) => `export const version = "${v}";\n`;

let server: NatsServer;
let dir: string;
let client: App;
let worker: WorkerProcess | undefined;

function readyCount(): number {
  return worker!.output.match(/ready: consuming/g)?.length ?? 0;
}

/** Writes `file` and resolves with the milliseconds until the worker is ready again. */
async function editAndTimeRestart(file: string, text: string): Promise<number> {
  const before = readyCount();
  const t0 = Date.now();
  writeFileSync(file, text);
  while (readyCount() <= before) {
    if (Date.now() - t0 > 20_000) throw new Error(`no restart after editing ${file}:\n${worker!.output}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return Date.now() - t0;
}

describe("taskd worker --watch", () => {
  before(async () => {
    server = await NatsServer.start();
    dir = mkdtempSync(join(tmpdir(), "taskd-watch-"));
    mkdirSync(join(dir, "lib"));
    writeFileSync(join(dir, "tasks.ts"), tasksSource());
    writeFileSync(join(dir, "lib", "version.ts"), versionSource("v1"));
    client = new App("watch-client", { broker: server.url });
    worker = await startWorker(server.url, "./tasks.ts", { kind: "binary", cwd: dir, args: ["--watch", "-Q", QUEUE] });
  });

  after(async () => {
    if (worker) assert.equal(await worker.stop(), 0, `the supervisor and its worker stop on SIGTERM:\n${worker.output}`);
    await client?.close();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("an edit of an imported file restarts within 2 s, after the running task finished", async () => {
    assert.equal(await (await client.sendTask("watch.version", [], { queue: QUEUE })).get({ timeout: 20 }), "v1");
    const running = await client.sendTask("watch.slow", [600], { queue: QUEUE });
    await worker!.waitFor("watch.slow", 10_000);
    const ms = await editAndTimeRestart(join(dir, "lib", "version.ts"), versionSource("v2"));
    console.log(`restart after an edit of lib/version.ts: ${ms} ms (a 600 ms task was running)`);
    // The warm shutdown waited for the running task, so the restart took at least its rest.
    assert.equal(await running.get({ timeout: 20 }), "finished");
    assert.ok(ms < RESTART_WITHIN_MS + 600, `restarted in ${ms} ms`);
    assert.equal(await (await client.sendTask("watch.version", [], { queue: QUEUE })).get({ timeout: 20 }), "v2");
  });

  test("an edit of the module itself restarts within 2 s and serves the new task", async () => {
    const extra = `export const added = app.task({ name: "watch.added", queue: "${QUEUE}" }, (x: number) => x * 2);`;
    const ms = await editAndTimeRestart(join(dir, "tasks.ts"), tasksSource(extra));
    console.log(`restart after an edit of tasks.ts: ${ms} ms`);
    assert.ok(ms < RESTART_WITHIN_MS, `restarted in ${ms} ms`);
    assert.equal(await (await client.sendTask("watch.added", [21], { queue: QUEUE })).get({ timeout: 20 }), 42);
    assert.match(worker!.output, /changed: restarting the worker \(warm shutdown first\)/);
  });
});
