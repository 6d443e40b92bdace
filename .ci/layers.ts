/**
 * The layer check of `make check`: every import in src/ (value and type) goes to the same
 * folder or to a layer below (docs/architecture.md "Layers"), the entries import what their
 * layer may, and no cycle of value imports crosses a folder. Prints each upward import and
 * each cycle with file:line and exits 1 when there is one.
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
/** Same-layer imports that are allowed (from → to): the worker entry re-exports the worker; a worker may run an embedded beat. */
const SIDEWAYS = new Set(["worker.ts→worker", "worker→beat"]);

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
/** Value imports between units: from → to → the first place seen. */
const edges = new Map<string, Map<string, string>>();
const unknown = new Set<string>();
for (const file of files) {
  const from = unitOf(file)!;
  const text = readFileSync(file, "utf8");
  for (const re of [IMPORT, DYNAMIC]) {
    for (const m of text.matchAll(re)) {
      const target = resolve(dirname(file), m[1]);
      const to = unitOf(target);
      if (!to || to === from) continue;
      const typeOnly = /^\s*(?:import|export)\s+type\b/.test(m[0]);
      if (!typeOnly) {
        const out = edges.get(from) ?? new Map<string, string>();
        if (!out.has(to)) out.set(to, `${relative(root, file)}:${text.slice(0, m.index).split("\n").length}`);
        edges.set(from, out);
      }
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
// A cycle of value imports across units: depth-first search from each unit.
const seen = new Set<string>();
function cycleFrom(start: string, at: string, path: string[]): string[] | undefined {
  for (const [next] of edges.get(at) ?? []) {
    if (next === start) return [...path, next];
    if (path.includes(next)) continue;
    const found = cycleFrom(start, next, [...path, next]);
    if (found) return found;
  }
  return undefined;
}
for (const unit of edges.keys()) {
  const cycle = cycleFrom(unit, unit, [unit]);
  if (!cycle) continue;
  const key = [...cycle.slice(0, -1)].sort().join(",");
  if (seen.has(key)) continue;
  seen.add(key);
  const steps = cycle.slice(0, -1).map((u, i) => `${u} → ${cycle[i + 1]} (${edges.get(u)!.get(cycle[i + 1])})`);
  problems.push(`import cycle across folders: ${steps.join(", ")}`);
}
for (const u of unknown) problems.push(`${u}: not in any layer of .ci/layers.ts: add it where it belongs`);
if (problems.length) {
  console.error(`Layer check failed: ${problems.length} import(s) go up or sideways (docs/architecture.md "Layers"):`);
  for (const p of problems) console.error("  " + p);
  process.exit(1);
}
console.log(`layers: ${files.length} files, every import goes down`);
