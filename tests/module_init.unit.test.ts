/**
 * Every source module loads on its own, first, in a fresh process: an import cycle that touches
 * a class at load time (`class X extends Task` while task.ts is still loading) fails here, not
 * in whichever test happens to import that module first.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { ROOT } from "./helpers/taskd.ts";

function sources(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) sources(p, out);
    else if (p.endsWith(".ts") && !p.endsWith("/cli/main.ts") && !p.endsWith("/cli/thread.ts")) out.push(p);
  }
  return out;
}

describe("module initialization", () => {
  test("every module under src/ loads first in a fresh process (no initialization cycle)", { timeout: 300_000 }, () => {
    const files = sources(join(ROOT, "src"));
    // One process imports each file in turn, each in a fresh module graph (a new worker thread).
    const script = `
      const files = ${JSON.stringify(files)};
      const failed = [];
      for (const f of files) {
        const r = Bun.spawnSync([process.execPath, "-e", "await import(" + JSON.stringify(f) + ")"], { stderr: "pipe" });
        if (r.exitCode !== 0) failed.push(f + ": " + r.stderr.toString().split("\\n").find((l) => /Error/.test(l)));
      }
      console.log(JSON.stringify(failed));
    `;
    const r = spawnSync(join(ROOT, "node_modules", ".bin", "bun"), ["-e", script], { cwd: ROOT, encoding: "utf8", timeout: 240_000 });
    assert.equal(r.status, 0, r.stderr);
    const failed = JSON.parse(r.stdout.trim().split("\n").pop()!) as string[];
    assert.deepEqual(failed.map((f) => relative(ROOT, f)), []);
  });
});
