/**
 * The entry point of one pool thread (a second entry point of the compiled binary: see the
 * Makefile). It imports the user's task module the way the worker does — with the binary's
 * own `taskd` and `valibot` handed to it — fires `workerProcessInit`, then runs one task at a
 * time by name with `trace()`, stores its result (as the async pool does inside the trace) and
 * posts the outcome back; the worker acks. It lives with the command line: both are programs
 * that load the user's module.
 * @module
 */
import process from "node:process";
import { loadTaskModule } from "./load.ts";
import { Request } from "../app/request.ts";
import type { App } from "../app/app.ts";
import type { Task } from "../app/task.ts";
import { NotRegistered } from "../errors/errors.ts";
import { type LogLevel, setLogLevel, setLogWorker } from "../log/logger.ts";
import { redirectConsole } from "../log/redirect.ts";
import { signals } from "../signals/signals.ts";
import { trace, type TraceHooks } from "../app/trace.ts";
import { withTraceHeaders } from "../app/tracing.ts";
import { registerCanvasTasks } from "../canvas/settle.ts";
import { storeOutcome, storeStarted } from "../worker/results.ts";
import { type FromThread, outcomeToWire, reasonFromWire, type ToThread } from "../worker/pool/wire.ts";

// deno-lint-ignore no-explicit-any
const scope = globalThis as any;
const registry = new Map<string, Task>();
const running = new Map<string, AbortController>();
let apps: readonly App[] = [];
let hostname = "";

function post(m: FromThread): void {
  scope.postMessage(m);
}

async function init(m: Extract<ToThread, { type: "init" }>): Promise<void> {
  try {
    if (m.loglevel) setLogLevel(m.loglevel);
    if (m.redirectStdouts) redirectConsole(m.redirectStdouts as LogLevel);
    hostname = m.hostname;
    setLogWorker(hostname);
    apps = await loadTaskModule(m.module);
    for (const app of apps) {
      if (m.brokerUrl) app.useBroker([m.brokerUrl].flat().join(","));
      app.sendReplies = false;
      registerCanvasTasks(app); // as the worker does: taskd.chord_timeout
      for (const [name, task] of app.tasks) registry.set(name, task);
    }
    await signals.workerProcessInit.send(m.hostname, { pid: process.pid, pool: "threads" });
    post({ type: "ready", tasks: [...registry.keys()] });
  } catch (e) {
    post({ type: "failed", message: (e as Error)?.message ?? String(e) });
  }
}

async function run(m: Extract<ToThread, { type: "run" }>): Promise<void> {
  const task = registry.get(m.task);
  if (!task) {
    const err = new NotRegistered(m.task, { taskId: m.id });
    post({ type: "outcome", id: m.id, outcome: { kind: "failure", error: { type: err.name, message: err.message, stack: err.stack }, expected: false } });
    return;
  }
  const abort = new AbortController();
  running.set(m.id, abort);
  const Req = task.Request ?? Request;
  const request = new Req({ ...(m.fields as { id: string; taskName: string }), task, signal: abort.signal });
  try {
    // Stored here, before the handlers run, as in the async pool (Celery's order).
    const hooks: TraceHooks | undefined = m.store
      ? { started: () => storeStarted(task, request, hostname), store: (o) => storeOutcome(task, request, o, hostname) }
      : undefined;
    const outcome = await withTraceHeaders(m.trace, () => trace(task, request, hooks));
    let wire = outcomeToWire(outcome);
    try {
      structuredClone(wire);
    } catch (e) {
      wire = { kind: "failure", error: { type: "TypeError", message: `Cannot return the result of ${m.task}[${m.id}] from its thread: ${(e as Error).message}` }, expected: false };
    }
    post({ type: "outcome", id: m.id, outcome: wire, stored: hooks !== undefined });
  } finally {
    running.delete(m.id);
  }
}

async function shutdown(): Promise<void> {
  try {
    await signals.workerProcessShutdown.send(hostname, { pid: process.pid, pool: "threads", exitcode: 0 });
    for (const app of apps) await app.close().catch(() => {});
  } finally {
    post({ type: "bye" });
  }
}

// A stray error outside any task's promise chain: report it and let the worker replace this
// thread (what Bun does by itself; Deno would otherwise take the whole process down).
scope.addEventListener("error", (e: ErrorEvent) => {
  e.preventDefault();
  post({ type: "crashed", message: e.message || String(e.error) });
});
scope.addEventListener("unhandledrejection", (e: PromiseRejectionEvent) => {
  e.preventDefault();
  post({ type: "crashed", message: `unhandled rejection: ${(e.reason as Error)?.message ?? e.reason}` });
});

scope.addEventListener("message", (e: MessageEvent<ToThread>) => {
  const m = e.data;
  if (m.type === "init") init(m);
  else if (m.type === "run") run(m);
  else if (m.type === "abort") running.get(m.id)?.abort(reasonFromWire(m.reason));
  else if (m.type === "shutdown") shutdown();
});
