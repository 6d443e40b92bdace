/**
 * Validate mode end to end: the compiled binary as worker (serving tests/fixtures/validate_tasks.ts)
 * and CLI, the library as client, a real nats-server. Celery's Pydantic examples in valibot.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { jetstreamManager } from "@nats-io/jetstream";
import { type TaskError, TaskValidationError } from "../mod.ts";
import { app, greet, looseUser, maybe, register, strictUser, when, x, xLate } from "./fixtures/validate_tasks.ts";
import { useTaskd } from "./helpers/env.ts";
import { eventually, failureOf } from "./helpers/taskd.ts";

type WireIssue = { message: string; path?: { key: unknown }[] };
const pathsOf = (e: TaskError) => ((e.data as { issues: WireIssue[] }).issues).map((i) => (i.path ?? []).map((p) => p.key));

describe("validate mode through dist/taskd", () => {
  const t = useTaskd({ module: "validate_tasks.ts", args: ["-c", "8", "-n", "val@test"], apps: [app] });

  async function lastTaskSeq(): Promise<number> {
    const jsm = await jetstreamManager(t.nc);
    const info = await jsm.streams.info("TASKD_TASKS");
    return info.state.last_seq;
  }

  test("Celery's example: ArgModel in, ReturnModel out (a class instance stored as plain data)", async () => {
    const r = await x.delay({ value: 1 });
    assert.deepEqual(await r.get({ timeout: 20 }), { value: "example: 1" });
  });

  test("optional argument and return: delay() gives nothing, delay(model) the dumped model", async () => {
    const none = await maybe.delay();
    assert.equal((await none.get({ timeout: 20 })) ?? null, null);
    assert.equal(await none.state, "SUCCESS");
    const some = await maybe.delay({ value: 1 });
    assert.deepEqual(await some.get({ timeout: 20 }), { value: "example: 1" });
  });

  test("a transform runs on the worker (ISO string -> Date) and a Date return is stored as an ISO string", async () => {
    const r = await when.delay("2024-02-28T12:00:00Z");
    assert.deepEqual(await r.get({ timeout: 20 }), { at: "2024-02-28T12:00:00.000Z", nextDay: "2024-02-29T12:00:00.000Z", wasDate: true });
  });

  test("a kwargs schema with defaults: applied when no kwargs are sent, overridable, checked", async () => {
    assert.equal(await (await greet.delay("bob")).get({ timeout: 20 }), "hello bob");
    assert.equal(await (await greet.applyAsync(["ann"], { kwargs: { times: 2 } })).get({ timeout: 20 }), "hello ann, hello ann");
    const cli = await t.cli(["call", "tasks.greet", "cy", "--kwargs", '{"greeting":"hi"}', "--wait", "--timeout", "20"]);
    assert.equal(cli.code, 0, cli.stderr);
    assert.equal(cli.stdout.trim(), "hi cy");
    await assert.rejects(greet.applyAsync(["bob"], { kwargs: { times: 0 } }), (e: unknown) => {
      assert.ok(e instanceof TaskValidationError);
      assert.match(e.message, /^Cannot call tasks\.greet: keyword argument times: Invalid value: Expected >=1 but received 0$/);
      return true;
    });
  });

  test("client side: a bad call throws TaskValidationError naming the path, and nothing is published", async () => {
    await x.delay({ value: 2 }); // the stream exists
    const before = await lastTaskSeq();
    await assert.rejects(x.delay({ value: "nope" } as never), (e: unknown) => {
      assert.ok(e instanceof TaskValidationError);
      assert.equal(e.message, 'Cannot call tasks.x: argument 0 (arg) .value: Invalid type: Expected number but received "nope"');
      assert.deepEqual(e.issues.map((i) => i.path?.map((p) => p.key)), [[0, "value"]]);
      assert.equal(e.taskName, "tasks.x");
      return true;
    });
    await assert.rejects(x.delay({ value: 1.5 }), /argument 0 \(arg\) \.value: Invalid integer/);
    assert.equal(await lastTaskSeq(), before);
  });

  test("sent by name with bad args: FAILURE with TaskValidationError, not retried, dead-lettered with the reason", async () => {
    // tasks.x has autoretryFor: [Error]; a refused call must still not be retried.
    const r = await app.sendTask("tasks.x", [{ value: "nope" }]);
    const e = await failureOf(r.get({ timeout: 20 }));
    assert.equal(e.remoteType, "TaskValidationError");
    assert.match(e.remoteMessage, /^Cannot run tasks\.x: argument 0 \(arg\) \.value: Invalid type: Expected number but received "nope"$/);
    assert.deepEqual(pathsOf(e), [[0, "value"]]);
    const meta = await r.meta();
    assert.equal(meta?.status, "FAILURE");
    assert.equal(meta?.retries ?? 0, 0);
    const dead = await eventually(async () => (await t.deadLetters()).find((d) => d.id === r.id));
    assert.equal(dead.task, "tasks.x");
    assert.match(dead.reason, /argument 0 \(arg\) \.value: Invalid type/);

    // acksLate: the message is dead-lettered and terminated, not redelivered
    const late = await app.sendTask("tasks.xLate", [{}]);
    const le = await failureOf(late.get({ timeout: 20 }));
    assert.match(le.remoteMessage, /argument 0 \(arg\) \.value: Invalid key: Expected "value" but received undefined/);
    const deadLate = await eventually(async () => (await t.deadLetters()).find((d) => d.id === late.id));
    assert.equal(deadLate.task, "tasks.xLate");
    assert.deepEqual(await (await xLate.delay({ value: 3 })).get({ timeout: 20 }), { value: "late: 3" });
  });

  test("taskd call --wait prints which argument and field failed", async () => {
    const r = await t.cli(["call", "tasks.x", '{"value":"nope"}', "--wait", "--timeout", "20"]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /TaskValidationError: Cannot run tasks\.x: argument 0 \(arg\) \.value: Invalid type: Expected number but received "nope"/);
    assert.match(r.stderr, /\(0\.value: Invalid type: Expected number but received "nope"\)/);
    assert.equal(r.stdout, "");
  });

  test("strict mode refuses unknown keys, nested too; without it they are dropped", async () => {
    const input = { name: "ann", role: "admin", tags: [{ id: 1, color: "red" }] };
    await assert.rejects(strictUser.delay(input as never), (e: unknown) => {
      assert.ok(e instanceof TaskValidationError);
      assert.deepEqual(e.issues.map((i) => i.path?.map((p) => p.key)), [[0, "tags", 0, "color"], [0, "role"]]);
      assert.match(e.message, /argument 0 \(user\) \.role: Invalid key: Expected never but received "role"/);
      return true;
    });
    const byName = await failureOf((await app.sendTask("tasks.strictUser", [input])).get({ timeout: 20 }));
    assert.deepEqual(pathsOf(byName), [[0, "tags", 0, "color"], [0, "role"]]);
    assert.deepEqual(await (await strictUser.delay({ name: "ann", tags: [{ id: 1 }] })).get({ timeout: 20 }), { name: "ann", tags: [{ id: 1 }] });
    assert.deepEqual(await (await looseUser.delay(input)).get({ timeout: 20 }), { name: "ann", tags: [{ id: 1 }] });
  });

  test("async schemas (pipeAsync + checkAsync) on the client and on the worker", async () => {
    await assert.rejects(register.delay("root"), (e: unknown) => {
      assert.ok(e instanceof TaskValidationError);
      assert.equal(e.message, "Cannot call tasks.register: argument 0 (name): This name is taken");
      return true;
    });
    const ok = await register.delay("bobby");
    assert.deepEqual(await ok.get({ timeout: 20 }), { user: "bobby", createdAt: "1970-01-01T00:00:00.000Z" });
    const e = await failureOf((await app.sendTask("tasks.register", ["admin"])).get({ timeout: 20 }));
    assert.equal(e.remoteType, "TaskValidationError");
    assert.match(e.remoteMessage, /argument 0 \(name\): This name is taken/);
  });

  test("a return value that does not fit `returns` is a FAILURE naming the field, and is not dead-lettered", async () => {
    const r = await app.sendTask("tasks.badReturn", [7]);
    const e = await failureOf(r.get({ timeout: 20 }));
    assert.equal(e.remoteType, "TaskValidationError");
    assert.match(e.remoteMessage, /^Cannot store the result of tasks\.badReturn: return value \.value: Invalid type: Expected string but received 7/);
    assert.deepEqual(pathsOf(e), [["value"]]);
    // A dead letter would follow the stored result at once; one full round trip of a refused
    // call (sent, refused, dead-lettered) later, there is still none for this id.
    const probe = await app.sendTask("tasks.x", [{ value: "probe" }]);
    await eventually(async () => (await t.deadLetters()).some((d) => d.id === probe.id));
    assert.equal((await t.deadLetters()).some((d) => d.id === r.id), false);
  });

  test("the worker stays up and keeps serving after every refusal", async () => {
    assert.equal(t.worker.proc.exitCode, null);
    assert.deepEqual(await (await x.delay({ value: 9 })).get({ timeout: 20 }), { value: "example: 9" });
  });
});
