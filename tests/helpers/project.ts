/**
 * A user's project in a temporary folder, as `npm install` would leave it: made from a fixture
 * folder whose `_node_modules` folders (named so git keeps them) become `node_modules`, with
 * the workspace packages under `libs/` linked into node_modules.
 * @module
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

function renameModuleDirs(dir: string): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    let path = join(dir, entry.name);
    if (entry.name === "_node_modules") {
      const to = join(dir, "node_modules");
      renameSync(path, to);
      path = to;
    }
    renameModuleDirs(path);
  }
}

/** Copies the fixture project at `source` into a fresh temporary folder and returns its path. */
export function makeProject(source: string, prefix = "taskd-project-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  cpSync(source, dir, { recursive: true });
  renameModuleDirs(dir);
  const libs = join(dir, "libs");
  if (existsSync(libs)) {
    mkdirSync(join(dir, "node_modules"), { recursive: true });
    for (const name of readdirSync(libs)) symlinkSync(join("..", "libs", name), join(dir, "node_modules", name), "dir");
  }
  return dir;
}

/** Removes a project made by {@link makeProject}. */
export function removeProject(dir: string | undefined): void {
  if (dir) rmSync(dir, { recursive: true, force: true });
}
