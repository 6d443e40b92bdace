/**
 * A client in another language, written from docs/PROTOCOL.md alone (issue 22):
 * `tests/outside/client.py`, Python's standard library plus Debian's python3-msgpack, speaking
 * the NATS text protocol on a socket with Title-Case header names. Against nats-server and
 * dist/taskd it creates the streams it needs, sends tasks.add and waits through its reply inbox
 * (an id with dots) and through the KV entry, gets the wrong-arity and protocol-version-2
 * FAILUREs, binds kwargs by name, and reads a result with both get APIs.
 *
 * Needs `python3` with the `msgpack` module (`make install` installs Debian's python3-msgpack);
 * without one the test is skipped with a message saying so.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { join } from "node:path";
import { NatsServer } from "./helpers/server.ts";
import { fixture, ROOT, startWorker, type WorkerProcess } from "./helpers/taskd.ts";

/** A Python 3 that can import msgpack: Debian's first (pyenv and venvs may lack it). */
function findPython(): string | undefined {
  for (const exe of ["/usr/bin/python3", "python3"]) {
    const r = spawnSync(exe, ["-c", "import msgpack"], { stdio: "ignore" });
    if (r.status === 0) return exe;
  }
  return undefined;
}

const python = findPython();
const SKIP = python ? false : "no python3 with the msgpack module: run `make install` (apt-get install python3-msgpack)";
if (!python) console.warn(`SKIPPED tests/protocol.outside.e2e.test.ts: ${SKIP}`);

function run(exe: string, args: string[], timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(exe, args, { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (d) => (stdout += d));
    p.stderr.on("data", (d) => (stderr += d));
    const t = setTimeout(() => p.kill("SIGKILL"), timeoutMs);
    p.once("exit", (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
  });
}

let server: NatsServer;
let worker: WorkerProcess | undefined;

describe("a Python client written from docs/PROTOCOL.md, through dist/taskd", () => {
  before(async () => {
    if (!python) return;
    server = await NatsServer.start();
  });

  after(async () => {
    await worker?.stop(2000);
    await server?.stop();
  });

  test("sends, waits (reply inbox and KV), gets FAILUREs, binds kwargs, reads results", { timeout: 120_000, skip: SKIP }, async () => {
    if (!python) return;
    // A first run before any worker: the client creates the streams it needs (the worker then
    // finds them), so it needs no taskd process to start first.
    const client = join(ROOT, "tests", "outside", "client.py");
    const pre = await run(python, [client, "127.0.0.1", String(server.port), "--ensure-only"], 30_000);
    assert.equal(pre.code, 0, pre.stderr);
    assert.deepEqual(JSON.parse(pre.stdout), { case: "ensure", streams: { TASKD_TASKS: "ok", KV_taskd_results: "ok" } });

    worker = await startWorker(server.url, fixture("tasks.ts"));
    const r = await run(python, [client, "127.0.0.1", String(server.port)], 90_000);
    assert.equal(r.code, 0, `client failed:\n${r.stderr}\n${r.stdout}\nworker:\n${worker.output}`);
    const out = new Map<string, Record<string, unknown>>();
    for (const line of r.stdout.split("\n").filter(Boolean)) {
      const o = JSON.parse(line);
      out.set(o.case, o);
    }
    // The same configuration again: the server answers as for a creation (idempotent).
    assert.deepEqual(out.get("ensure")?.streams, { TASKD_TASKS: "ok", KV_taskd_results: "ok" });
    const c = (name: string) => {
      const o = out.get(name);
      assert.ok(o, `case ${name} missing:\n${r.stdout}`);
      return o;
    };
    assert.equal(c("add_reply").status, "SUCCESS");
    assert.equal(c("add_reply").result, 5);
    assert.match(String(c("add_reply").taskId), /^outside\.add\./);
    assert.deepEqual([c("add_kv").status, c("add_kv").result], ["SUCCESS", 42]);
    assert.deepEqual([c("arity").status, c("arity").type], ["FAILURE", "TypeError"]);
    assert.match(String(c("arity").message), /Cannot call tasks\.add: expected 2 arguments, got 3/);
    assert.deepEqual([c("kwargs").status, c("kwargs").result], ["SUCCESS", 5]);
    assert.deepEqual([c("kwargs_only").status, c("kwargs_only").result], ["SUCCESS", 42]);
    assert.deepEqual([c("kwargs_unknown").status, c("kwargs_unknown").type], ["FAILURE", "TypeError"]);
    assert.match(String(c("kwargs_unknown").message), /unexpected keyword argument 'z'/);
    assert.deepEqual([c("kwargs_options").status, c("kwargs_options").result], ["SUCCESS", 12]);
    assert.deepEqual([c("version2").status, c("version2").type], ["FAILURE", "ProtocolError"]);
    assert.match(String(c("version2").message), /protocol version '2' is not supported/);
    assert.deepEqual(c("reads"), { case: "reads", direct: "FAILURE", msg_get: "FAILURE", missing_direct: null, missing_msg_get: null });
    assert.ok(out.has("done"));
  });
});
