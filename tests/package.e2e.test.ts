/**
 * The npm package as a user gets it: `npm pack` of this repository, installed from the tarball
 * into a fresh project in a temporary folder (its dependencies from the npm registry). Then,
 * for Bun, Deno and Node.js in turn, the package's own `taskd` bin runs the worker on that
 * runtime and a client on the same runtime gets a result; the typed client passes `deno check`
 * against the package's .d.ts files. One install serves the three runtimes (one node_modules
 * is what each of them reads). Skipped when the registry cannot be reached. Needs `make build`
 * (dist/lib) first.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { NatsServer } from "./helpers/server.ts";
import { fixture, ROOT, runCommand as run, WorkerProcess } from "./helpers/taskd.ts";

const NPM = process.platform === "win32" ? "npm.cmd" : "npm";
const BUN = join(ROOT, "node_modules", ".bin", "bun");
const DENO = join(ROOT, "node_modules", ".bin", "deno");



let server: NatsServer | undefined;
let dir = "";
let project = "";
/** Why the tests are skipped; empty when the package is installed. */
let offline = "";
let env: Record<string, string> = {};

/** The runtimes: how the bin starts a worker on each, and how a client runs there. */
const RUNTIMES = [
  { name: "bun", worker: [BUN, "x", "--bun", "taskd", "worker", "./tasks.ts"], client: [BUN, "client.ts"] },
  { name: "deno", worker: [DENO, "run", "-A", "npm:taskd", "worker", "./tasks.ts"], client: [DENO, "run", "-A", "client.ts"] },
  { name: "node", worker: ["node", "node_modules/.bin/taskd", "worker", "./tasks.js"], client: ["node", "client.mjs"] },
];

/** Whether this Node.js imports `.ts` files itself (type stripping, Node.js >= 22.18). */
const nodeStripsTypes = spawnSync("node", ["-p", "Boolean(process.features.typescript)"], { encoding: "utf8" }).stdout?.trim() === "true";

describe("the npm package installed into a fresh project (Bun, Deno, Node.js)", () => {
  before(async () => {
    if (!existsSync(join(ROOT, "dist", "lib", "mod.js"))) throw new Error("dist/lib is missing: run make build first");
    dir = mkdtempSync(join(tmpdir(), "taskd-package-"));
    project = join(dir, "project");
    env = { ...(process.env as Record<string, string>), NO_COLOR: "1", npm_config_update_notifier: "false", PATH: `${join(ROOT, "node_modules", ".bin")}:${process.env.PATH}` };
    delete env.TASKD_BINARY;
    delete env.TASKD_BROKER_URL;
    const ping = await run(NPM, ["ping", "--fetch-retries=0", "--fetch-timeout=10000"], ROOT, env, 20_000);
    if (ping.code !== 0) {
      offline = `the npm registry is unreachable (npm ping: ${ping.output.trim().split("\n").slice(0, 2).join(" ")})`;
      return;
    }
    server = await NatsServer.start();
    env.TASKD_BROKER_URL = server.url;
  });

  after(async () => {
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  let tarball = "";
  test("npm pack: only what users need (no tests, bench or CI files)", async (t) => {
    if (offline) return void t.skip(offline);
    const packed = await run(NPM, ["pack", "--json", "--pack-destination", dir], ROOT, env, 120_000);
    assert.equal(packed.code, 0, packed.output);
    const [info] = JSON.parse(packed.stdout) as { filename: string; size: number; unpackedSize: number; entryCount: number; files: { path: string }[] }[];
    tarball = join(dir, info.filename);
    const paths = info.files.map((f) => f.path);
    console.log(`tarball ${info.filename}: ${info.entryCount} files, ${(info.size / 1024).toFixed(0)} kB packed, ${(info.unpackedSize / 1024).toFixed(0)} kB unpacked`);
    const unwanted = paths.filter((p) => /^(tests|bench|\.ci|\.github|node_modules)\//.test(p) || /\.test\.ts$|\.tgz$|^dist\/taskd/.test(p));
    assert.deepEqual(unwanted, [], "files users do not need");
    for (const p of ["package.json", "README.md", "LICENSE", "bin/taskd.mjs", "mod.ts", "worker.ts", "dist/lib/mod.js", "dist/lib/mod.d.ts", "dist/lib/worker.js", "dist/lib/worker.d.ts", "dist/lib/src/cli/main.js", "dist/lib/src/cli/thread.js"]) {
      assert.ok(paths.includes(p), `${p} is in the package`);
    }
  });

  test("npm install of the tarball into a fresh project", async (t) => {
    if (offline) return void t.skip(offline);
    assert.ok(tarball, "the pack test ran first");
    rmSync(project, { recursive: true, force: true });
    const src = fixture("package");
    mkdirSync(project, { recursive: true });
    for (const f of readdirSync(src)) copyFileSync(join(src, f), join(project, f));
    writeFileSync(join(project, "package.json"), JSON.stringify({ name: "taskd-user-project", private: true, type: "module", dependencies: { taskd: `file:${tarball}` } }, null, 2));
    const install = await run(NPM, ["install", "--no-audit", "--no-fund"], project, env, 300_000);
    assert.equal(install.code, 0, install.output);
    assert.ok(existsSync(join(project, "node_modules", "taskd", "dist", "lib", "mod.js")));
    assert.ok(!existsSync(join(project, "node_modules", "taskd", "dist", "taskd")), "no compiled binary in the package: the bin runs the CLI on the runtime at hand");
  });

  test("typed sendTask<typeof add> passes deno check against the package's .d.ts (with @ts-expect-error lines)", async (t) => {
    if (offline) return void t.skip(offline);
    const checked = await run(DENO, ["check", "client.ts"], project, env, 120_000);
    assert.equal(checked.code, 0, checked.output);
  });

  test("a TypeScript client for Node.js passes tsc (nodenext) against the package's .d.ts", async (t) => {
    if (offline) return void t.skip(offline);
    const checked = await run(join(ROOT, "node_modules", ".bin", "tsc"), ["-p", "tsconfig.node.json"], project, env, 120_000);
    assert.equal(checked.code, 0, checked.output);
  });

  for (const rt of RUNTIMES) {
    test(`${rt.name}: the package's taskd bin runs the worker on ${rt.name}, a ${rt.name} client gets the result`, async (t) => {
      if (offline) return void t.skip(offline);
      if (rt.name === "node" && spawnSync("node", ["--version"]).status !== 0) return void t.skip("no node on PATH");
      const queue = `pkg-${rt.name}`;
      const [cmd, ...args] = rt.worker;
      const w = new WorkerProcess(spawn(cmd, [...args, "-Q", queue, "-n", `${rt.name}@pkg`], { cwd: project, env, stdio: ["ignore", "pipe", "pipe"] }));
      try {
        await w.waitFor(/ready: consuming/, 60_000);
        const [ccmd, ...cargs] = rt.client;
        const r = await run(ccmd, cargs, project, { ...env, PKG_QUEUE: queue }, 60_000);
        assert.equal(r.code, 0, `${r.output}\n--- worker:\n${w.output}`);
        const line = r.stdout.trim().split("\n").at(-1)!;
        assert.deepEqual(JSON.parse(line), { sum: 5, worker: rt.name, client: rt.name });
      } finally {
        const code = await w.stop();
        assert.equal(code, 0, `the worker shuts down warm on SIGTERM:\n${w.output}`);
      }
    });
  }

  test("npx taskd worker ./tasks.ts: Node.js without type stripping hands the worker to bun from PATH", async (t) => {
    if (offline) return void t.skip(offline);
    if (spawnSync("node", ["--version"]).status !== 0) return void t.skip("no node on PATH");
    const queue = "pkg-node-ts";
    const w = new WorkerProcess(spawn("node", ["node_modules/.bin/taskd", "worker", "./tasks.ts", "-Q", queue], { cwd: project, env, stdio: ["ignore", "pipe", "pipe"] }));
    try {
      await w.waitFor(/ready: consuming/, 60_000);
      const r = await run("node", ["client.mjs"], project, { ...env, PKG_QUEUE: queue }, 60_000);
      assert.equal(r.code, 0, `${r.output}\n--- worker:\n${w.output}`);
      assert.deepEqual(JSON.parse(r.stdout.trim().split("\n").at(-1)!), { sum: 5, worker: nodeStripsTypes ? "node" : "bun", client: "node" });
    } finally {
      assert.equal(await w.stop(), 0, `SIGTERM reaches the worker through the bin:\n${w.output}`);
    }
  });

  test("the bin runs the compiled binary when there is one (TASKD_BINARY)", async (t) => {
    if (offline) return void t.skip(offline);
    const binary = join(ROOT, "dist", "taskd");
    if (!existsSync(binary)) return void t.skip("no dist/taskd: run make build");
    const viaBinary = await run("node", ["node_modules/.bin/taskd", "--version"], project, { ...env, TASKD_BINARY: binary }, 30_000);
    assert.equal(viaBinary.code, 0, viaBinary.output);
    assert.match(viaBinary.stdout, /\(bun /, "the binary is Bun's");
    const onNode = await run("node", ["node_modules/.bin/taskd", "--version"], project, env, 30_000);
    assert.match(onNode.stdout, /\(node /, "without a binary, the runtime at hand");
  });
});
