/**
 * Types of tasks on a base class of one's own (the guide's DatabaseTask): `app.task({ base })`
 * is typed as that class, so its members type-check, and a bound body's `self` is one too.
 * `deno test` type-checks this file: an `@ts-expect-error` line that stops erring fails it.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { App, Task } from "../mod.ts";

class DatabaseTask extends Task {
  #db?: { rows(): number[] };
  /** One connection per process (the guide's cached property). */
  get db(): { rows(): number[] } {
    return (this.#db ??= { rows: () => [1, 2, 3] });
  }
}

describe("tasks on a base class of one's own", () => {
  const app = new App("types-base");
  // The body names the task (not itself: a function's own name would shadow it), with its
  // return type written, as TypeScript asks of a value used in its own initializer.
  const processRows = app.task({ base: DatabaseTask }, function rows(limit: number): number[] {
    return processRows.db.rows().slice(0, limit);
  });
  const bound = app.task({ base: DatabaseTask, bind: true }, function bound(self, n: number) {
    return self.db.rows().length + n;
  });

  test("the task is an instance of the base, typed so; calls stay typed by the body", async () => {
    assert.ok(processRows instanceof DatabaseTask);
    const rows: number[] = processRows.db.rows();
    assert.deepEqual(rows, [1, 2, 3]);
    assert.deepEqual(await (await processRows.apply([2])).get(), [1, 2]);
    assert.equal(await (await bound.apply([10])).get(), 13);
    // @ts-expect-error: the body takes a number
    void (() => processRows.delay("two"));
    // @ts-expect-error: no such member on the base
    void (() => processRows.nope);
  });
});
