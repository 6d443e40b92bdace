/**
 * Typed calls by name: `app.sendTask<typeof add>("tasks.add", [2, 3])` checks the arguments
 * and types `get()` from the task's type, without the worker's module loaded (an `import type`
 * loads nothing). Checked by `deno check` (and `deno test`, which type-checks first): every
 * `@ts-expect-error` line must stay an error. At run time the type helpers do nothing, so the
 * test only checks that `sendTask` still refuses a bad name before any broker is needed.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import { App, type AsyncResult, type SendTaskArgs, type TaskArgs, type TaskResult } from "../mod.ts";

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false;
function expectType<A, B>(_check: Equal<A, B>): void {}

// What a worker's module defines; a client would `import type { add, … } from "./tasks.ts"`.
const tasks = new App("by-name-types", { broker: "nats://127.0.0.1:1" });
const add = tasks.task(function add(x: number, y: number) {
  return x + y;
});
const fetchTitle = tasks.task(async function fetchTitle(url: string, opts?: { timeout: number }) {
  return { url, title: String(opts?.timeout ?? 0) };
});
const ping = tasks.task(function ping() {
  return "pong" as const;
});
const bound = tasks.task({ bind: true }, function bound(self, n: number) {
  return `${self.name}:${n}`;
});
const checked = tasks.task({ validate: true, args: [v.pipe(v.string(), v.transform((s) => new Date(s)))], returns: v.date() }, function checked(at) {
  return at;
});

// Never called: these lines exist for the type checker.
async function typeLevel(app: App): Promise<void> {
  expectType<TaskArgs<typeof add>, [x: number, y: number]>(true);
  expectType<TaskResult<typeof fetchTitle>, { url: string; title: string }>(true);
  expectType<TaskArgs<unknown>, unknown[]>(true);
  expectType<TaskResult<unknown>, unknown>(true);

  const r = await app.sendTask<typeof add>("tasks.add", [2, 3]);
  expectType<typeof r, AsyncResult<number>>(true);
  const sum = await r.get();
  expectType<typeof sum, number>(true);
  // @ts-expect-error y must be a number
  await app.sendTask<typeof add>("tasks.add", [2, "3"]);
  // @ts-expect-error two arguments, not one
  await app.sendTask<typeof add>("tasks.add", [2]);
  // @ts-expect-error the arguments are required when the task takes some
  await app.sendTask<typeof add>("tasks.add");
  // @ts-expect-error get() gives a number, not a string
  const wrong: string = await r.get();

  // An async body: get() gives the awaited value; optional parameters stay optional.
  const page = await (await app.sendTask<typeof fetchTitle>("tasks.fetchTitle", ["https://example.com"], { countdown: 1 })).get();
  expectType<typeof page, { url: string; title: string }>(true);
  await app.sendTask<typeof fetchTitle>("tasks.fetchTitle", ["https://example.com", { timeout: 5 }]);
  // @ts-expect-error timeout is a number
  await app.sendTask<typeof fetchTitle>("tasks.fetchTitle", ["https://example.com", { timeout: "5" }]);

  // No arguments: they may be left out.
  const pong = await (await app.sendTask<typeof ping>("tasks.ping")).get();
  expectType<typeof pong, "pong">(true);
  // @ts-expect-error ping takes no arguments
  await app.sendTask<typeof ping>("tasks.ping", [1]);

  // A bound task: the caller's arguments come after self.
  const b = await (await app.sendTask<typeof bound>("tasks.bound", [1])).get();
  expectType<typeof b, string>(true);
  // @ts-expect-error n is a number
  await app.sendTask<typeof bound>("tasks.bound", ["1"]);

  // Validate mode: the schemas' input types in, the dumped output type out.
  const at = await (await app.sendTask<typeof checked>("tasks.checked", ["2024-01-01"])).get();
  expectType<typeof at, string>(true);
  // @ts-expect-error the schema's input is a string
  await app.sendTask<typeof checked>("tasks.checked", [new Date()]);

  // A signature written out instead of the task's type.
  const mul = await (await app.sendTask<(x: number, y: number) => number>("math.mul", [6, 7])).get();
  expectType<typeof mul, number>(true);
  // @ts-expect-error a string is not a number
  await app.sendTask<(x: number, y: number) => number>("math.mul", [6, "7"]);

  // Untyped, as before: any arguments, get() is unknown.
  const loose = await (await app.sendTask("tasks.add", [2, "anything", { at: 1 }], { queue: "default" })).get();
  expectType<typeof loose, unknown>(true);
  await app.sendTask("tasks.ping");
  expectType<SendTaskArgs<typeof ping>, [args?: [], options?: import("../mod.ts").ApplyOptions]>(true);
  void wrong;
}

describe("sendTask typed by name", () => {
  test("the type-level checks compile (deno check) and sendTask still refuses an empty name", async () => {
    assert.equal(typeof typeLevel, "function");
    const app = new App("by-name-types-runtime", { broker: "nats://127.0.0.1:1" });
    await assert.rejects(app.sendTask<typeof add>("" as string, [1, 2]), TypeError);
    await app.close();
  });
});
