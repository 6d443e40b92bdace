/**
 * Safe decoding (unit tests on src/protocol and result revival): msgpack extensions and records
 * never revive classes, `__proto__` / `constructor.prototype` in msgpack or JSON bodies never
 * pollute prototypes, broken envelopes and bodies fail with a ProtocolError that says why, and
 * a remote error is rebuilt from data only.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import { Packr } from "msgpackr";
import { decompress, json, msgpack, sanitize } from "../src/protocol/codec.ts";
import { decodeBody, decodeEnvelope, encodeTask, H, type HeaderReader } from "../src/protocol/message.ts";
import { settle } from "../src/result/async_result.ts";
import { ProtocolError, TaskError } from "../mod.ts";

const enc = new TextEncoder();
// A permissive encoder, as an attacker (or another library) might use.
const permissive = new Packr({ moreTypes: true, structuredClone: true, useRecords: true });

function plain(v: unknown): boolean {
  if (v === null || typeof v !== "object") return true;
  if (v instanceof Date || v instanceof Uint8Array) return true;
  if (Array.isArray(v)) return v.every(plain);
  return Object.getPrototypeOf(v) === Object.prototype && Object.values(v).every(plain);
}

function reader(h: Record<string, string>): HeaderReader {
  return (name) => h[name];
}

/** A msgpack map `{ "__proto__": { <key>: true } }` written byte by byte (encoders refuse it). */
function protoMap(key: string): Uint8Array {
  return new Uint8Array([0x81, 0xa9, ...enc.encode("__proto__"), 0x81, 0xa0 + key.length, ...enc.encode(key), 0xc3]);
}

describe("safe decoding", () => {
  test("msgpack extensions (Error, Set, Map, RegExp, class instances) decode to plain data", () => {
    class Secret {
      x = 1;
      hello() {
        return "hi";
      }
    }
    for (const value of [new TypeError("boom"), new Set([1]), new Map([["a", 1]]), /x+/g, new Secret(), [new Secret()]]) {
      const out = msgpack.decode(permissive.pack(value));
      assert.ok(plain(out), `${Object.prototype.toString.call(value)} decoded to ${Object.prototype.toString.call(out)}`);
      assert.equal((out as { hello?: unknown }).hello, undefined);
    }
    assert.deepEqual(msgpack.decode(permissive.pack(new Secret())), { x: 1 });
  });

  test("msgpack records from a record-writing encoder decode to plain objects", () => {
    const rows = [{ a: 1, b: "x" }, { a: 2, b: "y" }, { a: 3, b: "z" }];
    const out = msgpack.decode(permissive.pack(rows));
    assert.deepEqual(out, rows);
    assert.ok(plain(out));
  });

  test("a __proto__ key in a msgpack map pollutes nothing", () => {
    const out = msgpack.decode(protoMap("polluted")) as Record<string, unknown>;
    assert.equal(Object.getPrototypeOf(out), Object.prototype);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.equal(out.polluted, undefined);
    // nested inside a task body, as args and kwargs
    const body = new Uint8Array([0x93, 0x91, ...protoMap("isAdmin"), ...protoMap("isAdmin"), 0x80]);
    const decoded = decodeBody(reader({ [H.contentType]: "application/x-msgpack" }), body);
    assert.equal(({} as Record<string, unknown>).isAdmin, undefined);
    assert.equal((decoded.args[0] as Record<string, unknown>).isAdmin, undefined);
    assert.equal(Object.getPrototypeOf(decoded.kwargs), Object.prototype);
    assert.equal((decoded.kwargs as Record<string, unknown>).isAdmin, undefined);
  });

  test("__proto__ and constructor.prototype in a JSON body pollute nothing", () => {
    const text = '[[{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}},"ok":1}],{"__proto__":{"isAdmin":true}},{}]';
    const decoded = decodeBody(reader({ [H.contentType]: "application/json" }), enc.encode(text));
    assert.deepEqual(decoded.args, [{ ok: 1 }]);
    assert.deepEqual(decoded.kwargs, {});
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.equal(({} as Record<string, unknown>).isAdmin, undefined);
    assert.equal(Object.prototype.hasOwnProperty.call(Object.prototype, "polluted"), false);
    const j = json.decode(enc.encode('{"a":{"__proto__":{"x":1}}}')) as { a: object };
    assert.equal(Object.getPrototypeOf(j.a), Object.prototype);
  });

  test("sanitize keeps plain data as it is and stops at a depth bound", () => {
    const data = { a: [1, "two", { b: null }], d: new Date(0), u: new Uint8Array([1]) };
    assert.deepEqual(sanitize(structuredClone(data)), data);
    let deep: unknown = 1;
    for (let i = 0; i < 5000; i++) deep = [deep];
    assert.doesNotThrow(() => sanitize(deep));
  });

  test("broken envelopes fail with a ProtocolError that says what is wrong", () => {
    const ok = encodeTask({ id: "t1", task: "x.y", retries: 0, queue: "default", args: [], kwargs: {}, embed: {} }).headers;
    assert.equal(decodeEnvelope(reader(ok)).task, "x.y");
    const cases: [Record<string, string>, RegExp][] = [
      [{}, /no taskd-protocol header/],
      [{ ...ok, [H.protocol]: "2" }, /protocol version '2' is not supported/],
      [{ ...ok, [H.task]: "" }, /taskd-task header is missing/],
      [{ ...ok, [H.id]: "" }, /taskd-id header is missing/],
      [{ ...ok, [H.retries]: "-1" }, /taskd-retries must be a whole number/],
      [{ ...ok, [H.retries]: "1e400" }, /taskd-retries/],
    ];
    for (const [h, re] of cases) assert.throws(() => decodeEnvelope(reader(h)), (e: unknown) => e instanceof ProtocolError && re.test((e as Error).message));
  });

  test("broken bodies fail with a ProtocolError: garbage, truncated msgpack, wrong shapes, unknown types", () => {
    const mp = { [H.contentType]: "application/x-msgpack" };
    const good = msgpack.encode([[1, 2], { z: 1 }, {}]);
    assert.deepEqual(decodeBody(reader(mp), good).args, [1, 2]);
    const cases: [Record<string, string>, Uint8Array, RegExp][] = [
      [mp, good.subarray(0, good.length - 3), /Cannot decode body/],
      [mp, new Uint8Array([0xc1]), /Cannot decode body/],
      [mp, new Uint8Array(), /Cannot decode body/],
      [mp, msgpack.encode({ args: [1] }), /expected \[args, kwargs, embed\]/],
      [mp, msgpack.encode(["notargs", {}, {}]), /args an array/],
      [mp, msgpack.encode([[1], [2], {}]), /kwargs must be an object/],
      [mp, msgpack.encode([[1], "x", {}]), /kwargs must be an object/],
      [{ [H.contentType]: "application/json" }, enc.encode("[[1],{},"), /Cannot decode body as application\/json/],
      [{ [H.contentType]: "application/json" }, new Uint8Array([0xff, 0xfe]), /Cannot decode body/],
      [{ [H.contentType]: "text/evil" }, good, /no registered serializer/],
      [{ ...mp, [H.contentEncoding]: "gzip" }, good, /Cannot decode body/],
      [{ ...mp, [H.contentEncoding]: "br" }, good, /no such compression is registered \(known: gzip/],
    ];
    for (const [h, data, re] of cases) assert.throws(() => decodeBody(reader(h), data), (e: unknown) => e instanceof ProtocolError && re.test((e as Error).message), re.source);
  });

  test("a gzip bomb is cut off at the decompression bound", () => {
    const bomb = new Uint8Array(gzipSync(new Uint8Array(8 * 1024 * 1024)));
    assert.ok(bomb.length < 20_000);
    assert.throws(() => decompress(bomb, "gzip", 1024 * 1024));
  });

  test("a remote error is rebuilt from data only: no class looked up, no code run", () => {
    const g = globalThis as Record<string, unknown>;
    const payloads = [
      { type: "Function", message: "globalThis.__pwned = 1", stack: "return globalThis.__pwned = 1" },
      { type: "constructor", message: "x" },
      { type: "__proto__", message: "x", data: { __proto__: { pwned: true } } },
      { type: { toString: "not a function" }, message: ["not", "a", "string"] },
    ];
    for (const result of payloads) {
      const meta = { taskId: "t", taskName: "x", status: "FAILURE" as const, result: msgpack.decode(msgpack.encode(result)) };
      assert.throws(() => settle(meta, true), (e: unknown) => {
        assert.ok(e instanceof TaskError);
        assert.equal(typeof e.remoteType, "string");
        assert.equal(typeof e.remoteMessage, "string");
        return true;
      });
    }
    assert.equal(g.__pwned, undefined);
    assert.equal(({} as Record<string, unknown>).pwned, undefined);
  });
});
