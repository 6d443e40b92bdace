/**
 * Live events through dist/taskd: `taskd events` prints a task's lifecycle one line each (and
 * JSON with --json), worker online/heartbeat/offline, and arguments only as argsrepr.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { EventReceiver, type TaskdEvent } from "../mod.ts";
import { add, app, patient } from "./fixtures/runtime_tasks.ts";
import { useTaskd } from "./helpers/env.ts";
import { cliCommand, eventually, ROOT } from "./helpers/taskd.ts";

/** Per-test options: Bun's node:test shim defaults to 5 s. */
const T = { timeout: 60_000 };

/** `taskd events …` running in the background. */
class EventsProcess {
  out = "";
  err = "";
  readonly proc: ChildProcess;
  constructor(url: string, args: string[]) {
    const [cmd, ...pre] = cliCommand();
    const env: Record<string, string> = { ...(process.env as Record<string, string>), TASKD_BROKER_URL: url, NO_COLOR: "1" };
    this.proc = spawn(cmd, [...pre, "events", ...args], { env, cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    this.proc.stdout?.on("data", (d) => (this.out += d));
    this.proc.stderr?.on("data", (d) => (this.err += d));
  }
  listening(): Promise<unknown> {
    return eventually(() => this.err.includes("listening on"), 20_000);
  }
  async stop(): Promise<void> {
    if (this.proc.exitCode !== null) return;
    const exited = new Promise((r) => this.proc.once("exit", r));
    this.proc.kill("SIGTERM");
    await exited;
  }
}

describe("events", () => {
  const t = useTaskd({ module: "runtime_tasks.ts", workers: [], apps: [app] });
  let lines: EventsProcess;
  let json: EventsProcess;

  before(async () => {
    lines = new EventsProcess(t.url, []);
    json = new EventsProcess(t.url, ["--json"]);
    await Promise.all([lines.listening(), json.listening()]);
    await t.startWorker(["-n", "ev@test", "--pool", "threads", "-c", "2"]);
  });

  after(async () => {
    await lines?.stop();
    await json?.stop();
  });

  test("taskd events prints a task's lifecycle, one readable line per event", T, async () => {
    const r = await add.delay(2, 3);
    assert.equal(await r.get({ timeout: 10 }), 5);
    await eventually(() => lines.out.includes(`task-succeeded`) && lines.out.includes(r.id), 10_000);
    const mine = lines.out.split("\n").filter((l) => l.includes(r.id));
    assert.deepEqual(mine.map((l) => l.split(/\s+/)[1]), ["task-received", "task-started", "task-succeeded"]);
    for (const l of mine) assert.match(l, new RegExp(`^\\d{4}-\\d\\d-\\d\\dT\\S+ task-\\S+\\s+rt\\.add\\[${r.id}\\] ev@test`));
    assert.match(mine[2], /runtime=[\d.]+s result=5/);
    assert.doesNotMatch(lines.out, /\x1b\[/, "no colour when stdout is not a TTY");
    assert.match(lines.out, /worker-online\s+ev@test/);
  });

  test("a client with taskSendSentEvent sends task-sent before the worker's events", T, async () => {
    app.config.taskSendSentEvent = true;
    try {
      const r = await add.delay(1, 1);
      await r.get({ timeout: 10 });
      await eventually(() => lines.out.includes(`task-succeeded   rt.add[${r.id}]`), 10_000);
      const mine = lines.out.split("\n").filter((l) => l.includes(r.id)).map((l) => l.split(/\s+/)[1]);
      assert.equal(mine[0], "task-sent");
      assert.ok(mine.includes("task-succeeded"));
    } finally {
      app.config.taskSendSentEvent = false;
    }
  });

  test("--json gives one object per line with id, name, worker, timestamps and runtime; args only as argsrepr", T, async () => {
    const r = await add.applyAsync([40, 2], { argsrepr: "(<hidden>)" });
    assert.equal(await r.get({ timeout: 10 }), 42);
    const events = await eventually(() => {
      const evs = json.out.split("\n").filter(Boolean).map((l) => JSON.parse(l) as TaskdEvent).filter((e) => e.id === r.id);
      return evs.some((e) => e.type === "task-succeeded") ? evs : undefined;
    }, 10_000);
    for (const e of events) {
      assert.equal(e.name, "rt.add");
      assert.equal(e.hostname, "ev@test");
      assert.equal(e.argsrepr, "(<hidden>)");
      assert.ok(e.timestamp > Date.now() / 1000 - 60 && e.timestamp <= Date.now() / 1000 + 1);
      assert.equal("args" in e, false);
    }
    const ok = events.find((e) => e.type === "task-succeeded")!;
    assert.equal(typeof ok.runtime, "number");
    assert.doesNotMatch(json.out.split("\n").filter((l) => l.includes(r.id)).join("\n"), /\[40,2\]|"args"/);
  });

  test("failed tasks send task-failed with the exception; heartbeats arrive", T, async () => {
    const r = await patient.applyAsync([], { timeLimit: 0.2, softTimeLimit: 5 });
    await assert.rejects(r.get({ timeout: 10 }));
    const failed = await eventually(() => json.out.split("\n").filter(Boolean).map((l) => JSON.parse(l) as TaskdEvent).find((e) => e.id === r.id && e.type === "task-failed"), 10_000);
    assert.match(String(failed.exception), /^TimeLimitExceeded: /);
    await eventually(() => json.out.includes(`"worker-heartbeat"`), 10_000);
  });

  test("EventReceiver yields events to library code; worker-offline comes when the worker stops", T, async () => {
    const events = await EventReceiver.open(app, "worker.*");
    const seen: string[] = [];
    const done = (async () => {
      for await (const e of events) {
        seen.push(e.type);
        if (e.type === "worker-offline") break;
      }
    })();
    await t.worker.stop();
    await Promise.race([done, new Promise((_, reject) => setTimeout(() => reject(new Error(`no worker-offline; saw ${seen}`)), 15_000))]);
    events.close();
    assert.ok(seen.includes("worker-offline"));
    await eventually(() => lines.out.includes("worker-offline"), 5000);
  });
});
