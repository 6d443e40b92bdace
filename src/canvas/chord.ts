/**
 * `chord(header, body)`: a group whose results, in order, are passed to one body task once the
 * last header task finished. The chord's counter lives on the server (chord_state.ts): created
 * before the header is sent, updated by whichever worker finishes a member, fired by the one
 * that finishes the last — exactly once, with no polling and no coordinator.
 * @module
 */
import type { App } from "../app/app.ts";
import type { ApplyOptions } from "../app/call.ts";
import type { AsyncResult } from "../result/async_result.ts";
import { type SignatureData, type SignatureOptions, toSignatureData, toSignatureList } from "../protocol/signature_data.ts";
import { Group } from "./group.ts";
import { createChord } from "./chord_state.ts";
import { CHORD_TIMEOUT_TASK } from "./settle.ts";
import type { EagerResult } from "../result/eager_result.ts";
import { ChordError } from "./errors.ts";
import { eagerErrbacks, eagerFailure, eagerFailures } from "./eager.ts";
import { fromData, registerSubtaskType, Signature } from "../app/signature.ts";

/**
 * A header group and a body called with the header's results.
 * @example
 * ```ts
 * const r = await chord([add.s(1, 1), add.s(2, 2)], tsum.s()).applyAsync();
 * await r.get({ timeout: 10 }); // tsum([2, 4]) = 6
 * ```
 */
export class Chord<R = unknown> extends Signature<R> {
  /** Always `"chord"`. */
  override readonly subtaskType = "chord" as const;
  /** The header, run in parallel. */
  readonly header: Group;
  /** Called with the list of the header's results. */
  readonly body: Signature<R>;

  /** A chord of `header` (a list or a group) and `body`. */
  constructor(header: Signature[] | Group, body: Signature<R>, init: { options?: SignatureOptions; app?: App } = {}) {
    const members = header instanceof Group ? header.tasks : header;
    if (!Array.isArray(members)) throw new TypeError("Cannot create a chord: its header must be a list of signatures or a group");
    if (!(body instanceof Signature)) throw new TypeError("Cannot create a chord: its body must be a signature, e.g. tsum.s()");
    super("chord", { options: init.options, app: init.app ?? body.boundApp ?? members.find((t) => t instanceof Signature)?.boundApp });
    // A group inside the header is refused: its results would have to nest (Celery flattens it
    // silently, which changes the body's list); write the members out, or make it a chord.
    members.forEach((m, i) => {
      if (m instanceof Group || (m as Signature)?.subtaskType === "group") {
        throw new TypeError(
          `Cannot create a chord: header member ${i + 1} is a group; a group nested in a chord header is not supported. ` +
            "Put its members in the header itself (their results then sit side by side), or make it a chord of its own with a body that collects them",
        );
      }
    });
    this.header = new Group(members, { options: header instanceof Group ? header.options : {}, app: init.app });
    this.body = body;
  }

  /** Gives the header and body ids; returns the body's result (the chord's). */
  override freeze(taskId?: string): AsyncResult<R> {
    this.header.freeze();
    return this.body.freeze(taskId);
  }

  /**
   * Creates the chord's counter, then sends the header (with `args` put before each member's
   * partial arguments); resolves with the body's result. `link`/`linkError` go to the body.
   */
  override async applyAsync(args: unknown[] = [], options: ApplyOptions = {}): Promise<AsyncResult<R>> {
    const app = this.app;
    if (app.config.taskAlwaysEager) return (await this.apply(args, options)) as unknown as AsyncResult<R>;
    const all = { ...(this.options as ApplyOptions), ...options };
    const { taskId, chain: rest, link, linkError, parentId, rootId, groupId: _g, chordTimeout, ...headerOptions } = all;
    if (chordTimeout !== undefined && !(typeof chordTimeout === "number" && chordTimeout > 0)) {
      throw new RangeError(`Cannot apply chord: chordTimeout must be a number of seconds above 0: current value is ${String(chordTimeout)}`);
    }
    const body = this.body.clone();
    if (taskId) body.options.taskId = taskId;
    const result = body.freeze();
    const links = toSignatureList(link, "link");
    if (links) body.options.link = [...(toSignatureList(body.options.link) ?? []), ...links];
    const errbacks = toSignatureList(linkError, "linkError");
    if (errbacks) body.options.linkError = [...(toSignatureList(body.options.linkError) ?? []), ...errbacks];
    if (Array.isArray(rest) && rest.length) body.options.chain = [...(toSignatureList(body.options.chain) ?? []), ...toSignatureList(rest)!];
    const size = this.header.tasks.length;
    if (size === 0) {
      await body.applyAsync([[]], { parentId, rootId });
      return result;
    }
    // Named after its body (whose id is fixed once frozen): applying the same chord again after
    // an error (a retried call) finds the first one instead of making a second whose members
    // the server de-duplicates against the first's.
    const id = this.header.options.taskId ?? `${result.id}-chord`;
    await createChord(app, id, size, body.toJSON(), chordTimeout);
    if (chordTimeout !== undefined) {
      // The timeout check: released by the delay scheduler when due, run by a worker of the
      // body's queue, which ends the chord with a ChordError if it is still incomplete.
      const queue = body.options.queue ?? app.queueFor(body.task, app.tasks.get(body.task));
      await app.sendTask(CHORD_TIMEOUT_TASK, [id], { countdown: chordTimeout, queue, ignoreResult: true, taskId: `chord-timeout-${id}`, parentId, rootId });
    }
    await this.header.applyMembers(args, { ...headerOptions, groupId: id, parentId, rootId }, (index) => ({ chord: { id, index, size } }));
    return result;
  }

  /**
   * Runs the chord here (as `applyAsync` under `taskAlwaysEager`): every header member, one
   * after the other, then the body with their results in order. When a member did not succeed
   * the body does not run: the result is FAILURE with a `ChordError` naming each such member,
   * and the body's `linkError` callbacks are called with `(bodyId, error)`.
   */
  override async apply(args: unknown[] = [], options: ApplyOptions = {}): Promise<EagerResult<R>> {
    const all = { ...(this.options as ApplyOptions), ...options };
    const { taskId, chain: rest, link, linkError, parentId: _p, rootId: _r, groupId: _g, chordTimeout: _t, chord: _c, ...headerOptions } = all;
    const body = this.body.clone();
    if (taskId) body.options.taskId = taskId;
    const bodyId = body.freeze().id!;
    const links = toSignatureList(link, "link");
    if (links) body.options.link = [...(toSignatureList(body.options.link) ?? []), ...links];
    const errbacks = toSignatureList(linkError, "linkError");
    if (errbacks) body.options.linkError = [...(toSignatureList(body.options.linkError) ?? []), ...errbacks];
    if (Array.isArray(rest) && rest.length) body.options.chain = [...(toSignatureList(body.options.chain) ?? []), ...toSignatureList(rest)!];
    const id = this.header.options.taskId ?? crypto.randomUUID();
    const { results } = await this.header.applyEagerMembers(args, { ...headerOptions, groupId: id });
    const failures = eagerFailures(this.header.tasks, results);
    if (failures.length === 0) return body.apply([results.map((r) => r.meta.result)]);
    const size = results.length;
    const list = failures.map((f) => `header task ${f.taskName}[${f.taskId}] ${f.reason}`).join("; ");
    const error = new ChordError(
      `Chord ${id} failed: ${failures.length} of ${size} header task${size === 1 ? "" : "s"} did not succeed: ${list}; the body ${body.task} did not run`,
      id,
      { taskId: bodyId, taskName: body.task },
      failures,
    );
    await eagerErrbacks(body.options.linkError, bodyId, error, this.app);
    return eagerFailure(bodyId, body.task, error) as EagerResult<R>;
  }

  /** `chord(group(…), body)`, for logs. */
  override toString(): string {
    return `chord(${this.header}, ${this.body})`;
  }

  /** The chord as data: `kwargs.header` (a group) and `kwargs.body`. */
  override toJSON(): SignatureData {
    return {
      task: "chord",
      args: [],
      kwargs: { header: this.header.toJSON(), body: this.body.toJSON() },
      options: { ...this.options },
      immutable: false,
      subtaskType: "chord",
    };
  }
}

/**
 * Makes a chord: `body` is called with the results of `header`, in order, once all finished.
 * @example
 * ```ts
 * await chord([add.s(1, 1), add.s(2, 2)], tsum.s()).applyAsync();
 * ```
 */
// deno-lint-ignore no-explicit-any
export function chord<R = any>(header: Signature[] | Group, body: Signature<R>): Chord<R> {
  return new Chord<R>(header, body);
}

registerSubtaskType("chord", (d, app) => {
  const header = fromData(toSignatureData(d.kwargs.header, "chord header"), app);
  const body = fromData(toSignatureData(d.kwargs.body, "chord body"), app);
  return new Chord(header instanceof Group ? header : [header], body, { options: d.options, app });
});
