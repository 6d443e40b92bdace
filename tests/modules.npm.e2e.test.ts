/**
 * A task module's imports, online: real packages from the npm registry (pinned by
 * tests/fixtures/modules/npm/package-lock.json) installed into a temporary user project, and a
 * task using all of them run through dist/taskd in both pools. Skipped when the registry cannot
 * be reached, so an offline CI stays green; tests/modules.e2e.test.ts covers the same layouts
 * with fixture packages.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { NatsServer } from "./helpers/server.ts";
import { makeProject, removeProject } from "./helpers/project.ts";
import { fixture, runCli, startWorker } from "./helpers/taskd.ts";

const EXPECTED = {
  zod: { name: "ada", age: 36 },
  zodRefuses: false,
  dateFns: "2024-02-01",
  lodash: [[1, 2], [3, 4], [5]],
  dayjs: "2024-03-01 00:00",
  uuid: "074171de-bc84-5ea4-b636-1135477620e1",
  uuidV4: true,
  nanoid: [21, 8],
  pLimit: [2, 4, 6],
  superjson: [0, 1],
  otel: [false, "object"],
};

const NPM = process.platform === "win32" ? "npm.cmd" : "npm";

/** Runs npm with `args` in `cwd`; resolves with its exit code and output. */
function npm(args: string[], cwd: string, timeoutMs: number): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const p = spawn(NPM, args, { cwd, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, npm_config_update_notifier: "false" } });
    let output = "";
    p.stdout?.on("data", (d) => (output += d));
    p.stderr?.on("data", (d) => (output += d));
    const t = setTimeout(() => p.kill("SIGKILL"), timeoutMs);
    p.once("error", (e) => {
      clearTimeout(t);
      resolve({ code: null, output: String(e) });
    });
    p.once("exit", (code) => {
      clearTimeout(t);
      resolve({ code, output });
    });
  });
}

let server: NatsServer | undefined;
let project: string | undefined;
/** Why the tests are skipped; empty when the packages are installed. */
let offline = "";

describe("a task module's npm imports in dist/taskd (real packages from the registry)", () => {
  before(async () => {
    project = makeProject(fixture("modules/npm"), "taskd-npm-");
    const ping = await npm(["ping", "--fetch-retries=0", "--fetch-timeout=10000"], project, 20_000);
    if (ping.code !== 0) {
      offline = `the npm registry is unreachable (npm ping: ${ping.output.trim().split("\n").slice(0, 2).join(" ")})`;
      return;
    }
    const ci = await npm(["ci", "--no-audit", "--no-fund", "--ignore-scripts"], project, 240_000);
    assert.equal(ci.code, 0, `npm ci failed:\n${ci.output}`);
    server = await NatsServer.start();
  });

  after(async () => {
    await server?.stop();
    removeProject(project);
  });

  for (const pool of ["async", "threads"]) {
    test(`--pool ${pool}: zod, date-fns, lodash, dayjs + dayjs/plugin/utc.js, uuid, nanoid, p-limit, superjson, @opentelemetry/api`, async (t) => {
      if (offline) {
        console.log(`skipped: ${offline}`);
        t.skip(offline);
        return;
      }
      const dir = project!;
      const queue = `npm-${pool}`;
      const w = await startWorker(server!.url, join(dir, "tasks.ts"), { kind: "binary", cwd: dir, args: ["--pool", pool, "-c", "2", "-Q", queue] });
      try {
        const r = await runCli(server!.url, ["call", "npm.everything", "--queue", queue, "--wait", "--timeout", "30"], { kind: "binary", cwd: dir });
        assert.equal(r.code, 0, `${r.stderr}\n${w.output}`);
        assert.deepEqual(JSON.parse(r.stdout), EXPECTED);
      } finally {
        await w.stop();
      }
    });
  }
});
