/**
 * Loading the user's task module into the worker (the main thread and each pool thread).
 * Inside the compiled binary, the names `taskd`, `taskd/worker` and `valibot` are handed the binary's own copies (the user's node_modules cannot be
 * resolved from inside it), so the module's `new App()` lands in the binary's registry.
 * @module
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import * as v from "valibot";
import * as taskd from "../../mod.ts";
import * as taskdWorker from "../../worker.ts";
import { runtime } from "../runtime/mod.ts";
import { allApps, type App } from "../app/app.ts";
import { signals } from "../signals/signals.ts";
import { ModuleLoadError } from "../errors/errors.ts";

let aliased = false;

/** Imports the task module at `file` and returns every App created so far. */
export async function loadTaskModule(file: string): Promise<readonly App[]> {
  const path = resolve(file);
  if (!existsSync(path)) throw new ModuleLoadError(`Cannot load ${file}: no such file`);
  if (!aliased) {
    runtime.aliasModules({
      taskd: taskd as unknown as Record<string, unknown>,
      "taskd/worker": taskdWorker as unknown as Record<string, unknown>,
      valibot: v as unknown as Record<string, unknown>,
    });
    aliased = true;
  }
  let exports: Record<string, unknown>;
  try {
    exports = await import(pathToFileURL(path).href);
  } catch (e) {
    throw new ModuleLoadError(`Cannot load ${file}: ${(e as Error)?.stack ?? e}`);
  }
  const apps = allApps();
  if (apps.length === 0) throw new ModuleLoadError(`Cannot serve ${file}: it created no App; add \`export const app = new App("tasks")\``);
  for (const app of apps) app.exportAliases(exports);
  await signals.importModules.send(apps[0], { app: apps[0], module: path });
  return apps;
}
