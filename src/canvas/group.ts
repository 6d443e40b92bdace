/**
 * `group([...])`: signatures sent at once, to run in parallel; the result is a `GroupResult`
 * that lists the members' results in the group's order. Each member's message names the group
 * (`request.group`); the membership is saved so the GroupResult can be restored by id.
 * @module
 */
import type { App } from "../app/app.ts";
import type { ApplyOptions } from "../app/call.ts";
import type { AsyncResult } from "../result/async_result.ts";
import { type SignatureData, type SignatureOptions, toSignatureData } from "../protocol/signature_data.ts";
import { GroupResult } from "../result/group_result.ts";
import { fromData, registerSubtaskType, Signature } from "../app/signature.ts";
import { EagerResult } from "../result/eager_result.ts";
import { states } from "../protocol/states.ts";

/**
 * Tasks sent together; `applyAsync` resolves with a `GroupResult`.
 * @example
 * ```ts
 * const res = await group([add.s(1, 1), add.s(2, 2)]).applyAsync();
 * await res.get({ timeout: 10 }); // [2, 4]
 * ```
 */
export class Group<R = unknown> extends Signature<R[]> {
  /** Always `"group"`. */
  override readonly subtaskType = "group" as const;
  /** The members, in order. */
  readonly tasks: Signature[];

  /** A group of `tasks`. */
  constructor(tasks: Signature[], init: { options?: SignatureOptions; app?: App } = {}) {
    super("group", { options: init.options, app: init.app ?? tasks.find((t) => t instanceof Signature)?.boundApp });
    if (!Array.isArray(tasks)) throw new TypeError("Cannot create a group: pass its members as a list, e.g. group([add.s(1, 1), add.s(2, 2)])");
    this.tasks = tasks.map((t, i) => (t instanceof Signature ? t : fromData(toSignatureData(t, `group member ${i + 1}`), init.app)));
  }

  /** Gives the group and its members ids; returns the GroupResult to be. */
  override freeze(groupId?: string): GroupResult<R> {
    const id = (this.options.taskId = groupId ?? this.options.taskId ?? crypto.randomUUID());
    const results = this.tasks.map((t) => {
      t.options.groupId = id;
      return t.freeze() as AsyncResult<R>;
    });
    return new GroupResult<R>(id, results, this.app);
  }

  /**
   * Sends every member, `args` put before each one's partial arguments; the other options
   * apply to every member.
   */
  override applyAsync(args: unknown[] = [], options: ApplyOptions = {}): Promise<GroupResult<R>> {
    return this.applyMembers(args, options, () => ({}));
  }

  /** @internal sends the members, with `each(i)` merged into member i's options (chords). */
  async applyMembers(args: unknown[], options: ApplyOptions, each: (index: number) => ApplyOptions): Promise<GroupResult<R>> {
    const app = this.app;
    if (app.config.taskAlwaysEager) {
      const { id, results } = await this.applyEagerMembers(args, options);
      return new GroupResult<R>(id, results as unknown as AsyncResult<R>[], app);
    }
    const members = this.tasks.map((t) => t.clone());
    const { taskId, chain: _chain, rootId, ...common } = { ...(this.options as ApplyOptions), ...options };
    const id = options.groupId ?? taskId ?? crypto.randomUUID();
    const results = members.map((m) => {
      m.options.groupId = id;
      return m.freeze() as AsyncResult<R>;
    });
    const result = new GroupResult<R>(id, results, app);
    if (members.length === 0) return result;
    await result.save();
    const root = rootId ?? results[0].id;
    // Publish with bounded parallelism: fast, without flooding the connection with thousands of pending acks.
    const width = 128;
    for (let start = 0; start < members.length; start += width) {
      await Promise.all(members.slice(start, start + width).map((m, k) => m.applyAsync(args, { ...common, groupId: id, rootId: root, ...each(start + k) })));
    }
    return result;
  }

  /** @internal runs every member here, one after the other; their EagerResults in order. */
  async applyEagerMembers(args: unknown[], options: ApplyOptions): Promise<{ id: string; results: EagerResult<R>[] }> {
    const { taskId, chain: _chain, chord: _chord, rootId: _r, parentId: _p, groupId, chordTimeout: _t, ...common } = { ...(this.options as ApplyOptions), ...options };
    const id = groupId ?? taskId ?? crypto.randomUUID();
    const results: EagerResult<R>[] = [];
    for (const m of this.tasks) results.push((await m.clone().apply(args, { ...common, groupId: id })) as EagerResult<R>);
    return { id, results };
  }

  /**
   * Runs every member here (as `applyAsync` under `taskAlwaysEager`, which returns them as a
   * GroupResult): the result's value is the list of values, in order; FAILURE with the first
   * member (in order) that did not succeed.
   */
  override async apply(args: unknown[] = [], options: ApplyOptions = {}): Promise<EagerResult<R[]>> {
    const { id, results } = await this.applyEagerMembers(args, options);
    const bad = results.find((r) => r.meta.status !== states.SUCCESS);
    const meta = { taskId: id, taskName: "group", dateDone: new Date().toISOString() };
    if (bad) return new EagerResult<R[]>(id, { ...bad.meta, ...meta, status: bad.meta.status === states.PENDING ? states.FAILURE : bad.meta.status, result: bad.meta.result ?? { type: "Ignore", message: `${bad.meta.taskName}[${bad.id}] raised Ignore` } });
    return new EagerResult<R[]>(id, { ...meta, status: states.SUCCESS, result: results.map((r) => r.meta.result) });
  }

  /** `group(a, b)`, for logs. */
  override toString(): string {
    return `group(${this.tasks.map(String).join(", ")})`;
  }

  /** The group as data: its members in `kwargs.tasks`. */
  override toJSON(): SignatureData {
    return { task: "group", args: [], kwargs: { tasks: this.tasks.map((t) => t.toJSON()) }, options: { ...this.options }, immutable: false, subtaskType: "group" };
  }
}

/**
 * Makes a group of signatures, run in parallel.
 * @example
 * ```ts
 * const res = await group([add.s(1, 1), add.s(2, 2)]).applyAsync();
 * ```
 */
// deno-lint-ignore no-explicit-any
export function group<R = any>(...tasks: (Signature | Signature[])[]): Group<R> {
  return new Group<R>(tasks.flat());
}

registerSubtaskType("group", (d, app) => {
  const tasks = Array.isArray(d.kwargs.tasks) ? d.kwargs.tasks : [];
  return new Group(tasks.map((t, i) => fromData(toSignatureData(t, `group member ${i + 1}`), app)), { options: d.options, app });
});
