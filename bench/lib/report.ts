// Turns one benchmark run into what people read: the table and W1's CPU split per process
// (stdout), the run's JSON, and a hand-drawn SVG chart of the same figures. Ratios are taken
// against "raw-bun" (the hand-written JetStream pipeline, the ceiling) and "bullmq" measured in
// the same run.
// Usage: bun run bench/lib/report.ts <run dir with <system>.json + machine.json> <results dir>
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

type Any = Record<string, any>;
const [runDir, outDir] = process.argv.slice(2);
if (!runDir || !outDir) throw new TypeError("Cannot report: usage is report.ts <run dir> <results dir>");

const ORDER = ["raw-bun", "raw-deno", "taskd-bun", "taskd-deno", "bullmq", "celery"];
const machine: Any = existsSync(join(runDir, "machine.json"))
  ? JSON.parse(readFileSync(join(runDir, "machine.json"), "utf8"))
  : {};
const systems: Any[] = readdirSync(runDir)
  .filter((f) => f.endsWith(".json") && f !== "machine.json")
  .map((f) => JSON.parse(readFileSync(join(runDir, f), "utf8")))
  .sort((a, b) => (ORDER.indexOf(a.system) + 99 * +!ORDER.includes(a.system)) -
    (ORDER.indexOf(b.system) + 99 * +!ORDER.includes(b.system)));
const by = (name: string) => systems.find((s) => s.system === name);
const raw = by("raw-bun");
const bull = by("bullmq");

const ok = (x: unknown): x is number => typeof x === "number" && Number.isFinite(x);
const ratio = (a: unknown, b: unknown): number | undefined => (ok(a) && ok(b) && b > 0 ? a / b : undefined);
const fmtN = (x: unknown, d = 0): string =>
  ok(x) ? x.toLocaleString("en-US", { minimumFractionDigits: d, maximumFractionDigits: d }) : "–";
const fmtR = (x: number | undefined): string => (x === undefined ? "–" : `${x.toFixed(2)}×`);

const anyW3 = systems.some((s) => s.w3 && !s.w3.error);
const head = [
  "system", "W1 tasks/s", "×raw", "×BullMQ", "W1e tasks/s", "×raw", "×BullMQ",
  "W2 p50 ms", "p90", "p99", "p50 ×raw", "×BullMQ", "W4 s", "×ideal", "idle MiB", "ready ms",
  ...(anyW3 ? ["W3 n", "late p50 s", "p99", "max", "RSS MiB before→after"] : []),
];
const rows: string[][] = [];
const tableJson: Any[] = [];
for (const s of systems) {
  if (s.skipped || (s.error && !s.idle)) {
    rows.push([s.system, s.skipped ? `skipped: ${s.skipped}` : `failed: ${s.error}`]);
    tableJson.push({ system: s.system, skipped: s.skipped, error: s.error });
    continue;
  }
  const r = {
    system: s.system,
    w1: s.w1?.perS, w1Raw: ratio(s.w1?.perS, raw?.w1?.perS), w1Bull: ratio(s.w1?.perS, bull?.w1?.perS),
    w1e: s.w1e?.perS, w1eRaw: ratio(s.w1e?.perS, raw?.w1e?.perS), w1eBull: ratio(s.w1e?.perS, bull?.w1e?.perS),
    p50: s.w2?.p50, p90: s.w2?.p90, p99: s.w2?.p99,
    p50Raw: ratio(s.w2?.p50, raw?.w2?.p50), p50Bull: ratio(s.w2?.p50, bull?.w2?.p50),
    w4: s.w4?.seconds, w4Ideal: s.w4?.overIdeal, idleMiB: s.idle?.rssMiB, readyMs: s.idle?.readyMs,
    w3: s.w3 && !s.w3.error ? s.w3 : undefined,
    cpuUs: s.w1?.cpuUs, clientAllocB: s.w1?.clientAllocB,
  };
  tableJson.push(r);
  rows.push([
    r.system, fmtN(r.w1), fmtR(r.w1Raw), fmtR(r.w1Bull), fmtN(r.w1e), fmtR(r.w1eRaw), fmtR(r.w1eBull),
    fmtN(r.p50, 2), fmtN(r.p90, 2), fmtN(r.p99, 2), fmtR(r.p50Raw), fmtR(r.p50Bull),
    fmtN(r.w4, 2), fmtR(r.w4Ideal), fmtN(r.idleMiB, 1), fmtN(r.readyMs),
    ...(anyW3
      ? r.w3
        ? [fmtN(r.w3.n), fmtN(r.w3.lateP50, 2), fmtN(r.w3.lateP99, 2), fmtN(r.w3.lateMax, 2),
          `${fmtN(r.w3.rssBefore, 0)}→${fmtN(r.w3.rssAfter, 0)} (peak ${fmtN(r.w3.rssPeak, 0)})`]
        : ["–", "–", "–", "–", s.w3?.error ? `failed: ${s.w3.error}` : "–"]
      : []),
  ]);
  const errs = ["w1", "w1e", "w2", "w4"].filter((k) => s[k]?.error).map((k) => `${k}: ${s[k].error}`);
  if (errs.length) rows.push(["", `  errors: ${errs.join("; ")}`]);
}

// the table: full rows aligned by column; short rows (skipped, errors) printed as they are
const widths = head.map((h, i) => Math.max(h.length, ...rows.filter((r) => r.length === head.length).map((r) => r[i].length)));
const line = (cells: string[]) =>
  cells.length === head.length
    ? cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ")
    : cells[0].padEnd(widths[0]) + "  " + cells.slice(1).join("  ");
const date: string = machine.date ?? new Date().toISOString();
const out: string[] = [];
out.push(`taskd bench ${date}${systems[0]?.config?.quick ? " (BENCH_QUICK=1: smaller counts)" : ""}`);
out.push(`machine: ${machine.cpu ?? "?"}, ${machine.cores ?? "?"} cores, ${machine.memGiB ?? "?"} GiB; ${machine.versions ?? ""}`);
const c = systems.find((s) => s.config)?.config ?? {};
out.push(`W1 ${fmtN(c.w1)} adds end to end · W1e ${fmtN(c.w1e)} sends, no worker · W2 ${fmtN(c.w2)} round trips · ` +
  `W4 ${fmtN(c.w4)} × ${c.w4SleepMs} ms sleeps at concurrency ${c.w4Concurrency}` +
  (c.w3 ? ` · W3 ${fmtN(c.w3n)} countdown-${c.w3Countdown}s tasks (Celery: fewer, see its row)` : ""));
// the 1-minute load average as each system started: other work on a shared machine shows here
const load: Record<string, number> = {};
if (existsSync(join(runDir, "load.txt"))) {
  for (const l of readFileSync(join(runDir, "load.txt"), "utf8").trim().split("\n")) {
    const [sys, v] = l.split(" ");
    if (sys) load[sys] = Number(v);
  }
}
machine.loadAtStart = load;
const cores = Number(machine.cores) || 1;
const loadText = Object.entries(load).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(", ");
if (loadText) {
  const busy = Math.max(...Object.values(load)) > cores;
  out.push(`load average as each system started: ${loadText}` +
    (busy ? ` — above ${cores} (the core count): other work shared the machine, trust ratios less` : ""));
}
out.push("×raw and ×BullMQ: throughput ratios (higher is better) for W1/W1e, time ratios (lower is better) for W2 p50");
out.push("");
out.push(line(head));
out.push(widths.map((w) => "-".repeat(w)).join("  "));
for (const r of rows) out.push(line(r));
// where W1's CPU went: µs of CPU per task in the client, the worker(s) and the broker; and the
// bytes the client allocated per task, where the runtime counts them (Deno)
const cpuRows = tableJson.filter((r) => r.cpuUs);
if (cpuRows.length) {
  const total = (u: Any) => u.client + u.worker + (ok(u.server) ? u.server : 0);
  const rawTotal = raw?.w1?.cpuUs ? total(raw.w1.cpuUs) : undefined;
  const cells = (r: Any) => [r.system, fmtN(r.cpuUs.client), fmtN(r.cpuUs.worker), fmtN(r.cpuUs.server),
    fmtN(total(r.cpuUs)), fmtR(ratio(total(r.cpuUs), rawTotal)), fmtN(r.clientAllocB)];
  const cpuHead = ["W1 CPU µs/task", "client", "worker", "server", "total", "×raw", "client alloc B/task (Deno)"];
  const cw = cpuHead.map((h, i) => Math.max(h.length, ...cpuRows.map((r) => cells(r)[i].length)));
  const cpuLine = (c: string[]) => c.map((x, i) => (i === 0 ? x.padEnd(cw[i]) : x.padStart(cw[i]))).join("  ");
  out.push("", cpuLine(cpuHead), cw.map((w) => "-".repeat(w)).join("  "), ...cpuRows.map((r) => cpuLine(cells(r))));
}
// issue 20's targets against the ceiling, and what events and tracing cost, as ratios of this run
const tb = tableJson.find((r) => r.system === "taskd-bun");
const td = tableJson.find((r) => r.system === "taskd-deno");
if (tb && raw) {
  const mark = (x: number | undefined, okIf: (v: number) => boolean) => (x === undefined ? "–" : `${x.toFixed(2)}× ${okIf(x) ? "(met)" : "(not met)"}`);
  out.push("", "targets (taskd-bun against raw-bun): " + [
    `W1 ${mark(tb.w1Raw, (v) => v >= 0.8)} of ≥ 0.8×`,
    `W1e ${mark(tb.w1eRaw, (v) => v >= 1)} of ≥ 1×`,
    `W2 p50 ${mark(tb.p50Raw, (v) => v <= 1.25)} of ≤ 1.25×`,
    ...(td ? [`taskd-deno W1 ${mark(ratio(td.w1, tb.w1), (v) => v >= 0.85)} of taskd-bun (≥ 0.85×)`] : []),
  ].join(" · "));
}
const costRows = tableJson.filter((r) => r.system === "taskd-bun-events" || r.system === "taskd-bun-otel");
if (tb && costRows.length) {
  out.push("observability's cost (ratios to taskd-bun in this run): " + costRows.map((r) =>
    `${r.system}: W1 ${fmtR(ratio(r.w1, tb.w1))}, W2 p50 ${fmtR(ratio(r.p50, tb.p50))}`).join(" · "));
}
const text = out.join("\n");
console.log(text);

// the chart: one panel per figure, one bar per system
const panels: { title: string; key: (r: Any) => unknown; better: string; ref?: (r: Any) => unknown }[] = [
  { title: "W1 end-to-end tasks/s", key: (r) => r.w1, better: "higher is better" },
  { title: "W1e enqueue tasks/s", key: (r) => r.w1e, better: "higher is better" },
  { title: "W2 round trip p50 ms", key: (r) => r.p50, better: "lower is better" },
  { title: "W4 wall s (line: ideal)", key: (r) => r.w4, better: "lower is better", ref: () => c.w4 * c.w4SleepMs / 1000 / c.w4Concurrency },
  { title: "Idle worker RSS MiB", key: (r) => r.idleMiB, better: "lower is better" },
  { title: "Worker start to ready ms", key: (r) => r.readyMs, better: "lower is better" },
  ...(anyW3
    ? [
      { title: "W3 lateness p99 s", key: (r: Any) => r.w3?.lateP99, better: "lower is better" },
      { title: "W3 worker RSS after MiB", key: (r: Any) => r.w3?.rssAfter, better: "lower is better" },
    ]
    : []),
];
const COLORS: Record<string, string> = {
  "raw-bun": "#4e79a7", "raw-deno": "#76b7b2", "taskd-bun": "#e15759", "taskd-deno": "#ff9d9a",
  bullmq: "#f28e2b", celery: "#59a14f",
};
const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
const bars = tableJson;
const PW = 470, BAR = 20, GAP = 6, LABEL = 90, TOP = 40;
const PH = TOP + bars.length * (BAR + GAP) + 16;
const W = 2 * PW + 30, H = 60 + Math.ceil(panels.length / 2) * (PH + 14);
const svg: string[] = [
  `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
  `<rect width="100%" height="100%" fill="#fff"/>`,
  `<text x="15" y="24" font-size="16" font-weight="bold">taskd bench — ${esc(date)}${c.quick ? " (quick)" : ""}</text>`,
  `<text x="15" y="44" fill="#555">${esc(`${machine.cpu ?? ""}, ${machine.cores ?? "?"} cores · ${machine.versions ?? ""}`).slice(0, 170)}</text>`,
];
panels.forEach((p, i) => {
  const x0 = 15 + (i % 2) * (PW + 15), y0 = 60 + Math.floor(i / 2) * (PH + 14);
  const vals = bars.map((b) => p.key(b)).filter(ok) as number[];
  const refV = p.ref ? Number(p.ref({})) : undefined;
  const max = Math.max(...vals, ok(refV) ? refV : 0, 1e-9);
  const scale = (PW - LABEL - 80) / max;
  svg.push(`<g transform="translate(${x0},${y0})">`);
  svg.push(`<rect width="${PW}" height="${PH}" fill="#fafafa" stroke="#ddd"/>`);
  svg.push(`<text x="10" y="20" font-weight="bold">${esc(p.title)}</text><text x="${PW - 10}" y="20" text-anchor="end" fill="#777">${p.better}</text>`);
  bars.forEach((b, j) => {
    const y = TOP + j * (BAR + GAP);
    const v = p.key(b);
    svg.push(`<text x="${LABEL - 6}" y="${y + BAR * 0.7}" text-anchor="end">${esc(b.system)}</text>`);
    if (ok(v)) {
      const w = Math.max(1, v * scale);
      svg.push(`<rect x="${LABEL}" y="${y}" width="${w.toFixed(1)}" height="${BAR}" fill="${COLORS[b.system] ?? "#999"}"/>`);
      svg.push(`<text x="${(LABEL + w + 5).toFixed(1)}" y="${y + BAR * 0.7}">${fmtN(v, v < 10 ? 2 : 0)}</text>`);
    } else {
      svg.push(`<text x="${LABEL + 5}" y="${y + BAR * 0.7}" fill="#999">${b.skipped ? "skipped" : "n/a"}</text>`);
    }
  });
  if (ok(refV)) {
    const x = LABEL + refV * scale;
    svg.push(`<line x1="${x.toFixed(1)}" y1="${TOP - 4}" x2="${x.toFixed(1)}" y2="${PH - 8}" stroke="#333" stroke-dasharray="4 3"/>`);
  }
  svg.push(`</g>`);
});
svg.push(`</svg>`);

const stamp = date.replace(/:/g, "").replace(/\.\d+Z$/, "Z");
const json = { date, machine, systems, table: tableJson };
writeFileSync(join(outDir, `${stamp}.json`), JSON.stringify(json, null, 2) + "\n");
writeFileSync(join(outDir, `${stamp}.svg`), svg.join("\n") + "\n");
writeFileSync(join(outDir, "latest.svg"), svg.join("\n") + "\n");
writeFileSync(join(outDir, "latest.txt"), text + "\n");
console.log(`\nwrote bench/results/${stamp}.json, bench/results/${stamp}.svg, bench/results/latest.svg`);
