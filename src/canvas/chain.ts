/**
 * `chain(a, b, c)`: tasks run one after the other, each result put before the next step's
 * partial arguments. Only the first step is sent; its message carries the rest of the chain
 * (`embed.chain`, as signature data, in order) and the worker that finishes a step sends the
 * next. Every step gets its task id when the chain is applied, so the chain's result (the last
 * step's) is known at once, and a failing step marks every later step FAILURE with a
 * `ChainError` naming it — the caller's `get()` throws instead of waiting forever.
 * @module
 */
import type { App } from "../app/app.ts";
import type { ApplyOptions } from "../app/call.ts";
import type { AsyncResult } from "../result/async_result.ts";
import { type SignatureData, type SignatureOptions, toSignatureData, toSignatureList } from "../protocol/signature_data.ts";
import { fromData, registerSubtaskType, Signature } from "../app/signature.ts";
import type { EagerResult } from "../result/eager_result.ts";
import { ChainError } from "./errors.ts";
import { eagerFailure, eagerReason } from "./eager.ts";

/**
 * Steps of a chain: each result feeds the next; the chain's result is the last step's.
 * @example
 * ```ts
 * const r = await chain(add.s(2, 2), mul.s(4), add.s(1)).applyAsync();
 * await r.get({ timeout: 10 }); // ((2 + 2) * 4) + 1 = 17
 * ```
 */
export class Chain<R = unknown> extends Signature<R> {
  /** Always `"chain"`. */
  override readonly subtaskType = "chain" as const;
  /** The steps, in order. */
  readonly tasks: Signature[];

  /** A chain of `tasks`, in order. */
  constructor(tasks: Signature[], init: { options?: SignatureOptions; app?: App } = {}) {
    super("chain", { options: init.options, app: init.app ?? tasks.find((t) => t instanceof Signature)?.boundApp });
    if (!Array.isArray(tasks)) throw new TypeError("Cannot create a chain: pass the steps as signatures, e.g. chain(add.s(2, 2), mul.s(4))");
    this.tasks = tasks.map((t, i) => (t instanceof Signature ? t : fromData(toSignatureData(t, `chain step ${i + 1}`), init.app)));
  }

  /** Gives every step its task id; returns the last step's result. */
  override freeze(taskId?: string): AsyncResult<R> {
    const steps = this.#prepare();
    return lastResult<R>(steps, taskId);
  }

  // Nested chains are flattened; a group followed by a step becomes a chord with that step as
  // its body (as Celery does), so the group's results reach the next step as one list.
  #prepare(): Signature[] {
    const flat: Signature[] = [];
    for (const t of this.tasks) {
      if (t instanceof Chain) flat.push(...t.#prepare());
      else flat.push(t);
    }
    const out: Signature[] = [];
    for (const t of flat) {
      const prev = out[out.length - 1];
      if (prev && prev.subtaskType === "group") {
        out[out.length - 1] = fromData({ task: "chord", args: [], kwargs: { header: prev.toJSON(), body: t.toJSON() }, options: {}, immutable: false, subtaskType: "chord" }, this.app);
      } else out.push(t);
    }
    return out;
  }

  /**
   * Sends the first step with the rest of the chain attached; resolves with the last step's
   * result. `link` is attached to the last step, `linkError` to every step, `taskId` names the
   * last step; other options apply to the first step (as in Celery).
   */
  override async applyAsync(args: unknown[] = [], options: ApplyOptions = {}): Promise<AsyncResult<R>> {
    if (this.app.config.taskAlwaysEager) return (await this.apply(args, options)) as unknown as AsyncResult<R>;
    const steps = this.#prepare().map((s) => s.clone());
    if (steps.length === 0) throw new TypeError("Cannot apply an empty chain: give it at least one step");
    const all = { ...(this.options as ApplyOptions), ...options };
    const { link, linkError, taskId, chain: outerRest, chord, groupId, parentId, rootId, ...firstOptions } = all;
    const errbacks = toSignatureList(linkError, "linkError");
    if (errbacks) for (const s of steps) s.options.linkError = [...(toSignatureList(s.options.linkError) ?? []), ...errbacks];
    const last = steps[steps.length - 1];
    const callbacks = toSignatureList(link, "link");
    if (callbacks) last.options.link = [...(toSignatureList(last.options.link) ?? []), ...callbacks];
    if (chord !== undefined) last.options.chord = chord;
    if (groupId !== undefined) last.options.groupId = groupId;
    const result = lastResult<R>(steps, taskId);
    const first = steps[0];
    const firstId = first.freeze().id;
    const rest: SignatureData[] = [...steps.slice(1).map((s) => s.toJSON()), ...((outerRest as SignatureData[] | undefined) ?? [])];
    await first.applyAsync(args, { ...firstOptions, chain: rest.length ? rest : undefined, parentId, rootId: rootId ?? firstId });
    return result;
  }

  /**
   * Runs the chain here, step by step (as `applyAsync` under `taskAlwaysEager`): each result
   * is put before the next step's partial arguments. A step that does not succeed stops it:
   * the result is then the last step's, FAILURE with a `ChainError` naming the step (or the
   * failing step's own result when it is the last).
   */
  override async apply(args: unknown[] = [], options: ApplyOptions = {}): Promise<EagerResult<R>> {
    const steps = this.#prepare().map((s) => s.clone());
    if (steps.length === 0) throw new TypeError("Cannot apply an empty chain: give it at least one step");
    const all = { ...(this.options as ApplyOptions), ...options };
    const { link, linkError, taskId, chain: outerRest, chord: _chord, groupId: _g, parentId: _p, rootId: _r, ...firstOptions } = all;
    const errbacks = toSignatureList(linkError, "linkError");
    if (errbacks) for (const s of steps) s.options.linkError = [...(toSignatureList(s.options.linkError) ?? []), ...errbacks];
    const last = steps[steps.length - 1];
    const callbacks = toSignatureList(link, "link");
    if (callbacks) last.options.link = [...(toSignatureList(last.options.link) ?? []), ...callbacks];
    if (Array.isArray(outerRest) && outerRest.length) last.options.chain = [...(toSignatureList(last.options.chain) ?? []), ...toSignatureList(outerRest)!];
    const final = lastResult(steps, taskId);
    let result = await steps[0].apply(args, firstOptions);
    for (let i = 1; i < steps.length; i++) {
      if (result.meta.status !== "SUCCESS") {
        const failed = steps[i - 1];
        const why = eagerReason(result);
        const text = why.state === "FAILURE" ? why.reason.replace(/^raised /, "failed with ") : why.reason;
        const err = new ChainError(`Chain stopped: ${failed.task}[${result.id}] ${text}; later steps did not run`, { taskId: result.id, taskName: failed.task });
        return eagerFailure(final.id, final.taskName ?? last.task, err) as EagerResult<R>;
      }
      result = await steps[i].apply([result.meta.result]);
    }
    return result as EagerResult<R>;
  }

  /** `a | b | c`, for logs. */
  override toString(): string {
    return this.tasks.map(String).join(" | ");
  }

  /** The chain as data: its steps in `kwargs.tasks`. */
  override toJSON(): SignatureData {
    return { task: "chain", args: [], kwargs: { tasks: this.tasks.map((t) => t.toJSON()) }, options: { ...this.options }, immutable: false, subtaskType: "chain" };
  }
}

function lastResult<R>(steps: Signature[], taskId?: string): AsyncResult<R> {
  steps.forEach((s, i) => {
    if (i < steps.length - 1) s.freeze();
  });
  return steps[steps.length - 1].freeze(taskId) as AsyncResult<R>;
}

/**
 * Makes a chain of signatures: each result is put before the next step's arguments.
 * @example
 * ```ts
 * await chain(add.s(2, 2), mul.s(4)).applyAsync(); // mul(add(2, 2), 4)
 * ```
 */
// deno-lint-ignore no-explicit-any
export function chain<R = any>(...tasks: (Signature | Signature[])[]): Chain<R> {
  return new Chain<R>(tasks.flat());
}

registerSubtaskType("chain", (d, app) => {
  const tasks = Array.isArray(d.kwargs.tasks) ? d.kwargs.tasks : [];
  return new Chain(tasks.map((t, i) => fromData(toSignatureData(t, `chain step ${i + 1}`), app)), { options: d.options, app });
});
