/**
 * Validate mode's pure parts (dump, strict copies, parameter names, messages, the error's wire
 * form) and its behaviour in process through `apply()`; no broker is needed.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import { App, Task, TaskError, TaskValidationError } from "../mod.ts";
import { serializeError } from "../src/errors/errors.ts";
import { dump, DumpError } from "../src/validate/dump.ts";
import { strictSchema } from "../src/validate/strict.ts";
import { paramNames } from "../src/validate/params.ts";
import { renderPath } from "../src/validate/issues.ts";
import { validationOf } from "../src/validate/validate.ts";

// Never connects: every call here is refused, or run in process with apply().
const app = new App("unit", { broker: "nats://127.0.0.1:1" });

describe("dump: plain data from a parsed return value", () => {
  test("Dates become ISO strings, class instances their own fields, JSON's rules otherwise", () => {
    class Point {
      constructor(public x: number, public y: number) {}
      get norm() {
        return Math.hypot(this.x, this.y);
      }
      move() {}
    }
    const out = dump({
      at: new Date("2024-01-02T03:04:05Z"),
      p: new Point(3, 4),
      list: [1, undefined, () => 1, NaN],
      gone: undefined,
      big: 12345678901234567890n,
      map: new Map<unknown, unknown>([["a", 1], [2, new Date(0)]]),
      set: new Set([1, 2]),
      bytes: new Uint8Array([1, 2]),
      invalid: new Date("nope"),
    });
    assert.deepEqual(out, {
      at: "2024-01-02T03:04:05.000Z",
      p: { x: 3, y: 4 },
      list: [1, null, null, null],
      big: "12345678901234567890",
      map: { a: 1, "2": "1970-01-01T00:00:00.000Z" },
      set: [1, 2],
      bytes: [1, 2],
      invalid: null,
    });
    assert.equal(Object.getPrototypeOf((out as { p: object }).p), Object.prototype);
    assert.equal(dump(undefined), undefined);
    assert.equal(dump(new Date(0)), "1970-01-01T00:00:00.000Z");
  });

  test("a cycle is an error with its path; a shared object is not a cycle", () => {
    const shared = { n: 1 };
    assert.deepEqual(dump({ a: shared, b: [shared] }), { a: { n: 1 }, b: [{ n: 1 }] });
    const loop: Record<string, unknown> = { items: [{}] };
    (loop.items as Record<string, unknown>[])[0].back = loop;
    assert.throws(() => dump(loop), (e: unknown) => e instanceof DumpError && e.path.join(".") === "items.0.back");
  });

  test('a "__proto__" key stays an own field', () => {
    const input = JSON.parse('{"__proto__": {"polluted": true}, "ok": 1}');
    const out = dump(input) as Record<string, unknown>;
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.equal(Object.getPrototypeOf(out), Object.prototype);
    assert.deepEqual(Object.keys(out).sort(), ["__proto__", "ok"]);
  });
});

describe("strictSchema: plain objects refuse unknown keys", () => {
  const Tag = v.object({ id: v.number() });
  const User = v.object({
    name: v.string(),
    tags: v.optional(v.array(Tag)),
    pet: v.nullable(v.union([v.object({ kind: v.literal("cat") }), v.object({ kind: v.literal("dog"), barks: v.boolean() })])),
    meta: v.pipe(v.object({ v: v.number() }), v.transform((m) => ({ ...m, seen: true }))),
  });
  const ok = { name: "a", tags: [{ id: 1 }], pet: { kind: "cat" }, meta: { v: 1 } };
  const keys = (schema: Parameters<typeof v.safeParse>[0], input: unknown) => {
    const r = v.safeParse(schema, input);
    return r.success ? [] : r.issues.map((i) => v.getDotPath(i));
  };

  test("unknown keys are refused at every level the copy reaches; the user's schema is unchanged", () => {
    const strict = strictSchema(User);
    assert.deepEqual(keys(strict, ok), []);
    assert.deepEqual(v.parse(strict, ok).meta, { v: 1, seen: true });
    assert.deepEqual(keys(strict, { ...ok, extra: 1 }), ["extra"]);
    assert.deepEqual(keys(strict, { ...ok, tags: [{ id: 1, x: 1 }] }), ["tags.0.x"]);
    assert.deepEqual(keys(strict, { ...ok, meta: { v: 1, w: 2 } }), ["meta.w"]);
    // a union: neither option accepts the extra key
    assert.equal(v.safeParse(strict, { ...ok, pet: { kind: "cat", x: 1 } }).success, false);
    // the original still strips
    assert.deepEqual(v.parse(User, { ...ok, extra: 1 }), { ...ok, meta: { v: 1, seen: true } });
    const plain = v.array(v.string());
    assert.equal(strictSchema(plain), plain); // nothing to make strict: the same schema
  });

  test("lazy (recursive) schemas and async objects", async () => {
    type Node = { name: string; children: Node[] };
    const NodeSchema: v.GenericSchema<Node> = v.object({ name: v.string(), children: v.array(v.lazy(() => NodeSchema)) });
    const strict = strictSchema(NodeSchema);
    assert.deepEqual(keys(strict, { name: "r", children: [{ name: "c", children: [] }] }), []);
    assert.deepEqual(keys(strict, { name: "r", children: [{ name: "c", children: [], x: 1 }] }), ["children.0.x"]);
    const A = strictSchema(v.objectAsync({ n: v.pipeAsync(v.number(), v.checkAsync(async (n) => n > 0)) }));
    assert.equal((await v.safeParseAsync(A, { n: 1 })).success, true);
    const r = await v.safeParseAsync(A, { n: 1, m: 2 });
    assert.deepEqual(r.issues?.map((i) => v.getDotPath(i)), ["m"]);
  });

  test("looseObject and objectWithRest keep their openness; a custom message is used", () => {
    assert.equal(v.safeParse(strictSchema(v.looseObject({ a: v.number() })), { a: 1, b: 2 }).success, true);
    const r = v.safeParse(strictSchema(v.object({ a: v.number() }, "not a valid thing")), { a: 1, b: 2 });
    assert.equal(r.issues?.[0].message, "not a valid thing");
  });
});

describe("messages name the argument and the field", () => {
  test("parameter names are read from the body", () => {
    assert.deepEqual(paramNames(function f(a: number, b = "x,)", ...rest: unknown[]) {
      return [a, b, rest];
    }), ["a", "b", "rest"]);
    assert.deepEqual(paramNames((x: number) => x), ["x"]);
    assert.deepEqual(paramNames(({ a }: { a: number }, [b]: number[]) => a + b), [undefined, undefined]);
  });

  test("paths render as .field[index]", () => {
    assert.equal(renderPath(["user", "tags", 0, "id"]), ".user.tags[0].id");
    assert.equal(renderPath(["a b"]), '["a b"]');
    assert.equal(renderPath([]), "");
  });

  test("the error keeps valibot's issues and crosses the wire as plain issues", async () => {
    const t = app.task({ validate: true, args: [v.number(), v.object({ when: v.date() })] }, function pair(n, o) {
      return [n, o];
    });
    const e = await t.delay("1" as never, { when: "soon" } as never).then(() => undefined, (e) => e);
    assert.ok(e instanceof TaskValidationError);
    assert.equal(e.code, "VALIDATION_FAILED");
    assert.equal(e.target, "arguments");
    assert.equal(
      e.message,
      'Cannot call unit.pair: argument 0 (n): Invalid type: Expected number but received "1"; argument 1 (o) .when: Invalid type: Expected Date but received "soon"',
    );
    assert.equal(e.issues[1].path?.[1].input !== undefined, true); // valibot's raw path items
    const wire = serializeError(e);
    assert.equal(wire.type, "TaskValidationError");
    // The error's own fields travel as data (Celery pickles them); the issues as plain data.
    assert.deepEqual(wire.data, {
      code: "VALIDATION_FAILED",
      target: "arguments",
      taskName: "unit.pair",
      issues: [
        { kind: "schema", type: "number", expected: "number", received: '"1"', message: 'Invalid type: Expected number but received "1"', path: [{ type: "array", origin: "value", key: 0 }] },
        {
          kind: "schema",
          type: "date",
          expected: "Date",
          received: '"soon"',
          message: 'Invalid type: Expected Date but received "soon"',
          path: [{ type: "array", origin: "value", key: 1 }, { type: "object", origin: "value", key: "when" }],
        },
      ],
    });
  });

  test("many issues are summed up after three", async () => {
    const t = app.task({ validate: true, args: [v.object({ a: v.string(), b: v.string(), c: v.string(), d: v.string(), e: v.string() })] }, function five(o) {
      return o;
    });
    await assert.rejects(t.delay({} as never), /; and 2 more issues$/);
  });
});

describe("registration checks the schemas", () => {
  test("a non-schema is refused with the position", () => {
    assert.throws(() => app.task({ validate: true, args: [v.number(), 5 as never] }, function bad(_a: number, _b: number) {}), {
      name: "TypeError",
      message: "Cannot register unit.bad: args[1] is not a valibot schema (got number); use e.g. v.number()",
    });
  });

  test("schemas without validate: true are refused rather than ignored", () => {
    assert.throws(
      () => app.task({ args: [v.number()] } as never, function forgot(_a: number) {}),
      /Cannot register unit\.forgot: args schemas are given but validate is not true; add validate: true/,
    );
  });

  test("with argument schemas, the schemas decide the count; without, the body's arity still applies", async () => {
    const opt = app.task({ validate: true, args: [v.optional(v.number(), 7)] }, function opt(n: number) {
      return n;
    });
    assert.equal(validationOf(opt)?.ownsArity, true);
    assert.equal(await (await opt.apply([])).get(), 7);
    await assert.rejects((opt.delay as (...a: unknown[]) => Promise<unknown>)(1, 2), /argument 1: Unexpected argument: the task takes at most 1 argument/);
    const onlyReturns = app.task({ validate: true, returns: v.number() }, function two(a: number, b: number) {
      return a + b;
    });
    await assert.rejects(onlyReturns.applyAsync([1]), /Cannot call unit\.two: expected 2 arguments, got 1/);
  });
});

describe("apply() runs validate mode in process", () => {
  test("args parsed (transform), body called with the output, return parsed and dumped", async () => {
    const t = app.task(
      {
        validate: true,
        args: [v.pipe(v.string(), v.transform((s) => new Date(s)))],
        kwargs: v.object({ days: v.optional(v.number(), 1) }),
        returns: v.object({ due: v.date() }),
      },
      function due(from, { days }) {
        return { due: new Date(from.getTime() + days * 86_400_000), ignored: "not in the schema" };
      },
    );
    assert.deepEqual(await (await t.apply(["2024-01-01T00:00:00Z"])).get(), { due: "2024-01-02T00:00:00.000Z" });
    assert.deepEqual(await (await t.apply(["2024-01-01T00:00:00Z"], { kwargs: { days: 2 } })).get(), { due: "2024-01-03T00:00:00.000Z" });
  });

  test("a class-based task declares validate mode as fields", async () => {
    const t = app.register(class Scale extends Task {
      override validate = true;
      override args = [v.number(), v.optional(v.number(), 10)];
      override returns = v.object({ scaled: v.number() });
      override run(n: number, factor: number) {
        return { scaled: n * factor, extra: true };
      }
    });
    assert.deepEqual(await (await t.apply([2])).get(), { scaled: 20 });
    await assert.rejects(t.applyAsync(["2"]), /Cannot call unit\.Scale: argument 0 \(n\): Invalid type: Expected number but received "2"/);
  });

  test("refused arguments are not retried even with autoretryFor; a bad return is a normal failure", async () => {
    let runs = 0;
    const t = app.task({ validate: true, args: [v.number()], returns: v.string(), autoretryFor: [Error], maxRetries: 2, retryKwargs: { countdown: 0 } }, function r(n) {
      runs++;
      return n as unknown as string;
    });
    const refused = await t.apply(["x" as never]);
    assert.equal(await refused.state, "FAILURE");
    assert.equal(runs, 0);
    const bad = await t.apply([1]);
    await assert.rejects(bad.get(), (e: unknown) => e instanceof TaskError && e.remoteType === "TaskValidationError" && /return value: Invalid type/.test(e.remoteMessage));
    assert.equal(runs, 3); // the return failure went through autoretry like any error: 1 + 2 retries
  });
});
