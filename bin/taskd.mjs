#!/usr/bin/env node
/**
 * The `taskd` command of the npm package. It runs, in this order:
 * 1. the compiled binary, when there is one: `$TASKD_BINARY`, else `dist/taskd` in this
 *    package (a checkout after `make build`, or a release binary put there); `TASKD_BINARY=off`
 *    skips it;
 * 2. otherwise the command line on the runtime running this file: Bun takes the TypeScript
 *    source (src/cli/main.ts), Deno and Node.js the built JavaScript (dist/lib). Node.js before
 *    22.18 cannot import a `.ts` task module: then `bun` (or `deno`) from PATH runs this file
 *    instead, when there is one.
 * Plain JavaScript, so every runtime can start it.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import process from "node:process";
import { fileURLToPath } from "node:url";

const here = (path) => fileURLToPath(new URL(path, import.meta.url));
const argv = process.argv.slice(2);
const g = globalThis;

/** Runs `cmd` with the signals this process gets passed on; exits with its exit code. */
function delegate(cmd, args) {
  // Its own process group (POSIX), so a terminal's Ctrl-C reaches it once, through us: a
  // second SIGINT would mean a cold shutdown to the worker.
  const child = spawn(cmd, args, { stdio: "inherit", detached: process.platform !== "win32" });
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT"]) {
    try {
      process.on(sig, () => child.exitCode === null && child.kill(sig));
    } catch {
      // A signal this platform does not have.
    }
  }
  child.on("error", (e) => {
    process.stderr.write(`taskd: Cannot run ${cmd}: ${e.message}\n`);
    process.exit(1);
  });
  child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
}

function binary() {
  const env = process.env.TASKD_BINARY;
  if (env === "off") return undefined;
  if (env) return env;
  const local = here("../dist/taskd");
  return existsSync(local) ? local : undefined;
}

/** Whether Node.js (this one) can import the task module `argv` names. */
function nodeLoads(args) {
  const i = args.indexOf("worker");
  // Any argument after `worker` naming a TypeScript file (options may come before the module).
  const typescript = i >= 0 && args.slice(i + 1).some((a) => /\.[cm]?tsx?$/.test(a));
  return !typescript || Boolean(process.features?.typescript);
}

function onPath(cmd) {
  return spawnSync(cmd, ["--version"], { stdio: "ignore" }).status === 0;
}

const bin = binary();
if (bin) {
  delegate(bin, argv);
} else if (g.Bun) {
  const { run } = await import(here("../src/cli/main.ts"));
  await run(argv);
} else if (g.Deno || nodeLoads(argv)) {
  const { run } = await import(new URL("../dist/lib/src/cli/main.js", import.meta.url).href);
  await run(argv);
} else if (onPath("bun")) {
  delegate("bun", [here("taskd.mjs"), ...argv]);
} else if (onPath("deno")) {
  delegate("deno", ["run", "-A", here("taskd.mjs"), ...argv]);
} else {
  process.stderr.write(
    `taskd: Cannot load a TypeScript task module on Node.js ${process.versions.node}: use Node.js >= 22.18, a .js module, ` +
      "Bun (bunx --bun taskd …) or Deno (deno run -A npm:taskd …)\n",
  );
  process.exit(1);
}
