/**
 * Unit tests of the pure parts: backoff, arity, codecs, the protocol's encode/decode, names,
 * routes, broker URL parsing, signals.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { backoffDelay } from "../src/app/backoff.ts";
import { arityOf, checkArity } from "../src/validate/arity.ts";
import { json, msgpack } from "../src/protocol/codec.ts";
import { decodeBody, decodeEnvelope, encodeTask, type TaskMessage } from "../src/protocol/message.ts";
import { namesFor } from "../src/nats/names.ts";
import { routeFor } from "../src/app/options.ts";
import { parseServers } from "../src/nats/connection.ts";
import { Signal } from "../src/signals/signal.ts";
import { parseArg } from "../src/cli/commands/call.ts";
import { ProtocolError } from "../mod.ts";

describe("backoffDelay", () => {
  test("doubles from the factor and stops at the maximum, without jitter", () => {
    const d = [0, 1, 2, 3, 4].map((retries) => backoffDelay({ factor: 1, retries, max: 600, jitter: false }));
    assert.deepEqual(d, [1, 2, 4, 8, 16]);
    assert.equal(backoffDelay({ factor: 3, retries: 2, max: 600, jitter: false }), 12);
    assert.equal(backoffDelay({ factor: 1, retries: 20, max: 600, jitter: false }), 600);
  });
  test("with jitter picks a whole number between 0 and the delay", () => {
    assert.equal(backoffDelay({ factor: 1, retries: 3, max: 600, jitter: true, random: () => 0 }), 0);
    assert.equal(backoffDelay({ factor: 1, retries: 3, max: 600, jitter: true, random: () => 0.999 }), 8);
    assert.throws(() => backoffDelay({ factor: -1, retries: 0, max: 1, jitter: false }), RangeError);
  });
});

describe("arity", () => {
  test("reads required and maximum counts from functions, arrows, methods and rest parameters", () => {
    assert.deepEqual(arityOf(function add(x: number, y: number) { return x + y; }), { min: 2, max: 2 });
    assert.deepEqual(arityOf((x: number) => x), { min: 1, max: 1 });
    assert.deepEqual(arityOf(function opt(x: number, y = 2) { return x + y; }), { min: 1, max: 2 });
    assert.deepEqual(arityOf(function rest(...a: number[]) { return a; }), { min: 0, max: Infinity });
    assert.deepEqual(arityOf(function bound(_self: unknown, x: number) { return x; }, 1), { min: 1, max: 1 });
    assert.deepEqual(arityOf(function destr({ a, b }: { a: number; b: number }, [c]: number[]) { return a + b + c; }), { min: 2, max: 2 });
    assert.deepEqual(arityOf(function strDefault(a: string, b = "x,(y") { return a + b; }), { min: 1, max: 2 });
    assert.deepEqual(arityOf(function nestedRest({ a, ...more }: Record<string, number>) { return [a, more]; }), { min: 1, max: 1 });
    class C { run(u: string, p: string) { return u + p; } }
    assert.deepEqual(arityOf(C.prototype.run), { min: 2, max: 2 });
  });
  test("checkArity names the task and the counts", () => {
    assert.throws(() => checkArity("tasks.add", { min: 2, max: 2 }, 1), { name: "TypeError", message: "Cannot call tasks.add: expected 2 arguments, got 1" });
    assert.throws(() => checkArity("t", { min: 1, max: Infinity }, 0), /expected at least 1 argument, got 0/);
    checkArity("t", { min: 1, max: 3 }, 2);
  });
});

describe("codecs", () => {
  test("msgpack and json round-trip plain data", () => {
    const v = [[1, "x", true, null, { a: [1.5] }], { k: "v" }, {}];
    assert.deepEqual(msgpack.decode(msgpack.encode(v)), v);
    assert.deepEqual(json.decode(json.encode(v)), v);
  });
  test("decoding drops __proto__ and constructor keys: no prototype pollution", () => {
    const evil = new TextEncoder().encode('{"__proto__": {"polluted": 1}, "constructor": {"prototype": {"p": 1}}, "ok": 1}');
    const out = json.decode(evil) as Record<string, unknown>;
    assert.deepEqual(Object.keys(out), ["ok"]);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.equal(Object.getPrototypeOf(out), Object.prototype);
  });
});

describe("protocol v1", () => {
  const msg: TaskMessage = {
    id: "abc", task: "tasks.add", retries: 2, queue: "q1", args: [2, 3], kwargs: { z: 1 }, embed: {},
    eta: "2030-01-01T00:00:00.000Z", argsrepr: "(2, 3)\nsecond line", timelimit: [null, 5], ignoreResult: false,
  };
  test("headers carry routing, Nats-Msg-Id is id:retries, the body decodes back", () => {
    const wire = encodeTask(msg);
    assert.equal(wire.headers["taskd-protocol"], "1");
    assert.equal(wire.headers["Nats-Msg-Id"], "abc:2");
    assert.equal(wire.headers["taskd-argsrepr"], "(2, 3) second line");
    const get = (k: string) => wire.headers[k];
    const env = decodeEnvelope(get);
    assert.equal(env.task, "tasks.add");
    assert.equal(env.retries, 2);
    assert.deepEqual(env.timelimit, [null, 5]);
    assert.equal(env.ignoreResult, false);
    assert.deepEqual(decodeBody(get, wire.data), { args: [2, 3], kwargs: { z: 1 }, embed: {} });
  });
  test("json and gzip bodies decode", () => {
    const wire = encodeTask(msg, { serializer: "json", compression: "gzip" });
    assert.equal(wire.headers["Content-Type"], "application/json");
    assert.deepEqual(decodeBody((k) => wire.headers[k], wire.data).args, [2, 3]);
  });
  test("bad headers and bodies are ProtocolErrors with a reason", () => {
    assert.throws(() => decodeEnvelope(() => undefined), (e: unknown) => e instanceof ProtocolError && /no taskd-protocol header/.test((e as Error).message));
    assert.throws(() => decodeEnvelope((k) => ({ "taskd-protocol": "9" } as Record<string, string>)[k]), /protocol version '9'/);
    const h: Record<string, string> = { "taskd-protocol": "1", "taskd-task": "t", "taskd-id": "i", "taskd-retries": "-1" };
    assert.throws(() => decodeEnvelope((k) => h[k]), /taskd-retries must be a whole number/);
    assert.throws(() => decodeBody(() => undefined, new Uint8Array([0xc1])), /Cannot decode body/);
    assert.throws(() => decodeBody(() => undefined, msgpack.encode({ not: "an array" })), /expected \[args, kwargs, embed\]/);
    assert.throws(() => decodeBody(() => "application/x-unknown", new Uint8Array()), /no registered serializer/);
  });
});

describe("names, routes and broker URLs", () => {
  test("names derive from the prefix; bad queue names are refused", () => {
    const n = namesFor("myapp");
    assert.equal(n.tasksStream, "MYAPP_TASKS");
    assert.equal(n.taskSubject("io"), "myapp.tasks.io");
    assert.equal(n.resultsBucket, "myapp_results");
    assert.throws(() => n.taskSubject("a.b"), /Cannot use queue 'a.b'/);
    assert.throws(() => namesFor("bad prefix"), TypeError);
  });
  test("taskRoutes: exact names first, then globs", () => {
    const routes = { "tasks.add": "math", "pages.*": { queue: "io" } };
    assert.equal(routeFor(routes, "tasks.add"), "math");
    assert.equal(routeFor(routes, "pages.fetch"), "io");
    assert.equal(routeFor(routes, "tasks.mul"), undefined);
  });
  test("broker URLs: lists, user:pass@ and token@ are lifted out", () => {
    assert.deepEqual(parseServers("nats://a:4222, b:4223"), { servers: ["nats://a:4222", "nats://b:4223"] });
    assert.deepEqual(parseServers("nats://u:p%40ss@h:1"), { servers: ["nats://h:1"], user: "u", pass: "p@ss" });
    assert.deepEqual(parseServers("nats://tok@h"), { servers: ["nats://h:4222"], token: "tok" });
    assert.throws(() => parseServers(""), /broker URL is empty/);
  });
  test("CLI arguments are JSON when they parse, strings otherwise", () => {
    assert.equal(parseArg("2"), 2);
    assert.deepEqual(parseArg('{"a":1}'), { a: 1 });
    assert.equal(parseArg("hello"), "hello");
  });
});

describe("Signal", () => {
  test("connect with a sender filter, disconnect, and a throwing handler does not stop the others", async () => {
    const s = new Signal<{ n: number }>("test");
    const seen: string[] = [];
    const all = ({ n }: { n: number }) => void seen.push(`all${n}`);
    s.connect(all);
    s.connect(() => {
      throw new Error("handler bug");
    });
    s.connect(({ n }) => void seen.push(`add${n}`), { sender: "tasks.add" });
    await s.send({ name: "tasks.add" }, { n: 1 });
    await s.send("tasks.mul", { n: 2 });
    assert.equal(s.disconnect(all), true);
    await s.send("tasks.add", { n: 3 });
    assert.deepEqual(seen, ["all1", "add1", "all2", "add3"]);
  });
});
