/**
 * The package manifests agree: deno.json (JSR) pins the same dependency versions as
 * package.json (npm) and exports the same entries; package.json's export conditions name
 * files that exist (dist/lib after `make build`); the `taskd` bin is a script any runtime runs.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "./helpers/taskd.ts";

const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
const deno = JSON.parse(readFileSync(join(ROOT, "deno.json"), "utf8"));

describe("package manifests (package.json, deno.json)", () => {
  test("deno.json imports every dependency as npm:<name>@<the version package.json pins>", () => {
    for (const [name, version] of Object.entries(pkg.dependencies as Record<string, string>)) {
      assert.equal(deno.imports[name], `npm:${name}@${version}`, `deno.json imports ${name}`);
    }
    for (const [name, target] of Object.entries(deno.imports as Record<string, string>)) {
      const m = /^npm:\/?((?:@[^/@]+\/)?[^/@]+)@([^/]+)/.exec(target);
      if (m) assert.equal(pkg.dependencies[m[1]], m[2], `${name} in deno.json matches package.json`);
    }
  });

  test("deno.json and package.json export the same entries; Bun's condition is deno.json's source", () => {
    assert.equal(deno.version, pkg.version);
    assert.deepEqual(Object.keys(deno.exports).sort(), Object.keys(pkg.exports).filter((k) => k !== "./package.json").sort());
    for (const [entry, source] of Object.entries(deno.exports as Record<string, string>)) {
      assert.equal(pkg.exports[entry].bun, source, `${entry}: bun → ${source}`);
    }
  });

  test("every export condition names a file that exists", () => {
    assert.ok(existsSync(join(ROOT, "dist", "lib", "mod.js")), "dist/lib is missing: run make build first");
    for (const [entry, conditions] of Object.entries(pkg.exports as Record<string, string | Record<string, string>>)) {
      for (const [condition, file] of Object.entries(typeof conditions === "string" ? { default: conditions } : conditions)) {
        assert.ok(existsSync(join(ROOT, file)), `${entry} (${condition}): ${file}`);
      }
    }
    assert.ok(existsSync(join(ROOT, pkg.main)) && existsSync(join(ROOT, pkg.types)));
  });

  test("the taskd bin is a plain script with a shebang, and listed in files", () => {
    const bin = pkg.bin.taskd as string;
    assert.match(readFileSync(join(ROOT, bin), "utf8"), /^#!\/usr\/bin\/env node\n/);
    assert.ok((pkg.files as string[]).some((f) => bin.replace(/^\.\//, "").startsWith(f.replace(/\/$/, ""))));
    assert.deepEqual((pkg.files as string[]).filter((f) => /^(tests|bench|\.ci)\b/.test(f)), []);
  });
});
