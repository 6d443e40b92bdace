/**
 * A task module's imports, offline: the compiled binary serves a module from a user's project
 * (made in a temporary folder from tests/fixtures/modules/project) whose node_modules hold
 * packages of every layout — main in a subfolder, only an exports map with conditions and
 * subpaths, CommonJS, `module`, scoped, a nested dependency, JSON, a deep import, a linked
 * workspace package, the project's own `imports` and tsconfig `paths` — and resolves them as
 * Bun does from source, in both pools.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { useTaskd } from "./helpers/env.ts";
import { makeProject, removeProject } from "./helpers/project.ts";
import { fixture, ROOT, runCli, startWorker } from "./helpers/taskd.ts";

const EXPECTED = {
  subMain: "main in lib/",
  condition: "bun",
  sub: "sub via import",
  cjs: { cjs: "CommonJS", required: "sub via require", json: 42 },
  field: "main",
  scoped: "@fixture/scoped",
  extra: "@fixture/scoped/extra",
  inner: "inner 1",
  withDep: "with-dep sees inner 2",
  jsonPkg: "json-pkg",
  data: [1, 2, 3],
  deep: "deep",
  utc: "utc plugin",
  utcNoExt: true,
  workspace: "ws-lib + main in lib/",
  local: true,
  internal: "#internal via package.json imports",
  paths: true,
};

let project: string;

describe("a task module's npm imports in dist/taskd (fixture packages, offline)", () => {
  const t = useTaskd({ connect: false });
  before(() => {
    project = makeProject(fixture("modules/project"));
  });

  after(() => {
    removeProject(project);
  });

  test("Bun from source resolves the fixture's imports to the expected values (the reference)", () => {
    const r = spawnSync(join(ROOT, "node_modules", ".bin", "bun"), ["-e", 'import { report } from "./report.ts"; console.log(JSON.stringify(report()))'], {
      cwd: project,
      encoding: "utf8",
    });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), EXPECTED);
  });

  for (const pool of ["async", "threads"]) {
    test(`--pool ${pool}: the binary resolves every import as Bun does; taskd, taskd/worker and valibot are its own`, async () => {
      const queue = `modules-${pool}`;
      const w = await startWorker(t.url, join(project, "tasks.ts"), { kind: "binary", cwd: project, args: ["--pool", pool, "-c", "2", "-Q", queue] });
      try {
        const r = await runCli(t.url, ["call", "modules.imports", "--queue", queue, "--wait", "--timeout", "30"], { kind: "binary", cwd: project });
        assert.equal(r.code, 0, `${r.stderr}\n${w.output}`);
        assert.deepEqual(JSON.parse(r.stdout), EXPECTED);
        // The project's valibot 0.31.0 throws when loaded: validate mode ran on the binary's copy.
        const g = await runCli(t.url, ["call", "modules.greet", '{"name":"ada"}', "--queue", queue, "--wait", "--timeout", "30"], { kind: "binary", cwd: project });
        assert.equal(g.stdout.trim(), "hello ada", `${g.stderr}\n${w.output}`);
        const warnings = w.output.split("\n").filter((l) => l.includes("valibot 0.31.0"));
        assert.equal(warnings.length, 1, w.output);
        assert.match(warnings[0], /worker's own valibot 1\.\d+\.\d+/);
        const k = await runCli(t.url, ["call", "modules.workerEntry", "--queue", queue, "--wait", "--timeout", "30"], { kind: "binary", cwd: project });
        assert.deepEqual(JSON.parse(k.stdout), ["async", "threads"], `${k.stderr}\n${w.output}`);
      } finally {
        await w.stop();
      }
    });
  }

  test("a package the project has not installed: loading fails naming the package, the importing file and where it looked", async () => {
    const r = await runCli(t.url, ["worker", join(project, "missing.ts")], { kind: "binary", cwd: project });
    assert.notEqual(r.code, 0);
    const out = r.stdout + r.stderr;
    assert.match(out, /Cannot load .*missing\.ts: cannot find package 'not-installed-pkg' imported from .*missing\.ts/);
    assert.ok(out.includes(`looked in ${join(project, "node_modules")}, `), out);
    assert.match(out, /npm install not-installed-pkg/);
  });

  test("a subpath the package does not export: loading fails naming the specifier, the file and the package found", async () => {
    const r = await runCli(t.url, ["worker", join(project, "not_exported.ts")], { kind: "binary", cwd: project });
    assert.notEqual(r.code, 0);
    const out = r.stdout + r.stderr;
    assert.match(out, /cannot resolve 'exports-only\/private' imported from .*not_exported\.ts/);
    assert.ok(out.includes(`found ${join(project, "node_modules", "exports-only")} (version 2.0.0; exports ., ./sub, ./package.json)`), out);
  });
});
