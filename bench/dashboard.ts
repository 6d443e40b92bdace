/**
 * bench/dashboard.ts — the dashboard under load (`bun bench/dashboard.ts`, after `make build`):
 * 1. live: tasks sent at BENCH_RATE a second (default 1,000) for BENCH_SECONDS (default 15)
 *    through a real worker, with the tasks page open in headless Chromium; reports the delay
 *    from each task-succeeded event (the worker's timestamp) to the frame after the page applied
 *    it (p50/p99/max), and the dashboard process's CPU and RSS;
 * 2. search: 100,000 tasks written into the history stream as events, the dashboard restarted
 *    (replay time and RSS), then search latency over HTTP for typical queries.
 * Prints a table and writes bench/results/dashboard-<date>.json. Starts its own nats-server on a
 * free port and stops everything it started.
 * @module
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import puppeteer from "puppeteer-core";
import { freePort, NatsServer } from "../tests/helpers/server.ts";
import { fixture, ROOT, startWorker } from "../tests/helpers/taskd.ts";
import { CHROMIUM, DashboardProcess } from "../tests/helpers/dashboard.ts";

const RATE = Number(process.env.BENCH_RATE ?? 1000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 15);
const HISTORY = Number(process.env.BENCH_HISTORY ?? 100_000);

const TICK = 100; // USER_HZ on Linux
function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(f[11]) + Number(f[12])) / TICK; // utime, stime (fields 14, 15)
}
function rssMB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) / 1024 : NaN;
}
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] : NaN;
};

const server = await NatsServer.start();
process.env.TASKD_BROKER_URL = server.url;
const { add, app } = await import("../tests/fixtures/dashboard_tasks.ts");
app.config.taskSendSentEvent = false;
const port = await freePort();
let dash = await DashboardProcess.start(server.url, port);
const worker = await startWorker(server.url, fixture("dashboard_tasks.ts"), { args: ["-n", "bench@dash", "-c", "200"] });
const browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"] });
const result: Record<string, unknown> = { date: new Date().toISOString(), rate: RATE, seconds: SECONDS };
try {
  // ---- 1. live ----
  const page = await browser.newPage();
  await page.evaluateOnNewDocument(() => {
    const w = globalThis as unknown as { __lat: number[]; EventSource: typeof EventSource; requestAnimationFrame: typeof requestAnimationFrame };
    w.__lat = [];
    const Native = w.EventSource;
    const Wrapped = function (url: string) {
      const es = new Native(url);
      es.addEventListener("tasks", (ev) => {
        const tasks = JSON.parse((ev as MessageEvent).data) as { state: string; last: number }[];
        // The page's own listener renders in this same task; the next frame is on screen.
        w.requestAnimationFrame(() => {
          const now = Date.now();
          for (const t of tasks) if (t.state === "SUCCESS") w.__lat.push(now - t.last * 1000);
        });
      });
      return es;
    } as unknown as typeof EventSource;
    Object.assign(Wrapped, { CONNECTING: 0, OPEN: 1, CLOSED: 2 });
    w.EventSource = Wrapped;
  });
  await page.goto(dash.url + "/tasks", { waitUntil: "domcontentloaded" });
  await page.waitForSelector("#task-rows");
  await new Promise((r) => setTimeout(r, 500));
  const pid = dash.proc.pid!;
  const cpu0 = cpuSeconds(pid);
  const t0 = performance.now();
  let sent = 0;
  const total = RATE * SECONDS;
  const sends: Promise<unknown>[] = [];
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * RATE));
    while (sent < due) {
      sends.push(add.applyAsync([sent, 1], { argsrepr: `(${sent}, 1)`, ignoreResult: true }));
      sent++;
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  await Promise.all(sends);
  const sendSeconds = (performance.now() - t0) / 1000;
  const rssLive = rssMB(pid);
  // Wait until the page has seen (nearly) every task, or 20 s.
  const deadline = Date.now() + 20_000;
  let seen = 0;
  while (Date.now() < deadline) {
    seen = await page.evaluate(() => (globalThis as unknown as { __lat: number[] }).__lat.length);
    if (seen >= total) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  const cpu = cpuSeconds(pid) - cpu0;
  const wall = (performance.now() - t0) / 1000;
  const lat = await page.evaluate(() => (globalThis as unknown as { __lat: number[] }).__lat);
  result.live = {
    sent: total,
    sendRate: Math.round(total / sendSeconds),
    seenOnPage: lat.length,
    delayMs: { p50: Math.round(pct(lat, 50)), p99: Math.round(pct(lat, 99)), max: Math.round(Math.max(...lat)) },
    dashboardCpuPercent: Math.round((cpu / wall) * 100),
    dashboardRssMB: Math.round(rssLive),
  };
  await page.close();

  // ---- 2. search over HISTORY tasks in the history stream ----
  const nc = await app.connection();
  const base = Date.now() / 1000 - HISTORY / 1000;
  for (let i = 0; i < HISTORY; i++) {
    const common = { id: `hist-${i}`, name: `bench.task${i % 20}`, hostname: `w${i % 4}@bench`, retries: 0, queue: "default" };
    const ts = base + i / 1000;
    nc.publish("taskd.events.task.received", JSON.stringify({ type: "task-received", timestamp: ts, argsrepr: `(${i}, 'order-${i * 7}')`, ...common }));
    const failed = i % 50 === 0;
    nc.publish(
      `taskd.events.task.${failed ? "failed" : "succeeded"}`,
      JSON.stringify({ type: failed ? "task-failed" : "task-succeeded", timestamp: ts + 0.002, runtime: 0.002, ...(failed ? { exception: "TimeoutError: upstream" } : { result: `{"total": ${i}}` }), ...common }),
    );
    if (i % 5000 === 4999) await nc.flush();
  }
  await nc.flush();
  await dash.stop();
  const r0 = performance.now();
  dash = await DashboardProcess.start(server.url, port);
  const replaySeconds = (performance.now() - r0) / 1000;
  const health = await (await fetch(dash.url + "/healthz")).json();
  const queries = ["", "args:order-7000", "state:FAILURE", "name:task7 worker:w3", "error:timeout", "result:99999", "nothing-matches-this", `after:${base + 50}`];
  const times: Record<string, number> = {};
  for (const q of queries) {
    const ms: number[] = [];
    for (let k = 0; k < 5; k++) {
      const s = performance.now();
      const res = await fetch(`${dash.url}/api/tasks?limit=50&q=${encodeURIComponent(q)}`);
      await res.json();
      ms.push(performance.now() - s);
    }
    times[q || "(everything)"] = Math.round(pct(ms, 50) * 10) / 10;
  }
  result.search = { indexed: health.indexed, replaySeconds: Math.round(replaySeconds * 10) / 10, rssMB: Math.round(rssMB(dash.proc.pid!)), httpMsP50: times };
} finally {
  await browser.close();
  await app.close();
  await dash.stop();
  await worker.stop();
  await server.stop();
}

const live = result.live as { sent: number; sendRate: number; seenOnPage: number; delayMs: { p50: number; p99: number; max: number }; dashboardCpuPercent: number; dashboardRssMB: number };
const search = result.search as { indexed: number; replaySeconds: number; rssMB: number; httpMsP50: Record<string, number> };
console.log(`dashboard bench, ${result.date}`);
console.log(`live: ${live.sent} tasks at ${live.sendRate}/s; on the page: ${live.seenOnPage}; event-to-screen p50 ${live.delayMs.p50} ms, p99 ${live.delayMs.p99} ms, max ${live.delayMs.max} ms; dashboard CPU ${live.dashboardCpuPercent}% of a core, RSS ${live.dashboardRssMB} MB`);
console.log(`history: ${search.indexed} tasks replayed in ${search.replaySeconds} s, RSS ${search.rssMB} MB`);
for (const [q, ms] of Object.entries(search.httpMsP50)) console.log(`  search ${q.padEnd(24)} ${ms} ms (HTTP round trip, p50 of 5)`);
const file = join(ROOT, "bench", "results", `dashboard-${(result.date as string).replace(/[:.]/g, "").slice(0, 17)}Z.json`);
writeFileSync(file, JSON.stringify(result, null, 2) + "\n");
console.log(`wrote ${file}`);
process.exit(0);
