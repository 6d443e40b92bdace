/**
 * The layer check of `make check`: every import in src/ (value and type) goes to the same
 * folder or to a layer below (docs/architecture.md "Layers"), and the entries import what
 * their layer may. Prints each upward import with file:line and exits 1 when there is one.
 * Runs on Deno or Bun: `deno run --allow-read .ci/layers.ts`.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

/** Layers from the bottom; a folder may import its own layer's other folders only when listed in SIDEWAYS. */
const LAYERS: string[][] = [
  ["errors", "runtime"],
  ["protocol", "context"],
  ["signals"],
  ["log"],
  ["nats"],
  ["result", "validate", "control", "events"],
  ["app"],
  ["canvas"],
  ["mod.ts"],
  ["worker", "worker.ts", "beat"],
  ["dashboard"],
  ["cli"],
];
/**
 * Same-layer imports that are allowed (from → to): the worker entry re-exports the worker, and
 * the module loader hands that entry to task modules; a worker may run an embedded beat.
 */
const SIDEWAYS = new Set(["worker.ts→worker", "worker→worker.ts", "worker→beat"]);

const root = resolve(dirname(new URL(import.meta.url).pathname), "..");
const rank = new Map<string, number>();
LAYERS.forEach((names, i) => names.forEach((n) => rank.set(n, i)));

function unitOf(file: string): string | undefined {
  const rel = relative(root, file).split("\\").join("/");
  if (rel === "mod.ts" || rel === "worker.ts") return rel;
  const m = /^src\/([^/]+)\//.exec(rel);
  return m ? m[1] : undefined;
}

function walk(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (p.endsWith(".ts")) out.push(p);
  }
  return out;
}

const files = [...walk(join(root, "src")), join(root, "mod.ts"), join(root, "worker.ts")].filter((f) => {
  try {
    return statSync(f).isFile();
  } catch {
    return false;
  }
});
const IMPORT = /^\s*(?:import|export)\b[^"';]*?["'](\.{1,2}\/[^"']+)["']/gm;
const DYNAMIC = /import\(\s*["'](\.{1,2}\/[^"']+)["']\s*\)/g;
const problems: string[] = [];
const unknown = new Set<string>();
for (const file of files) {
  const from = unitOf(file)!;
  const text = readFileSync(file, "utf8");
  for (const re of [IMPORT, DYNAMIC]) {
    for (const m of text.matchAll(re)) {
      const target = resolve(dirname(file), m[1]);
      const to = unitOf(target);
      if (!to || to === from) continue;
      for (const u of [from, to]) if (!rank.has(u)) unknown.add(u);
      if (!rank.has(from) || !rank.has(to)) continue;
      const ok = rank.get(to)! < rank.get(from)! || SIDEWAYS.has(`${from}→${to}`);
      if (!ok) {
        const line = text.slice(0, m.index).split("\n").length;
        problems.push(`${relative(root, file)}:${line}: ${from} imports ${to} (${relative(root, target)}), which is not below it`);
      }
    }
  }
}
for (const u of unknown) problems.push(`${u}: not in any layer of .ci/layers.ts: add it where it belongs`);
if (problems.length) {
  console.error(`Layer check failed: ${problems.length} import(s) go up or sideways (docs/architecture.md "Layers"):`);
  for (const p of problems) console.error("  " + p);
  process.exit(1);
}
console.log(`layers: ${files.length} files, every import goes down`);
