/**
 * What `--watch` watches: the module and every file its relative imports reach (static,
 * side-effect and dynamic imports; extensionless, `index`, and `.js` written for `.ts`),
 * not packages, and each file once even in an import cycle.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { moduleFiles } from "../src/cli/watch.ts";

describe("moduleFiles (what --watch watches)", () => {
  test("follows relative imports of every form, skips packages, survives cycles", () => {
    const dir = mkdtempSync(join(tmpdir(), "taskd-watch-unit-"));
    try {
      mkdirSync(join(dir, "lib", "db"), { recursive: true });
      const files: Record<string, string> = {
        "tasks.ts": [
          `import { App } from "taskd";`,
          `import { a } from "./lib/a.ts";`,
          `import type { T } from "./lib/types";`,
          `import "./lib/side.js";`,
          `export { db } from "./lib/db";`,
          `const later = () => import("./lib/lazy.ts");`,
        ].join("\n"),
        "lib/a.ts": `import { b } from "./b.js";\nexport const a = 1;`,
        "lib/b.ts": `import { a } from "./a.ts";\nexport const b = a;`,
        "lib/types.ts": `export type T = number;`,
        "lib/side.js": `globalThis.x = 1;`,
        "lib/db/index.ts": `export const db = 1;`,
        "lib/lazy.ts": `export const lazy = 1;`,
        "lib/unused.ts": `export const unused = 1;`,
      };
      for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
      const got = moduleFiles(join(dir, "tasks.ts")).map((f) => f.slice(dir.length + 1)).sort();
      assert.deepEqual(got, ["lib/a.ts", "lib/b.ts", "lib/db/index.ts", "lib/lazy.ts", "lib/side.js", "lib/types.ts", "tasks.ts"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
