/**
 * Limits and hostile bodies end to end through dist/taskd: arguments over max_payload are refused
 * on the client before anything is published; a result over max_payload becomes a FAILURE naming
 * the size and the limit; bodies carrying `__proto__` / `constructor.prototype` reach the task as
 * plain data without polluting the worker; a hostile stored failure is revived as data.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { headers } from "@nats-io/nats-core";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { PayloadTooLargeError, TaskError } from "../mod.ts";
import { msgpack } from "../src/protocol/codec.ts";
import { app, big, inspectArgs, record } from "./fixtures/reliable.ts";
import { useTaskd } from "./helpers/env.ts";

const enc = new TextEncoder();

describe("payload limits and hostile bodies through dist/taskd", () => {
  const t = useTaskd({ module: "reliable.ts", workers: [], apps: [app], stopGraceMs: 2000 });

  async function publishRaw(id: string, body: Uint8Array, contentType: string): Promise<void> {
    const h = headers();
    h.set("taskd-protocol", "1");
    h.set("taskd-task", "rel.inspect");
    h.set("taskd-id", id);
    h.set("Content-Type", contentType);
    await jetstream(t.nc).publish("taskd.tasks.default", body, { headers: h });
  }

  test("oversized arguments: PayloadTooLargeError on the client, nothing published", { timeout: 60_000 }, async () => {
    await t.startWorker(["-c", "4"]);
    assert.equal(await (await record.delay(1, 0)).get({ timeout: 20 }), 2);
    const jsm = await jetstreamManager(t.nc);
    const before = (await jsm.streams.info("TASKD_TASKS")).state.last_seq;
    await assert.rejects(record.delay("z".repeat(1_100_000) as unknown as number, 0), (e: unknown) => {
      assert.ok(e instanceof PayloadTooLargeError);
      assert.match((e as Error).message, /Cannot send rel\.record: it is \d+ bytes and the server's max_payload is 1048576/);
      return true;
    });
    assert.equal((await jsm.streams.info("TASKD_TASKS")).state.last_seq, before);
  });

  test("an oversized result: FAILURE naming its size and the limit; the worker serves on", { timeout: 60_000 }, async () => {
    const t0 = Date.now();
    const r = await big.delay(2_000_000);
    await assert.rejects(r.get({ timeout: 30 }), (e: unknown) => {
      assert.ok(e instanceof TaskError, String(e));
      assert.equal(e.remoteType, "PayloadTooLargeError");
      assert.match(e.remoteMessage, /Cannot store the result of rel\.big\[[^\]]+\]: it is 2000\d{3} bytes and the server's max_payload is 1048576/);
      return true;
    });
    assert.ok(Date.now() - t0 < 20_000, "the failure came without a long retry");
    assert.equal(await (await big.delay(10)).get({ timeout: 20 }), "x".repeat(10));
    assert.equal(t.worker.proc.exitCode, null);
  });

  test("__proto__ and constructor.prototype in bodies reach the task as plain data; nothing is polluted", { timeout: 60_000 }, async () => {
    // msgpack: [[{"__proto__": {"isAdmin": true}}], {}, {}] written byte by byte
    const protoMap = [0x81, 0xa9, ...enc.encode("__proto__"), 0x81, 0xa7, ...enc.encode("isAdmin"), 0xc3];
    await publishRaw("hostile-mp", new Uint8Array([0x93, 0x91, ...protoMap, 0x80, 0x80]), "application/x-msgpack");
    await publishRaw("hostile-json", enc.encode('[[{"__proto__":{"isAdmin":true},"constructor":{"prototype":{"polluted":true}},"a":1}],{},{}]'), "application/json");
    const mp = await app.asyncResult("hostile-mp").get({ timeout: 20 }) as { polluted: boolean; protoKeys: string[]; args: unknown[] };
    const js = await app.asyncResult("hostile-json").get({ timeout: 20 }) as { polluted: boolean; protoKeys: string[]; args: unknown[] };
    for (const r of [mp, js]) {
      assert.equal(r.polluted, false);
      assert.deepEqual(r.protoKeys, []);
    }
    assert.deepEqual(js.args, [{ a: 1 }]);
    assert.equal((mp.args[0] as Record<string, unknown>).isAdmin, undefined);
    assert.equal(({} as Record<string, unknown>).isAdmin, undefined);
  });

  test("a hostile FAILURE entry is revived on the client as data: a TaskError, no code run", { timeout: 30_000 }, async () => {
    const kv = await new Kvm(t.nc).open("taskd_results");
    const g = globalThis as Record<string, unknown>;
    await kv.put("hostile-failure", msgpack.encode({
      taskId: "hostile-failure",
      status: "FAILURE",
      result: { type: "Function", message: "globalThis.__pwned = 1", stack: "eval(globalThis.__pwned = 1)", data: { constructor: { prototype: { pwned: 1 } } } },
    }));
    await assert.rejects(app.asyncResult("hostile-failure").get({ timeout: 10 }), (e: unknown) => {
      assert.ok(e instanceof TaskError);
      assert.equal(e.remoteType, "Function");
      assert.equal(e.remoteMessage, "globalThis.__pwned = 1");
      return true;
    });
    assert.equal(g.__pwned, undefined);
    assert.equal(({} as Record<string, unknown>).pwned, undefined);
  });
});
