/**
 * Validate mode's types: `delay` takes the schemas' input types, the body gets their output
 * types, `get()` gives the `returns` output dumped to plain data. The type assertions are
 * checked by `deno check` (and by `deno test`, which type-checks first); every
 * `@ts-expect-error` line must stay an error, or the check fails. At run time the same tasks
 * run in process with `apply()`, so the file is also an ordinary test.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import { App, type AsyncResult, type Dumped, type Task } from "../mod.ts";

/** `true` only when A and B are the same type. */
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false;
function expectType<A, B>(_check: Equal<A, B>): void {}

const app = new App("types", { broker: "nats://127.0.0.1:1" });

const ArgModel = v.object({ value: v.number() });
const ReturnModel = v.object({ value: v.string(), at: v.date() });

const x = app.task({ validate: true, args: [v.optional(ArgModel)], returns: v.optional(ReturnModel) }, function x(arg) {
  // the body sees the output types
  expectType<typeof arg, { value: number } | undefined>(true);
  return arg === undefined ? undefined : { value: `example: ${arg.value}`, at: new Date(0) };
});

const when = app.task(
  { validate: true, args: [v.pipe(v.string(), v.transform((s) => new Date(s))), v.number()], kwargs: v.object({ tz: v.optional(v.string(), "UTC") }) },
  function when(at, n, opts) {
    expectType<typeof at, Date>(true);
    expectType<typeof n, number>(true);
    expectType<typeof opts, { tz: string }>(true);
    return `${at.toISOString()} ${n} ${opts.tz}`;
  },
);

const bound = app.task({ validate: true, bind: true, args: [v.string()], returns: v.number() }, function bound(self, s) {
  expectType<typeof s, string>(true);
  return self.name.length + s.length;
});

// Only a return schema: the body's parameters type the call.
const plain = app.task({ validate: true, returns: v.object({ sum: v.number() }) }, function plain(a: number, b: number) {
  return { sum: a + b };
});

// Never called: these lines exist for the type checker.
async function typeLevel(): Promise<void> {
  expectType<typeof x, Task<[arg?: { value: number } | undefined], { value: string; at: string } | undefined>>(true);
  expectType<Awaited<ReturnType<typeof x.delay>>, AsyncResult<{ value: string; at: string } | undefined>>(true);
  const got = await (await x.delay({ value: 1 })).get();
  expectType<typeof got, { value: string; at: string } | undefined>(true);
  await x.delay();
  // @ts-expect-error value must be a number (the schema's input type)
  await x.delay({ value: "nope" });
  // @ts-expect-error one argument at most
  await x.delay({ value: 1 }, 2);

  await when.delay("2024-01-01T00:00:00Z", 3);
  // @ts-expect-error the input of the transform is a string, not a Date
  await when.delay(new Date(), 3);
  // @ts-expect-error the second argument is required
  await when.delay("2024-01-01T00:00:00Z");
  expectType<Awaited<ReturnType<Awaited<ReturnType<typeof when.delay>>["get"]>>, string>(true);

  const n = await (await bound.delay("abc")).get();
  expectType<typeof n, number>(true);
  // @ts-expect-error a string is expected
  await bound.delay(1);

  const s = await (await plain.delay(1, 2)).get();
  expectType<typeof s, { sum: number }>(true);
  // @ts-expect-error the body's parameters are numbers
  await plain.delay("1", 2);

  // @ts-expect-error the body must return what `returns` accepts
  app.task({ validate: true, args: [v.number()], returns: v.string() }, function wrong(n) {
    return n;
  });
  // @ts-expect-error the body's parameter is the schema's output (number), not a string
  app.task({ validate: true, args: [v.number()] }, function wrongParam(s: string) {
    return s;
  });

  expectType<Dumped<{ at: Date; big: bigint; m: Map<string, Date>; f(): void; list: Date[] }>, { at: string; big: string; m: Record<string, string>; list: string[] }>(true);
}

describe("validate mode's types", () => {
  test("the type-level checks are compiled (deno check) and the file runs", () => {
    assert.equal(typeof typeLevel, "function");
  });

  test("the typed tasks behave as their types say, in process", async () => {
    assert.deepEqual(await (await x.apply([{ value: 1 }])).get(), { value: "example: 1", at: "1970-01-01T00:00:00.000Z" });
    assert.equal(await (await x.apply([])).get(), undefined);
    assert.equal(await (await when.apply(["2024-01-01T00:00:00Z", 3])).get(), "2024-01-01T00:00:00.000Z 3 UTC");
    assert.equal(await (await bound.apply(["abc"])).get(), "types.bound".length + 3);
    assert.deepEqual(await (await plain.apply([1, 2])).get(), { sum: 3 });
  });
});
