/**
 * Loading the user's task module into the worker (and again in each pool thread).
 *
 * The module's bare imports resolve as Bun resolves them from the importing file's directory
 * (node_modules up the tree, `exports` conditions, `main`/`module`, CommonJS, JSON, symlinks);
 * the compiled binary is built so that its resolver reads package.json (see the Makefile and
 * docs/modules.md). Three names are the exception, handed the binary's own copies whatever
 * the user's node_modules holds: `taskd` and `taskd/worker`, so the module's `new App()` lands
 * in the worker's registry, and `valibot`, so validate mode and the user's schemas share one
 * copy (its global config, messages and schema internals). A user's project that pins another
 * valibot gets a warning.
 * @module
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { isMainThread } from "node:worker_threads";
import * as v from "valibot";
import * as taskd from "../../mod.ts";
import manifest from "../../package.json" with { type: "json" };
import * as taskdWorker from "../../worker.ts";
import { runtime } from "../runtime/mod.ts";
import { allApps, type App } from "../app/app.ts";
import { getLogger } from "../log/logger.ts";
import { signals } from "../signals/signals.ts";
import { ModuleLoadError } from "../errors/errors.ts";

/** The version of valibot compiled into the binary (package.json pins it exactly). */
const EMBEDDED_VALIBOT: string = manifest.dependencies.valibot;

/** Names whose imports get the binary's own module, never the user's node_modules copy. */
const EMBEDDED: Record<string, Record<string, unknown>> = {
  taskd: taskd as unknown as Record<string, unknown>,
  "taskd/worker": taskdWorker as unknown as Record<string, unknown>,
  valibot: v as unknown as Record<string, unknown>,
};

const log = getLogger("taskd.worker");
let aliased = false;

/** Imports the task module at `file` and returns every App created so far. */
export async function loadTaskModule(file: string): Promise<readonly App[]> {
  const path = resolve(file);
  if (!existsSync(path)) throw new ModuleLoadError(`Cannot load ${file}: no such file`);
  if (!aliased) {
    // Each pool thread loads the module again and must alias the names itself (plugins do not
    // cross threads); the main thread alone says what it found.
    if (runtime.aliasModules(EMBEDDED) && isMainThread) warnOtherValibot(path);
    aliased = true;
  }
  let exports: Record<string, unknown>;
  try {
    exports = await import(pathToFileURL(path).href);
  } catch (e) {
    throw new ModuleLoadError(`Cannot load ${file}: ${missingPackage(e) ?? (e as Error)?.stack ?? e}`);
  }
  const apps = allApps();
  if (apps.length === 0) throw new ModuleLoadError(`Cannot serve ${file}: it created no App; add \`export const app = new App("tasks")\``);
  for (const app of apps) app.exportAliases(exports);
  await signals.importModules.send(apps[0], { app: apps[0], module: path });
  return apps;
}

/** The `node_modules` folders a bare import from a file in `dir` is looked for in, nearest first. */
export function nodeModulesDirs(dir: string): string[] {
  const out: string[] = [];
  for (let d = resolve(dir);; d = dirname(d)) {
    if (!d.endsWith("/node_modules") && !d.endsWith("\\node_modules")) out.push(join(d, "node_modules"));
    if (dirname(d) === d) return out;
  }
}

/** The package name of a bare specifier (`@scope/name/sub` -> `@scope/name`), or undefined. */
export function packageName(specifier: string): string | undefined {
  if (/^(\.|\/|[a-zA-Z][a-zA-Z0-9+.-]*:)/.test(specifier)) return undefined;
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? (parts.length > 1 ? parts.slice(0, 2).join("/") : undefined) : parts[0];
}

function readManifest(dir: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
  } catch {
    return undefined;
  }
}

/** Once per process: say so when the user's project has a valibot other than the binary's. */
function warnOtherValibot(modulePath: string): void {
  for (const nm of nodeModulesDirs(dirname(modulePath))) {
    const manifest = readManifest(join(nm, "valibot"));
    if (!manifest) continue;
    if (manifest.version !== EMBEDDED_VALIBOT) {
      log.warn(`${join(nm, "valibot")} is valibot ${manifest.version}; task modules get the worker's own valibot ${EMBEDDED_VALIBOT} (one copy for your schemas and validate mode): see docs/modules.md`);
    }
    return;
  }
}

/**
 * For an import the runtime could not resolve: which package, imported from which file, and
 * where it was looked for. Undefined for any other error.
 */
export function missingPackage(e: unknown): string | undefined {
  const err = e as { specifier?: unknown; referrer?: unknown; message?: unknown; code?: unknown } | undefined;
  const message = typeof err?.message === "string" ? err.message : "";
  if (!/MODULE_NOT_FOUND/.test(String(err?.code)) && !/Cannot find (package|module)/.test(message)) return undefined;
  const specifier = typeof err?.specifier === "string" ? err.specifier : /Cannot find (?:package|module) '([^']+)'/.exec(message)?.[1];
  const referrer = typeof err?.referrer === "string" ? err.referrer : /(?:imported from |from '|Require stack:\n- )([^'\n]+)/.exec(message)?.[1];
  const name = specifier && packageName(specifier);
  if (!name || !referrer) return undefined;
  const from = referrer.startsWith("file:") ? new URL(referrer).pathname : referrer;
  const looked = nodeModulesDirs(dirname(from));
  const found = looked.find((nm) => existsSync(join(nm, name)));
  if (!found) {
    return `cannot find package '${name}' imported from ${from}: looked in ${looked.join(", ")}; install it in the task module's project (npm install ${name})`;
  }
  const dir = join(found, name);
  const m = readManifest(dir);
  const entries = !m
    ? "no package.json"
    : [
      m.version ? `version ${m.version}` : "",
      m.exports !== undefined ? `exports ${typeof m.exports === "object" && m.exports && !Array.isArray(m.exports) ? Object.keys(m.exports).join(", ") : JSON.stringify(m.exports)}` : "",
      typeof m.main === "string" ? `main ${m.main}` : "",
      typeof m.module === "string" ? `module ${m.module}` : "",
    ].filter(Boolean).join("; ");
  return `cannot resolve '${specifier}' imported from ${from}: found ${dir} (${entries || "no entry fields"}), but its package.json maps no file to '${specifier}'`;
}
