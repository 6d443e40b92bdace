// Adds lock-file entries for the other platforms' optional binaries (deno, msgpackr-extract).
// The registry reachable here does not serve them, so `npm install` leaves them out and
// `npm ci` then refuses the lock as out of sync. Run after every `npm install`:
//   node .ci/lock-platforms.mjs
import { readFileSync, writeFileSync } from "node:fs";

const lock = JSON.parse(readFileSync("package-lock.json", "utf8"));
const P = lock.packages;
const PLATFORMS = {
  "darwin-arm64": ["darwin", "arm64"], "darwin-x64": ["darwin", "x64"], "linux-arm64-glibc": ["linux", "arm64"],
  "linux-arm64": ["linux", "arm64"], "linux-arm": ["linux", "arm"], "linux-x64-glibc": ["linux", "x64"],
  "linux-x64": ["linux", "x64"], "win32-arm64": ["win32", "arm64"], "win32-x64": ["win32", "x64"],
};
let added = 0;
for (const pkg of Object.values(P)) {
  for (const [dep, version] of Object.entries(pkg.optionalDependencies ?? {})) {
    const key = `node_modules/${dep}`;
    if (P[key]) continue;
    const suffix = Object.keys(PLATFORMS).find((s) => dep.endsWith(`-${s}`) || dep.endsWith(`/${s}`));
    if (!suffix) throw new Error(`unknown platform package ${dep}`);
    const [os, cpu] = PLATFORMS[suffix];
    P[key] = { version, cpu: [cpu], os: [os], optional: true, ...(pkg.dev ? { dev: true } : {}), license: "MIT" };
    added++;
  }
}
lock.packages = Object.fromEntries(Object.entries(P).sort(([a], [b]) => (a === "" ? -1 : b === "" ? 1 : a.localeCompare(b))));
writeFileSync("package-lock.json", JSON.stringify(lock, null, 2) + "\n");
console.log(`lock-platforms: added ${added} entries`);
