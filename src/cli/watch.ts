/**
 * `taskd worker ./tasks.ts --watch`, for development: a supervisor runs the worker as a child
 * process (the same command without `--watch`) and restarts it when the task module or one of
 * its relative imports changes. A restart is a warm shutdown first (SIGTERM: running tasks
 * finish, or go back to the queue past the shutdown timeout), then a fresh process, so every
 * module is imported anew. Only relative imports are followed (`./x.ts`, `../lib/y.js`):
 * packages in node_modules do not change while you edit.
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readFileSync, statSync, watch, type FSWatcher } from "node:fs";
import { basename, dirname, resolve } from "node:path";
import process from "node:process";
import { getLogger } from "../log/logger.ts";

const log = getLogger("taskd.watch");

/** Changes closer together than this (an editor's write, rename, chmod) make one restart. */
export const WATCH_DEBOUNCE_MS = 100;

const IMPORT = /^\s*(?:import|export)\b[^"';]*?["'](\.{1,2}\/[^"']+)["']/gm;
const DYNAMIC = /import\(\s*["'](\.{1,2}\/[^"']+)["']\s*\)/g;
const BARE_IMPORT = /^\s*import\s*["'](\.{1,2}\/[^"']+)["']/gm;
const EXTENSIONS = ["", ".ts", ".tsx", ".mts", ".js", ".mjs", ".jsx", "/index.ts", "/index.js"];

function resolveFile(from: string, spec: string): string | undefined {
  const base = resolve(dirname(from), spec.split("?")[0]);
  for (const ext of EXTENSIONS) {
    const p = base + ext;
    try {
      if (statSync(p).isFile()) return p;
    } catch {
      // not this one
    }
  }
  // `./x.js` written for `./x.ts` (TypeScript's own convention).
  const ts = base.replace(/\.(m?)js$/, ".$1ts");
  return ts !== base && existsSync(ts) ? ts : undefined;
}

/** The module at `entry` and every file it reaches through relative imports. */
export function moduleFiles(entry: string): string[] {
  const seen = new Set<string>();
  const todo = [resolve(entry)];
  while (todo.length > 0) {
    const file = todo.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch {
      continue;
    }
    for (const re of [IMPORT, DYNAMIC, BARE_IMPORT]) {
      for (const m of text.matchAll(re)) {
        const target = resolveFile(file, m[1]);
        if (target && !seen.has(target)) todo.push(target);
      }
    }
  }
  return [...seen];
}

/** The command that starts this program again: the compiled binary, or runtime + script. */
export function selfCommand(): string[] {
  const [, script] = process.argv;
  if (!script || script.startsWith("/$bunfs/") || script.includes("%24bunfs")) return [process.execPath];
  // Deno keeps its own flags out of execArgv: the child gets all permissions (development).
  if ("Deno" in globalThis) return [process.execPath, "run", "-A", script];
  return [process.execPath, ...process.execArgv, script];
}

/**
 * Watches the folders of `files` (a folder watch survives editors that replace a file) and
 * calls `onChange` with the changed file, debounced. Returns a function that stops watching.
 */
function watchFiles(files: string[], onChange: (file: string) => void): () => void {
  const wanted = new Set(files);
  const dirs = new Set(files.map((f) => dirname(f)));
  const watchers: FSWatcher[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  let changed = "";
  for (const dir of dirs) {
    try {
      watchers.push(watch(dir, (_event, name) => {
        const file = name ? resolve(dir, String(name)) : undefined;
        if (file && !wanted.has(file)) return;
        changed = file ?? dir;
        clearTimeout(timer);
        timer = setTimeout(() => onChange(changed), WATCH_DEBOUNCE_MS);
      }));
    } catch (e) {
      log.warn(`cannot watch ${dir}: ${(e as Error).message}`);
    }
  }
  return () => {
    clearTimeout(timer);
    for (const w of watchers) w.close();
  };
}

/**
 * Runs `taskd <argv without --watch>` as a child and restarts it on changes to `module` or
 * its relative imports. Resolves when the supervisor is stopped by SIGINT/SIGTERM (passed on
 * to the worker, which shuts down warm; a second signal makes that cold).
 */
export function watchWorker(module: string, argv: string[]): Promise<void> {
  const childArgv = argv.filter((a) => a !== "--watch" && a !== "--watch=true");
  const command = selfCommand();
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let stopWatching = () => {};
  let restarting = false;
  let stopping = false;

  const start = () => {
    const files = moduleFiles(module);
    stopWatching();
    stopWatching = watchFiles(files, (file) => void restart(file));
    log.info(`watching ${files.length} file${files.length === 1 ? "" : "s"} of ${basename(module)}: a change restarts the worker`);
    // Its own process group (POSIX): a terminal's Ctrl-C reaches it once, through us.
    const c = spawn(command[0], [...command.slice(1), ...childArgv], { stdio: "inherit", detached: process.platform !== "win32" });
    child = c;
    exited = new Promise((done) => {
      c.once("exit", (code, signal) => {
        if (!restarting && !stopping) log.warn(`the worker exited (${code ?? signal}); it starts again on the next change`);
        done();
      });
      c.once("error", (e) => {
        log.error(`cannot start the worker: ${e.message}`);
        done();
      });
    });
  };

  const restart = async (file: string) => {
    if (restarting || stopping) return;
    restarting = true;
    if (child && child.exitCode === null && child.signalCode === null) {
      log.info(`${file} changed: restarting the worker (warm shutdown first)`);
      child.kill("SIGTERM");
    } else {
      log.info(`${file} changed: starting the worker`);
    }
    await exited;
    restarting = false;
    if (!stopping) start();
  };

  return new Promise<void>((done) => {
    const onSignal = (sig: NodeJS.Signals) => {
      stopping = true;
      stopWatching();
      if (child && child.exitCode === null && child.signalCode === null) child.kill(sig);
      exited.then(() => done());
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    start();
  });
}
