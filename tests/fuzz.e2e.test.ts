/**
 * Fuzzing a queue through dist/taskd: 10,000 random or broken messages (garbage bodies, wrong or
 * missing headers, huge headers, wrong protocol versions, truncated msgpack, wrong argument
 * shapes, ids that are no KV key, bad encodings) go to the queue of a running worker. Each is
 * dead-lettered with a reason, the worker never crashes, its resident memory stays bounded, and
 * a normal task sent after them succeeds. The PRNG is seeded (TASKD_FUZZ_SEED) so a failure
 * reproduces.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import { headers as natsHeaders, type MsgHdrs } from "@nats-io/nats-core";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { app, record } from "./fixtures/reliable.ts";
import { msgpack } from "../src/protocol/codec.ts";
import { decodeBody, decodeEnvelope, type HeaderReader } from "../src/protocol/message.ts";
import { useTaskd } from "./helpers/env.ts";
import { eventually } from "./helpers/taskd.ts";
import { rssKb } from "./helpers/runlog.ts";

const COUNT = Number(process.env.TASKD_FUZZ_COUNT ?? 10_000);
const SEED = Number(process.env.TASKD_FUZZ_SEED ?? 20261122);

/** mulberry32: a small seeded PRNG. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Fuzzed {
  kind: string;
  headers: Record<string, string>;
  body: Uint8Array;
}

function generator(seed: number) {
  const rnd = prng(seed);
  const int = (n: number) => Math.floor(rnd() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)];
  const bytes = (n: number) => Uint8Array.from({ length: n }, () => int(256));
  const printable = (n: number) => Array.from({ length: n }, () => String.fromCharCode(0x20 + int(95))).join("").trim() || "x";
  const id = () => (rnd() < 0.2 ? printable(1 + int(40)) : `fz-${int(1e9)}-${int(1e9)}`);
  const base = (): Record<string, string> => ({ "taskd-protocol": "1", "taskd-task": "rel.record", "taskd-id": id(), "Content-Type": "application/x-msgpack" });
  const validBody = () => msgpack.encode([[int(100), 0], {}, {}]);
  const wrongShapes = [
    () => msgpack.encode([]),
    () => msgpack.encode([[1], {}, {}]),
    () => msgpack.encode([[1, 2, 3], {}, {}]),
    () => msgpack.encode([[1, 2], { extra: 1 }, {}]),
    () => msgpack.encode(["args", {}, {}]),
    () => msgpack.encode([[1, 2], [3], {}]),
    () => msgpack.encode([[1, 2], "kw", {}]),
    () => msgpack.encode({ args: [1, 2] }),
    () => msgpack.encode(null),
    () => msgpack.encode(int(1e6)),
    () => msgpack.encode("x".repeat(int(500))),
    () => msgpack.encode([[[[[[[[[[1]]]]]]]]], {}, {}]),
  ];
  const kinds: [string, () => Omit<Fuzzed, "kind">][] = [
    ["garbage body", () => ({ headers: base(), body: bytes(int(2000)) })],
    ["missing protocol header", () => {
      const h = base();
      delete h["taskd-protocol"];
      if (rnd() < 0.5) h[`x-${int(1000)}`] = printable(20);
      return { headers: h, body: rnd() < 0.5 ? validBody() : bytes(int(100)) };
    }],
    ["no headers at all", () => ({ headers: {}, body: bytes(int(300)) })],
    ["wrong protocol version", () => ({ headers: { ...base(), "taskd-protocol": pick(["0", "2", "1.0", "v1", "11", printable(5)]) }, body: validBody() })],
    ["missing task or id", () => {
      const h = base();
      delete h[rnd() < 0.5 ? "taskd-task" : "taskd-id"];
      return { headers: h, body: validBody() };
    }],
    ["truncated msgpack", () => {
      const full = msgpack.encode([[int(100), 0], { k: printable(30) }, { callbacks: null }]);
      return { headers: base(), body: full.subarray(0, int(full.length - 1)) };
    }],
    ["wrong argument shapes", () => ({ headers: base(), body: pick(wrongShapes)() })],
    ["huge header", () => ({ headers: { ...base(), [pick(["taskd-argsrepr", "x-blob", "taskd-origin"])]: "h".repeat(10_000 + int(55_000)) }, body: bytes(1 + int(50)) })],
    ["bad retries or time limit", () => ({ headers: { ...base(), "taskd-retries": pick(["-1", "abc", "1.5", "1e999", "NaN"]) }, body: validBody() })],
    ["unknown content type", () => ({ headers: { ...base(), "Content-Type": pick(["text/plain", "application/x-python-pickle", printable(10)]) }, body: validBody() })],
    ["bad content encoding", () => ({
      headers: { ...base(), "Content-Encoding": pick(["gzip", "br", "zstd", printable(4)]) },
      body: rnd() < 0.5 ? bytes(int(200)) : new Uint8Array(gzipSync(bytes(int(200)))),
    })],
    ["broken json", () => ({
      headers: { ...base(), "Content-Type": "application/json" },
      body: new TextEncoder().encode(pick(["[[1,2],{},", "{", '{"__proto__":{"x":1}}', "[1,2]", '[["a"],{"__proto__":{"isAdmin":true}},{}]', printable(int(100))])),
    })],
    ["unknown task", () => ({ headers: { ...base(), "taskd-task": pick(["rel.nope", printable(1 + int(30)), "rel.record.x"]) }, body: validBody() })],
    ["near max_payload", () => ({ headers: base(), body: bytes(1_000_000 + int(40_000)) })],
  ];
  const reader = (h: Record<string, string>): HeaderReader => (k) => h[k] || undefined;
  // A fuzzed message that would pass every check and run is not "broken": draw again.
  const wouldRun = (f: Omit<Fuzzed, "kind">) => {
    try {
      const env = decodeEnvelope(reader(f.headers));
      if (env.task !== "rel.record") return false;
      const b = decodeBody(reader(f.headers), f.body);
      return b.args.length + (Object.keys(b.kwargs).length ? 1 : 0) === 2;
    } catch {
      return false;
    }
  };
  return (): Fuzzed => {
    for (;;) {
      const [kind, make] = pick(kinds);
      // Megabyte messages cost the server a disk write each (twice: queue and dead letters): a few suffice.
      if (kind === "near max_payload" && rnd() > 0.08) continue;
      const f = make();
      if (!wouldRun(f)) return { kind, ...f };
    }
  };
}

/** Reasons by kind, to tally the dead letters. */
const REASONS: [RegExp, string][] = [
  [/no task of that name/, "unknown task"],
  [/no taskd-protocol header/, "no protocol header"],
  [/protocol version/, "unsupported protocol version"],
  [/header is missing/, "missing task or id header"],
  [/taskd-retries/, "bad retries header"],
  [/no registered serializer/, "unknown content type"],
  [/Cannot decode body as|decompress/, "undecodable body"],
  [/expected \[args|kwargs must be|arguments?, got/, "wrong argument shape"],
];

function natsHeadersOf(h: Record<string, string>): MsgHdrs | undefined {
  const keys = Object.keys(h);
  if (keys.length === 0) return undefined;
  const out = natsHeaders();
  for (const k of keys) out.set(k, h[k]);
  return out;
}

describe(`fuzzing a queue with ${COUNT} broken messages (seed ${SEED})`, () => {
  const t = useTaskd({ module: "reliable.ts", workers: [], apps: [app], stopGraceMs: 2000 });

  test("each is dead-lettered with a reason; the worker lives with bounded memory and serves a normal task", { timeout: 180_000 }, async () => {
    const worker = await t.startWorker(["-c", "16", "-n", "fuzz@test"]);
    const pid = worker.proc.pid!;
    const baseline = rssKb(pid);
    let peak = baseline;
    const sampler = setInterval(() => (peak = Math.max(peak, rssKb(pid))), 100);
    const next = generator(SEED);
    const js = jetstream(t.nc);
    const kinds = new Map<string, number>();
    const t0 = Date.now();
    try {
      const jsm = await jetstreamManager(t.nc);
      const inflight = new Set<Promise<unknown>>();
      let half = 0;
      for (let i = 0; i < COUNT; i++) {
        if (i === COUNT / 2) {
          // Memory after the first half is handled: the second half must not add to it much.
          await eventually(async () => (await jsm.streams.info("TASKD_DEAD")).state.messages >= COUNT / 2, 150_000, 100);
          half = peak;
        }
        const f = next();
        kinds.set(f.kind, (kinds.get(f.kind) ?? 0) + 1);
        const p = js.publish("taskd.tasks.default", f.body, { headers: natsHeadersOf(f.headers) }).finally(() => inflight.delete(p));
        inflight.add(p);
        if (inflight.size >= 64) await Promise.race(inflight);
      }
      await Promise.all(inflight);
      const progress = async () => `dead ${(await jsm.streams.info("TASKD_DEAD")).state.messages}, left ${(await jsm.streams.info("TASKD_TASKS")).state.messages}`;
      await eventually(async () => (await jsm.streams.info("TASKD_DEAD")).state.messages >= COUNT, 150_000, 250)
        .catch(async (e) => assert.fail(`${e.message}: ${await progress()}\n${worker.output.split("\n").filter((l) => !/dead-lettered message/.test(l)).slice(-30).join("\n")}`));
      const elapsed = Date.now() - t0;
      const dead = await jsm.streams.info("TASKD_DEAD");
      assert.equal(dead.state.messages, COUNT, "one dead letter per message");
      await eventually(async () => (await jsm.streams.info("TASKD_TASKS")).state.messages === 0, 30_000, 250)
        .catch(async (e) => assert.fail(`${e.message}: ${await progress()}\n${worker.output.split("\n").filter((l) => !/dead-lettered message/.test(l)).slice(-30).join("\n")}`));
      // Every dead letter carries a reason; tally them by their first words.
      const reasons = new Map<string, number>();
      const consumer = await js.consumers.get("TASKD_DEAD");
      let read = 0;
      while (read < COUNT) {
        const batch = await consumer.fetch({ max_messages: 1000, expires: 5000 });
        for await (const m of batch) {
          read++;
          const reason = m.headers?.get("taskd-dead-reason") ?? "";
          assert.ok(reason.length > 0, `dead letter ${m.seq} has no reason`);
          const key = REASONS.find(([re]) => re.test(reason))?.[1] ?? reason.slice(0, 50);
          reasons.set(key, (reasons.get(key) ?? 0) + 1);
        }
      }
      assert.equal(read, COUNT);
      // A normal task after them.
      assert.equal(await (await record.delay(21, 0)).get({ timeout: 30 }), 42);
      assert.equal(worker.proc.exitCode, null, worker.output.slice(-3000));
      assert.doesNotMatch(worker.output, /internal error/);
      clearInterval(sampler);
      peak = Math.max(peak, rssKb(pid));
      console.log(`[figures] fuzz seed ${SEED}: ${COUNT} sent, ${dead.state.messages} dead-lettered in ${elapsed} ms; worker RSS ${Math.round(baseline / 1024)} MB at start, peak ${Math.round(half / 1024)} MB after the first half, ${Math.round(peak / 1024)} MB in all`);
      console.log(`[figures] kinds: ${[...kinds].map(([k, n]) => `${k} ${n}`).join(", ")}`);
      console.log(`[figures] reasons:\n  ${[...reasons].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${n} ${k}`).join("\n  ")}`);
      // Bounded: 10,000 messages (about 600 MB of bodies and headers in all) must not pile up in the worker.
      assert.ok(peak < baseline + 200 * 1024, `worker RSS grew from ${baseline} kB to ${peak} kB`);
      assert.ok(peak < half + 64 * 1024, `worker RSS kept growing: ${half} kB after half the messages, ${peak} kB after all`);
    } finally {
      clearInterval(sampler);
    }
  });
});
