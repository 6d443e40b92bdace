/**
 * taskd as a JSR-style TypeScript import for Deno: the files `deno publish` would upload
 * (mod.ts, worker.ts, src/ and deno.json) as a member of a Deno workspace, imported by name
 * (`@taskd/taskd`) from another member, so bare imports in taskd's source resolve only through
 * deno.json's `imports` (`npm:` specifiers, installed by Deno from the npm registry) — as they
 * would from jsr.io, which is not reachable here. The client type-checks (a typed sendTask with
 * `@ts-expect-error` lines) and gets a result from a worker (dist/taskd). Skipped when the
 * registry cannot be reached.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { NatsServer } from "./helpers/server.ts";
import { fixture, ROOT, runCommand as run, startWorker, type WorkerProcess } from "./helpers/taskd.ts";

const DENO = join(ROOT, "node_modules", ".bin", "deno");


const CLIENT = `
import { App } from "@taskd/taskd";
import type { Worker } from "@taskd/taskd/worker";

type Add = (x: number, y: number) => number;
const app = new App("tasks");
const r = await app.sendTask<Add>("tasks.add", [2, 3]);
const sum: number = await r.get({ timeout: 30 });
if (Math.random() > 2) {
  // @ts-expect-error y is a number
  await app.sendTask<Add>("tasks.add", [2, "3"]);
  const w: Worker | undefined = undefined;
  void w;
}
console.log(JSON.stringify({ sum }));
await app.close();
`;

let server: NatsServer | undefined;
let dir = "";
let offline = "";
let env: Record<string, string> = {};
let worker: WorkerProcess | undefined;

describe("taskd as a JSR-style import (Deno workspace, deno.json imports only)", () => {
  before(async () => {
    env = { ...(process.env as Record<string, string>), NO_COLOR: "1" };
    delete env.TASKD_BROKER_URL;
    const ping = await run("npm", ["ping", "--fetch-retries=0", "--fetch-timeout=10000"], ROOT, env, 20_000);
    if (ping.code !== 0) {
      offline = `the npm registry is unreachable (npm ping: ${ping.output.trim().split("\n")[0]})`;
      return;
    }
    dir = mkdtempSync(join(tmpdir(), "taskd-jsr-"));
    const member = join(dir, "taskd");
    mkdirSync(member);
    for (const f of ["mod.ts", "worker.ts", "src"]) cpSync(join(ROOT, f), join(member, f), { recursive: true });
    const config = JSON.parse(readFileSync(join(ROOT, "deno.json"), "utf8"));
    delete config.nodeModulesDir; // the repository's own setting; the workspace root decides
    writeFileSync(join(member, "deno.json"), JSON.stringify(config, null, 2));
    mkdirSync(join(dir, "app"));
    writeFileSync(join(dir, "app", "deno.json"), JSON.stringify({ name: "@user/app", version: "0.0.0", exports: "./client.ts" }));
    writeFileSync(join(dir, "app", "client.ts"), CLIENT);
    writeFileSync(join(dir, "deno.json"), JSON.stringify({ workspace: ["./taskd", "./app"], nodeModulesDir: "auto" }));
    server = await NatsServer.start();
    env.TASKD_BROKER_URL = server.url;
    worker = await startWorker(server.url, fixture("tasks.ts"));
  });

  after(async () => {
    await worker?.stop();
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("deno check and deno run of a client importing @taskd/taskd by name", async (t) => {
    if (offline) return void t.skip(offline);
    const app = join(dir, "app");
    const checked = await run(DENO, ["check", "client.ts"], app, env, 180_000);
    assert.equal(checked.code, 0, checked.output);
    const ran = await run(DENO, ["run", "-A", "client.ts"], app, env, 60_000);
    assert.equal(ran.code, 0, `${ran.output}\n--- worker:\n${worker?.output}`);
    assert.deepEqual(JSON.parse(ran.stdout.trim().split("\n").at(-1)!), { sum: 5 });
  });
});
