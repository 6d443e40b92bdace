/**
 * The dashboard in a real browser: dist/taskd dashboard and a worker against a test
 * nats-server, the pages driven in headless Chromium (Debian's `chromium`) by puppeteer-core.
 * Saves a screenshot of each main view to docs/screenshots/ (the README shows them).
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import puppeteer, { type Browser, type Page } from "puppeteer-core";
import { add, app, once, order, wait } from "./fixtures/dashboard_tasks.ts";
import { freePort, NatsServer } from "./helpers/server.ts";
import { eventually, fixture, ROOT, startWorker, type WorkerProcess } from "./helpers/taskd.ts";
import { CHROMIUM, DashboardProcess } from "./helpers/dashboard.ts";

const T = { timeout: 60_000 };
const SHOTS = join(ROOT, "docs", "screenshots");

describe("dashboard in a browser", () => {
  let server: NatsServer;
  let worker: WorkerProcess;
  let dash: DashboardProcess;
  let browser: Browser;
  let page: Page;

  const shot = (name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`) });
  const text = (selector: string) => page.$eval(selector, (e) => (e as HTMLElement).innerText);

  before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    server = await NatsServer.start();
    process.env.TASKD_BROKER_URL = server.url;
    const port = await freePort();
    [dash, worker, browser] = await Promise.all([
      DashboardProcess.start(server.url, port),
      startWorker(server.url, fixture("dashboard_tasks.ts"), { args: ["-n", "w1@dash", "-c", "4"] }),
      puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"] }),
    ]);
    page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 820 });
    // Some history for the views: successes, a failure, arguments to search.
    for (let i = 0; i < 6; i++) await add.applyAsync([i, i * 10], { argsrepr: `(${i}, ${i * 10})` });
  });

  after(async () => {
    await browser?.close();
    await app.close();
    await dash?.stop();
    await worker?.stop();
    await server?.stop();
    delete process.env.TASKD_BROKER_URL;
  });

  test("the overview loads: cards, charts, queues and the worker", T, async () => {
    await page.goto(dash.url + "/", { waitUntil: "domcontentloaded" });
    await page.waitForSelector(".card");
    await page.waitForFunction(() => document.body.innerText.includes("w1@dash"), { timeout: 15_000 });
    assert.equal(await page.$$eval(".chart svg", (s) => s.length), 2);
    await page.waitForFunction(() => /default\s+\d+\s+\d+\s+\d+\s+w1@dash/.test(document.querySelector("main")!.innerText), { timeout: 10_000 });
  });

  test("a task sent by the test appears live on the tasks page, without a reload", T, async () => {
    await page.goto(dash.url + "/tasks", { waitUntil: "domcontentloaded" });
    await page.waitForSelector("#task-rows tr[data-id]");
    await page.evaluate(() => ((globalThis as unknown as { marker: number }).marker = 42));
    const r = await add.applyAsync([20, 22], { argsrepr: "(20, 22)" });
    await page.waitForSelector(`tr[data-id="${r.id}"] .state.SUCCESS`, { timeout: 10_000 });
    assert.equal(await page.evaluate(() => (globalThis as unknown as { marker: number }).marker), 42, "the page was not reloaded");
    assert.match(await text(`tr[data-id="${r.id}"]`), /dash\.add[\s\S]*\(20, 22\)[\s\S]*w1@dash[\s\S]*42/);
  });

  test("search finds a task by an argument", T, async () => {
    const r = await add.applyAsync([4242, 1], { argsrepr: "(4242, 1)" });
    await r.get({ timeout: 10 });
    await page.goto(dash.url + "/tasks", { waitUntil: "domcontentloaded" });
    await page.waitForSelector("#task-rows tr[data-id]");
    await page.type("#q", "args:4242");
    await Promise.all([page.waitForNavigation(), page.click("#search button[type=submit]")]);
    await page.waitForSelector(`tr[data-id="${r.id}"]`);
    assert.equal(await page.$$eval("#task-rows tr[data-id]", (rows) => rows.length), 1);
    await page.goto(dash.url + "/tasks", { waitUntil: "domcontentloaded" });
    await page.waitForSelector("#task-rows tr[data-id]");
    await shot("tasks");
  });

  test("a failed task's detail shows its error and traceback", T, async () => {
    const r = await order.applyAsync(["widgets"], { argsrepr: "('widgets',)" });
    await assert.rejects(r.get({ timeout: 10 }), /out of stock: widgets/);
    await page.goto(`${dash.url}/tasks/${r.id}`, { waitUntil: "domcontentloaded" });
    await page.waitForSelector("#traceback");
    assert.match(await text("#exception"), /RangeError: out of stock: widgets/);
    assert.match(await text("#traceback"), /checkStock/);
    assert.match(await text("#task-fields"), /FAILURE[\s\S]*dash\.order[\s\S]*w1@dash/);
    await shot("task-failed");
  });

  test("revoke with terminate from the page stops a running task", T, async () => {
    const r = await wait.delay();
    await page.goto(`${dash.url}/tasks/${r.id}`, { waitUntil: "domcontentloaded" });
    await page.waitForSelector("#task-fields .state.STARTED", { timeout: 10_000 });
    await page.click("#terminate");
    await page.waitForSelector("#task-fields .state.REVOKED", { timeout: 10_000 });
    assert.equal(await r.state, "REVOKED");
  });

  test("dead-letter retry from the page sends it back and it runs", T, async () => {
    const r = await once.delay();
    await page.goto(dash.url + "/dead", { waitUntil: "domcontentloaded" });
    const row = `tr[data-id="${r.id}"]`;
    await eventually(async () => {
      await page.reload({ waitUntil: "domcontentloaded" });
      return await page.waitForSelector(row, { timeout: 1000 }).catch(() => null);
    }, 15_000);
    assert.match(await text(row), /first run goes to the dead letters/);
    await shot("dead-letters");
    await page.click(`${row} button.retry`);
    await page.waitForSelector(row, { hidden: true, timeout: 10_000 });
    // The first run stored REJECTED; the replayed message runs again and succeeds.
    await page.goto(`${dash.url}/tasks/${r.id}`, { waitUntil: "domcontentloaded" });
    await page.waitForSelector("#task-fields .state.SUCCESS", { timeout: 10_000 });
    assert.match(await text("#result"), /second time lucky/);
    assert.equal(await page.$$eval("main table tbody tr", (rows) => rows.length), 2, "two attempts: rejected, then the replay");
  });

  test("workers, queues and schedules views render", T, async () => {
    await page.goto(dash.url + "/workers", { waitUntil: "domcontentloaded" });
    await page.waitForFunction(() => document.querySelector("main")!.textContent!.includes("maxConcurrency") || document.querySelector("main")!.textContent!.includes("concurrency"), { timeout: 10_000 });
    assert.match(await text("main"), /w1@dash[\s\S]*online/);
    await shot("workers");
    await page.goto(dash.url + "/queues", { waitUntil: "domcontentloaded" });
    await page.waitForSelector('tr[data-queue="default"]');
    await shot("queues");
    await app.schedules.add("dash-hourly", { task: add.name, every: 3600, args: [1, 2] });
    await page.goto(dash.url + "/schedules", { waitUntil: "domcontentloaded" });
    await page.waitForFunction(() => document.querySelector("main")!.textContent!.includes("dash-hourly"), { timeout: 10_000 });
    assert.match(await text("main"), /dash-hourly[\s\S]*every/);
    await shot("schedules");
  });

  test("a broker outage shows a banner; the page recovers and goes on live", T, async () => {
    await page.goto(dash.url + "/tasks", { waitUntil: "domcontentloaded" });
    await page.waitForSelector("#task-rows tr[data-id]");
    await server.kill();
    await page.waitForSelector("#banner:not([hidden])", { timeout: 10_000 });
    assert.match(await text("#banner"), /Broker unavailable/);
    await server.restart();
    await page.waitForSelector("#banner", { hidden: true, timeout: 15_000 });
    const r = await add.applyAsync([1, 2], { argsrepr: "(1, 2)" });
    await page.waitForSelector(`tr[data-id="${r.id}"] .state.SUCCESS`, { timeout: 15_000 });
  });

  test("--auth: the page refuses a browser without credentials and loads with them", T, async () => {
    const guarded = await DashboardProcess.start(server.url, await freePort(), ["--auth", "ops:hunter2"]);
    const p2 = await browser.newPage();
    try {
      // Headless Chromium cancels the credentials prompt: the navigation fails, or shows the 401.
      const refused = await p2.goto(guarded.url + "/", { waitUntil: "domcontentloaded" }).catch((e: Error) => e);
      if (refused instanceof Error) assert.match(refused.message, /ERR_INVALID_RESPONSE|ERR_INVALID_AUTH_CREDENTIALS/);
      else assert.equal(refused?.status(), 401);
      assert.doesNotMatch(await p2.content(), /taskd-csrf/);
      await p2.authenticate({ username: "ops", password: "hunter2" });
      const ok = await p2.goto(guarded.url + "/tasks", { waitUntil: "domcontentloaded" });
      assert.equal(ok?.status(), 200);
      await p2.waitForSelector("#task-rows tr[data-id]");
    } finally {
      await p2.close();
      await guarded.stop();
    }
  });

  test("history survives a dashboard restart: earlier tasks are still on the page", T, async () => {
    const r = await add.applyAsync([7, 7], { argsrepr: "(7, 7)" });
    await r.get({ timeout: 10 });
    await page.goto(`${dash.url}/tasks?q=${encodeURIComponent("args:(7, 7)")}`, { waitUntil: "domcontentloaded" });
    await page.waitForSelector(`tr[data-id="${r.id}"] .state.SUCCESS`);
    const rowsBefore = await page.$$eval("#task-rows tr[data-id]", (rows) => rows.length);
    await dash.stop();
    await page.waitForSelector("#banner:not([hidden])", { timeout: 10_000 });
    dash = await DashboardProcess.start(server.url, dash.port);
    // The open page reconnects by itself and goes on live.
    await page.waitForSelector("#banner", { hidden: true, timeout: 15_000 });
    const later = await add.applyAsync([7, 7], { argsrepr: "(7, 7)" });
    await page.waitForSelector(`tr[data-id="${later.id}"] .state.SUCCESS`, { timeout: 10_000 });
    await page.goto(`${dash.url}/tasks`, { waitUntil: "domcontentloaded" });
    await page.waitForSelector(`tr[data-id="${r.id}"] .state.SUCCESS`);
    await page.goto(`${dash.url}/tasks?q=${encodeURIComponent("args:(7, 7)")}`, { waitUntil: "domcontentloaded" });
    await page.waitForSelector(`tr[data-id="${r.id}"]`);
    assert.equal(await page.$$eval("#task-rows tr[data-id]", (rows) => rows.length), rowsBefore + 1, "plus the one sent after the restart");
  });

  test("the overview screenshot, with the history so far", T, async () => {
    await page.goto(dash.url + "/", { waitUntil: "domcontentloaded" });
    await page.waitForFunction(() => document.body.innerText.includes("w1@dash"), { timeout: 15_000 });
    await page.waitForSelector("#main tbody tr[data-id]");
    await page.waitForFunction(() => document.getElementById("overview-workers")!.innerText.includes("w1@dash"), { timeout: 15_000 });
    await shot("overview");
  });
});
