/**
 * The pure parts behind signals and logging, in process: Signal's connect/disconnect/send and
 * sender filters, every signal of API.md declared, the Request hooks the time-limit code
 * calls, and setupLogging's takeover rule.
 */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { App, ExceptionInfo, getLogLevel, Request, setLogFile, setLogLevel, setLogSink, setupLogging, Signal, signals, Task } from "../mod.ts";
import { requestFailed, requestTimedOut } from "../src/app/request.ts";

const API_SIGNALS =
  "beforeTaskPublish afterTaskPublish taskPrerun taskPostrun taskRetry taskSuccess taskFailure taskInternalError taskReceived taskRevoked taskUnknown taskRejected importModules celerydInit celerydAfterSetup workerInit workerReady heartbeatSent workerShuttingDown workerProcessInit workerProcessShutdown workerShutdown beatInit beatEmbeddedInit setupLogging afterSetupLogger afterSetupTaskLogger userPreloadOptions"
    .split(" ");

function captureLog(): string[] {
  const lines: string[] = [];
  setLogSink((l) => lines.push(l));
  return lines;
}

describe("signals and logging in process", () => {
  const level = getLogLevel();
  after(() => {
    setLogFile(undefined);
    setLogLevel(level);
  });

  test("every signal of API.md is declared, named as its key", () => {
    assert.deepEqual(Object.keys(signals).sort(), [...API_SIGNALS].sort());
    for (const [key, s] of Object.entries(signals)) {
      assert.ok(s instanceof Signal);
      assert.equal(s.name, key);
    }
  });

  test("sender filters match a task by name or object, a worker by node name; once and disconnect work", async () => {
    const app = new App("unit");
    const task = app.task({ name: "unit.t" }, function t() {});
    const s = new Signal<{ n: number }>("test");
    const got: string[] = [];
    const byName = ({ n }: { n: number }) => void got.push(`byName:${n}`);
    s.connect(byName, { sender: "unit.t" });
    s.connect(({ n }) => void got.push(`byObject:${n}`), { sender: task });
    s.connect(({ n }) => void got.push(`byHost:${n}`), { sender: "w1@host" });
    s.connect(({ n, sender }) => void got.push(`once:${n}:${sender === task}`), { once: true });
    await s.send(task, { n: 1 });
    await s.send("unit.t", { n: 2 });
    await s.send({ hostname: "w1@host" }, { n: 3 });
    assert.deepEqual(got, ["byName:1", "byObject:1", "once:1:true", "byName:2", "byObject:2", "byHost:3"]);
    assert.equal(s.disconnect(byName, { sender: "unit.t" }), true);
    assert.equal(s.disconnect(byName), false);
    await s.send(task, { n: 4 });
    assert.deepEqual(got.slice(6), ["byObject:4"]);
    assert.throws(() => s.connect(42 as never), TypeError);
  });

  test("a handler that throws is logged; the others still run and send returns every result", async () => {
    const lines = captureLog();
    const s = new Signal<Record<string, never>>("throwing");
    s.connect(() => {
      throw new Error("bad handler");
    });
    s.connect(() => "fine");
    const results = await s.send(undefined, {});
    assert.equal(results.length, 2);
    assert.ok(results[0][1] instanceof Error);
    assert.equal(results[1][1], "fine");
    assert.match(lines.join("\n"), /ERROR\] taskd\.signals: a throwing handler threw; taskd carries on: Error: bad handler/);
  });

  test("beat signals are declared and can be connected and sent (beat itself is later work)", async () => {
    const seen: unknown[] = [];
    const off = signals.beatInit.connect(({ service }) => void seen.push(service));
    await signals.beatInit.send("beat", { service: "svc" });
    off();
    await signals.beatInit.send("beat", { service: "again" });
    assert.deepEqual(seen, ["svc"]);
  });

  test("requestTimedOut and requestFailed call a custom Request's hooks and never throw", async () => {
    captureLog();
    const calls: unknown[] = [];
    class MyRequest extends Request {
      override onTimeout(soft: boolean, timeout: number) {
        calls.push(["timeout", soft, timeout]);
        if (!soft) throw new Error("hook broke");
      }
      override onFailure(exc: unknown, einfo: ExceptionInfo) {
        calls.push(["failure", (exc as Error).message, einfo.type]);
        throw new Error("hook broke too");
      }
    }
    const r = new MyRequest({ id: "x1", taskName: "unit.t" });
    await requestTimedOut(r, true, 5);
    await requestTimedOut(r, false, 10);
    await requestFailed(r, new RangeError("too slow"));
    assert.deepEqual(calls, [["timeout", true, 5], ["timeout", false, 10], ["failure", "too slow", "RangeError"]]);
  });

  test("setupLogging: a handler returning true takes over; otherwise afterSetup handlers can add log handlers", async () => {
    const lines = captureLog();
    const order: string[] = [];
    const take = signals.setupLogging.connect(({ loglevel }) => (order.push(`setup:${loglevel}`), true));
    const afterL = signals.afterSetupLogger.connect(() => void order.push("after"));
    assert.deepEqual(await setupLogging({ loglevel: "warn" }), { custom: true });
    assert.deepEqual(order, ["setup:warn"]);
    take();
    const records: string[] = [];
    const addTask = signals.afterSetupTaskLogger.connect(({ logger }) => void logger.addHandler((r) => records.push(`${r.taskName}:${r.message}`)));
    assert.deepEqual(await setupLogging({ loglevel: "info" }), { custom: false });
    assert.deepEqual(order, ["setup:warn", "after"]);
    const app = new App("unitlog");
    const t = app.task({ name: "unitlog.speak", bind: true }, function speak(self: Task) {
      self.logger.info("hello");
      return self.request.id;
    });
    const id = await (await t.apply()).get();
    assert.deepEqual(records, ["unitlog.speak:hello"]);
    assert.ok(lines.some((l) => l.includes(`INFO] unitlog.speak[${id}]: hello`)));
    await assert.rejects(setupLogging({ loglevel: "chatty" }), RangeError);
    afterL();
    addTask();
  });
});
