/**
 * Periodic tasks through dist/taskd against a real nats-server: three beats at once (one of
 * them `worker -B`) fire each second of a 1 s schedule exactly once; a beat killed with -9 and
 * restarted after a gap backfills per policy; overlap "skip" never runs two at once; schedules
 * added with the CLI survive a server restart and a worker redeploy; `schedule run` fires now
 * without moving the cursor; bad input is refused and changes nothing. Each test has its own
 * prefix (streams and buckets); runs are counted through a side channel file.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "@nats-io/transport-node";
import { NatsServer } from "./helpers/server.ts";
import { cliCommand, completeLines, eventually, fixture, ROOT, runCli, startWorker, WorkerProcess } from "./helpers/taskd.ts";

interface Run {
  what: string;
  task: string;
  id: string;
  schedule: { id: string; scheduledFor: string; backfilled: boolean } | null;
  started: number;
  ended: number;
  pid: number;
}

let server: NatsServer;
const dir = mkdtempSync(join(tmpdir(), "taskd-beat-"));
const MODULE = fixture("beat_tasks.ts");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const procs: WorkerProcess[] = [];

function runsOf(file: string, what?: string): Run[] {
  if (!existsSync(file)) return [];
  const all = completeLines(readFileSync(file, "utf8")).map((l) => JSON.parse(l) as Run);
  return what === undefined ? all : all.filter((r) => r.what === what);
}

/** Environment for one test: its prefix, runs file and code-defined schedules. */
function envFor(prefix: string, schedules: string): Record<string, string> {
  return { TASKD_TEST_PREFIX: prefix, TASKD_TEST_RUNS: join(dir, `${prefix}.jsonl`), TASKD_TEST_SCHEDULES: schedules };
}

async function worker(env: Record<string, string>, beat: boolean): Promise<WorkerProcess> {
  const w = await startWorker(server.url, MODULE, { args: ["-c", "10", ...(beat ? ["-B"] : [])], env });
  procs.push(w);
  if (beat) await w.waitFor(/beat ready/, 30_000);
  return w;
}

async function beat(env: Record<string, string>): Promise<WorkerProcess> {
  const [cmd, ...pre] = cliCommand();
  const e: Record<string, string> = { ...(process.env as Record<string, string>), NO_COLOR: "1", TASKD_BROKER_URL: server.url, ...env };
  const b = new WorkerProcess(spawn(cmd, [...pre, "beat", MODULE], { env: e, cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] }));
  procs.push(b);
  await b.waitFor(/beat ready/, 30_000);
  return b;
}

function cli(prefix: string, args: string[]) {
  return runCli(server.url, ["schedule", ...args, "--prefix", prefix]);
}

/** Due times (ISO) of `runs`, sorted. */
const dues = (runs: Run[]) => runs.map((r) => r.schedule!.scheduledFor).sort();

describe("periodic tasks through dist/taskd", () => {
  before(async () => {
    server = await NatsServer.start();
  });

  after(async () => {
    await Promise.all(procs.map((p) => p.stop(3000)));
    await server?.stop();
  });

  test("three beats (one in a worker, -B) on a 1 s schedule fire each second exactly once", { timeout: 120_000 }, async () => {
    const env = envFor("p1", "tick");
    const nc = await connect({ servers: server.url });
    const events: { schedule: string; scheduledFor: string; id: string }[] = [];
    const sub = nc.subscribe("p1.events.schedule.fired", { callback: (_e, m) => void events.push(m.json()) });
    await nc.flush();
    const w = await worker(env, true);
    const b1 = await beat(env);
    const b2 = await beat(env);
    const t0 = Date.now();
    await sleep(10_000);
    await Promise.all([b1.stop(), b2.stop()]);
    await sleep(1500); // the last firings run
    sub.unsubscribe();
    await nc.close();
    assert.match(w.output, /signal beatEmbeddedInit: with service/);
    assert.doesNotMatch(w.output, /signal beatInit:/);
    assert.match(b1.output, /signal beatInit: with service/);
    const runs = runsOf(env.TASKD_TEST_RUNS, "tick").filter((r) => Date.parse(r.schedule!.scheduledFor) >= t0);
    const due = dues(runs);
    assert.ok(runs.length >= 9, `only ${runs.length} runs in 10 s`);
    assert.equal(new Set(due).size, due.length, `a due time ran twice: ${due.join(" ")}`);
    // Consecutive seconds, none missing.
    const secs = due.map((d) => Date.parse(d) / 1000);
    for (let i = 1; i < secs.length; i++) assert.equal(secs[i] - secs[i - 1], 1, `gap between ${due[i - 1]} and ${due[i]}`);
    assert.ok(runs.every((r) => r.id === `tick.${r.schedule!.scheduledFor.replace(/[-:]/g, "")}` && r.schedule!.backfilled === false));
    // One schedule-fired event per due time, from whichever beat advanced the cursor.
    const fired = events.filter((e) => Date.parse(e.scheduledFor) >= t0).map((e) => e.scheduledFor).sort();
    assert.deepEqual(fired.filter((d) => due.includes(d)), due);
    assert.equal(new Set(fired).size, fired.length, "a due time was announced twice");
  });

  test("a beat killed with -9 and restarted after a gap backfills per policy: skip none, once one", { timeout: 120_000 }, async () => {
    const env = envFor("p2", "catchup-skip,catchup-once");
    await worker(env, false);
    const b = await beat(env);
    await eventually(() => runsOf(env.TASKD_TEST_RUNS, "catchup-once").length >= 2 && runsOf(env.TASKD_TEST_RUNS, "catchup-skip").length >= 2, 20_000);
    b.signal("SIGKILL");
    await b.exited;
    const killed = Date.now();
    await sleep(6000);
    const restarted = Date.now();
    const b2 = await beat(env);
    await sleep(3000);
    await b2.stop();
    await sleep(500);
    const gap = (r: Run) => Date.parse(r.schedule!.scheduledFor) > killed + 1000 && Date.parse(r.schedule!.scheduledFor) < restarted - 3000;
    const skip = runsOf(env.TASKD_TEST_RUNS, "catchup-skip");
    const once = runsOf(env.TASKD_TEST_RUNS, "catchup-once");
    assert.equal(skip.filter((r) => r.schedule!.backfilled).length, 0, "skip backfilled");
    assert.equal(skip.filter(gap).length, 0, `skip ran missed due times: ${dues(skip.filter(gap))}`);
    const backfilled = once.filter((r) => r.schedule!.backfilled);
    assert.equal(backfilled.length, 1, `once: ${backfilled.length} backfilled runs`);
    assert.ok(Date.parse(backfilled[0].schedule!.scheduledFor) > killed, "the backfill is for a missed due time");
    assert.equal(once.filter((r) => gap(r) && !r.schedule!.backfilled).length, 0);
    // Both went on firing on time after the restart, each due time once.
    for (const runs of [skip, once]) {
      assert.ok(runs.some((r) => Date.parse(r.schedule!.scheduledFor) >= restarted && !r.schedule!.backfilled));
      assert.equal(new Set(dues(runs)).size, runs.length);
    }
  });

  test('overlap "skip": a 3 s task on a 1 s schedule never runs twice at once', { timeout: 120_000 }, async () => {
    const env = envFor("p3", "slow");
    await worker(env, true);
    const b = await beat(env);
    await sleep(11_000);
    await b.stop();
    const runs = runsOf(env.TASKD_TEST_RUNS, "slow");
    assert.ok(runs.length >= 2, `${runs.length} runs`);
    const sorted = [...runs].sort((a, b) => a.started - b.started);
    for (let i = 1; i < sorted.length; i++) {
      assert.ok(sorted[i].started >= sorted[i - 1].ended, `runs overlap: ${JSON.stringify(sorted[i - 1])} and ${JSON.stringify(sorted[i])}`);
    }
    // The skipped due times are counted in the schedule's state.
    const list = JSON.parse((await cli("p3", ["list", "--json"])).stdout);
    assert.ok(list[0].definition.overlap === "skip");
  });

  test("schedules added with the CLI survive a server restart and a worker redeploy; code schedules keep their cursor", { timeout: 120_000 }, async () => {
    const env = envFor("p4", "tick");
    const add = await cli("p4", ["add", "cli-tick", "--task", "bt.tick", "--every", "1", "--args", '["cli"]']);
    assert.equal(add.code, 0, add.stderr);
    assert.match(add.stdout, /schedule cli-tick created/);
    let w = await worker(env, true);
    await eventually(() => runsOf(env.TASKD_TEST_RUNS, "cli").length >= 2, 20_000);
    await server.kill();
    await sleep(500);
    await server.restart();
    const afterRestart = Date.now();
    await eventually(() => runsOf(env.TASKD_TEST_RUNS, "cli").some((r) => r.started > afterRestart + 1000), 30_000);
    // Redeploy: the same module (same code schedule) on a new worker.
    await w.stop();
    w = await worker(env, true);
    assert.doesNotMatch(w.output, /schedule 'tick' (created|updated)/, "an unchanged code schedule was rewritten");
    const redeployed = Date.now();
    await eventually(() => runsOf(env.TASKD_TEST_RUNS, "cli").some((r) => r.started > redeployed + 500), 20_000);
    // A deploy without any code schedule keeps the CLI's.
    await w.stop();
    w = await worker({ ...env, TASKD_TEST_SCHEDULES: "" }, true);
    const list = JSON.parse((await cli("p4", ["list", "--json"])).stdout) as { id: string; origin: string }[];
    assert.deepEqual(list.map((s) => [s.id, s.origin]), [["cli-tick", "api"], ["tick", "code"]]);
    const text = await cli("p4", ["list"]);
    assert.match(text.stdout, /cli-tick\s+bt\.tick\s+every 1s\s+\S+Z\s+\S+Z\s+active\s+api/);
    const all = runsOf(env.TASKD_TEST_RUNS, "cli");
    assert.equal(new Set(dues(all)).size, all.length, "a due time ran twice");
    await w.stop();
  });

  test("schedule run fires now without moving the cursor; pause and resume", { timeout: 60_000 }, async () => {
    const env = envFor("p5", "");
    await worker(env, false);
    assert.equal((await cli("p5", ["add", "daily", "--task", "bt.tick", "--cron", "0 3 * * *", "--tz", "Europe/Berlin", "--args", '["daily"]'])).code, 0);
    const before = JSON.parse((await cli("p5", ["list", "--json"])).stdout)[0];
    const run = await cli("p5", ["run", "daily"]);
    assert.equal(run.code, 0, run.stderr);
    const id = run.stdout.trim();
    assert.match(id, /^daily\.run\./);
    const r = await eventually(() => runsOf(env.TASKD_TEST_RUNS, "daily").find((x) => x.id === id), 15_000);
    assert.equal(r.schedule!.id, "daily");
    assert.equal(r.schedule!.backfilled, false);
    const after = JSON.parse((await cli("p5", ["list", "--json"])).stdout)[0];
    assert.equal(after.next, before.next);
    assert.equal(after.lastRun, null);
    assert.match((await cli("p5", ["pause", "daily"])).stdout, /paused/);
    assert.equal(JSON.parse((await cli("p5", ["list", "--json"])).stdout)[0].paused, true);
    assert.match((await cli("p5", ["resume", "daily"])).stdout, /resumed/);
    assert.equal(JSON.parse((await cli("p5", ["list", "--json"])).stdout)[0].paused, false);
    assert.match((await cli("p5", ["remove", "daily"])).stdout, /removed/);
    const gone = await cli("p5", ["run", "daily"]);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /no such schedule/);
  });

  test("bad input gets a clear error and changes nothing; an unknown task warns", { timeout: 60_000 }, async () => {
    const cases: [string[], RegExp][] = [
      [["--cron", "61 * * * *"], /'cron' is not a valid expression/],
      [["--cron", "0 9 * * *", "--tz", "Mars/Olympus"], /'tz' is not a known IANA time zone/],
      [["--every", "0"], /'every' must be at least 1 second/],
      [["--every", "5", "--catchup", "sometimes"], /'catchup' must be/],
      [["--every", "5", "--args", "{not json"], /--args must be JSON/],
      [[], /exactly one of --every/],
    ];
    for (const [flags, re] of cases) {
      const r = await cli("p6", ["add", "bad", "--task", "bt.tick", ...flags]);
      assert.equal(r.code, 1, `${flags.join(" ")} was accepted`);
      assert.match(r.stderr, re);
    }
    assert.equal((await cli("p6", ["list", "--json"])).stdout.trim(), "[]");
    const unknown = await cli("p6", ["add", "ghost", "--task", "no.such.task", "--every", "60"]);
    assert.equal(unknown.code, 0, unknown.stderr);
    assert.match(unknown.stderr, /warning: .*no\.such\.task|warning: no worker answered/);
    assert.equal((await cli("p6", ["remove", "ghost"])).code, 0);
  });
});
