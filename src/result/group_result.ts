/**
 * `GroupResult`: the results of a group's tasks, in the order the group listed them. Its
 * membership is saved in the canvas bucket (`group.<id>`) when the group is applied, so
 * `app.groupResult(id)` (or `GroupResult.restore`) rebuilds it in another process.
 * @module
 */

import { AsyncResult, type GetOptions, type ResultOwner } from "./async_result.ts";
import { type State, states } from "../protocol/states.ts";
import { msgpack } from "../protocol/codec.ts";
import { canvasBucket, type CanvasOwner } from "../nats/canvas_store.ts";

/**
 * The results of a group, in order. `get()` waits for all of them.
 * @example
 * ```ts
 * const res = await group([add.s(1, 1), add.s(2, 2)]).applyAsync();
 * await res.get({ timeout: 10 }); // [2, 4]
 * const same = await app.groupResult(res.id);
 * ```
 */
export class GroupResult<T = unknown> extends AsyncResult<T[]> {
  /** A GroupResult of group `id` with its members' results, in order. */
  constructor(
    id: string,
    /** The members' results, in the group's order. */
    readonly results: AsyncResult<T>[],
    readonly owner: ResultOwner & CanvasOwner,
  ) {
    super(id, owner, "group");
  }

  /** Waits for every member and returns their values in order; re-throws the first failure (in order). */
  override async get(options: GetOptions = {}): Promise<T[]> {
    const settled = await Promise.allSettled(this.results.map((r) => r.get(options)));
    const out: T[] = [];
    for (const s of settled) {
      if (s.status === "rejected") throw s.reason;
      out.push(s.value);
    }
    return out;
  }

  /** Alias of `get()` (Celery's `join`). */
  join(options: GetOptions = {}): Promise<T[]> {
    return this.get(options);
  }

  /** SUCCESS when all succeeded, FAILURE when one failed, else PENDING (await it). */
  override get state(): Promise<State> {
    return Promise.all(this.results.map((r) => r.state)).then((all) => {
      if (all.some((s) => s === states.FAILURE || s === states.REVOKED)) return states.FAILURE;
      if (all.every((s) => s === states.SUCCESS)) return states.SUCCESS;
      return states.PENDING;
    });
  }

  /** The members' current values (or errors), in order (await it). */
  override get result(): Promise<unknown> {
    return Promise.all(this.results.map((r) => r.result));
  }

  /** Whether every member finished. */
  override async ready(): Promise<boolean> {
    return (await Promise.all(this.results.map((r) => r.ready()))).every(Boolean);
  }

  /** Whether every member succeeded. */
  override async successful(): Promise<boolean> {
    return (await Promise.all(this.results.map((r) => r.successful()))).every(Boolean);
  }

  /** Whether any member failed. */
  override async failed(): Promise<boolean> {
    return (await Promise.all(this.results.map((r) => r.failed()))).some(Boolean);
  }

  /** How many members finished successfully. */
  async completedCount(): Promise<number> {
    return (await Promise.all(this.results.map((r) => r.successful()))).filter(Boolean).length;
  }

  /** Deletes every member's result and the saved membership. */
  override async forget(): Promise<void> {
    await Promise.all(this.results.map((r) => r.forget()));
    const kv = await canvasBucket(this.owner);
    await kv.purge(`group.${this.id}`);
  }

  /** Revokes every member. */
  override async revoke(options: { terminate?: boolean } = {}): Promise<void> {
    await Promise.all(this.results.map((r) => r.revoke(options)));
  }

  /** Saves the membership so `restore` finds it (done when the group is applied). */
  async save(): Promise<void> {
    const kv = await canvasBucket(this.owner);
    await kv.put(`group.${this.id}`, msgpack.encode({ ids: this.results.map((r) => r.id), names: this.results.map((r) => r.taskName ?? null) }));
  }

  /** Rebuilds a saved GroupResult; `null` when none is saved under `id`. */
  static async restore<T = unknown>(app: ResultOwner & CanvasOwner, id: string): Promise<GroupResult<T> | null> {
    const kv = await canvasBucket(app);
    const e = await kv.get(`group.${id}`);
    if (!e || e.operation !== "PUT" || e.length === 0) return null;
    const { ids, names } = msgpack.decode(e.value) as { ids: string[]; names?: (string | null)[] };
    return new GroupResult<T>(id, ids.map((x, i) => new AsyncResult<T>(x, app, names?.[i] ?? undefined)), app);
  }

  /** The group's id. */
  override toString(): string {
    return this.id;
  }
}
