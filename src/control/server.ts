/**
 * The worker's side of remote control: one subscription on `<prefix>.control.>` that answers
 * inspect and control commands for a {@link ControlTarget}. A bad request gets an error reply;
 * nothing a caller sends can crash the worker.
 * @module
 */
import type { Msg, NatsConnection, Subscription } from "@nats-io/nats-core";
import { getLogger } from "../log/logger.ts";
import type { ControlRequest, ControlTarget } from "./protocol.ts";

const log = getLogger("taskd.control");

/** Answers control requests for one worker. */
export class ControlServer {
  #sub?: Subscription;

  constructor(readonly nc: NatsConnection, readonly subjectPrefix: string, readonly target: ControlTarget) {}

  /** Subscribes; resolves once the server has the subscription. */
  async start(): Promise<void> {
    this.#sub = this.nc.subscribe(`${this.subjectPrefix}.>`, { callback: (err, m) => err ? undefined : this.#handle(m) });
    await this.nc.flush();
  }

  #handle(m: Msg): void {
    const command = m.subject.slice(this.subjectPrefix.length + 1);
    let req: ControlRequest = {};
    try {
      if (m.data.length > 0) req = m.json<ControlRequest>() ?? {};
    } catch {
      return this.#reply(m, { error: "Cannot read the control request: its body is not JSON" });
    }
    if (Array.isArray(req.destination) && !req.destination.includes(this.target.hostname)) return;
    let reply: unknown;
    try {
      reply = this.#answer(command, req.arguments ?? {});
    } catch (e) {
      reply = { error: (e as Error)?.message ?? String(e) };
    }
    this.#reply(m, reply);
    if (command === "shutdown") {
      log.warn(`shutdown requested by remote control`);
      setTimeout(() => this.target.shutdown(), 10);
    }
  }

  #answer(command: string, args: Record<string, unknown>): unknown {
    const t = this.target;
    switch (command) {
      case "ping":
        return { ok: "pong" };
      case "registered":
        return t.inspectRegistered();
      case "active":
        return t.inspectActive();
      case "reserved":
        return t.inspectReserved();
      case "scheduled":
        // Delayed tasks wait on the server (the delayed stream), never in a worker's memory.
        return [];
      case "stats":
        return t.inspectStats();
      case "revoked":
        return t.inspectRevoked();
      case "revoke": {
        const ids = [args.taskId ?? args.id].flat().filter((x): x is string => typeof x === "string");
        if (ids.length === 0) throw new TypeError("Cannot revoke: give taskId");
        const stopped = t.revoke(ids, Boolean(args.terminate));
        return { ok: `tasks ${ids.join(", ")} flagged as revoked${stopped.length ? `; terminated ${stopped.join(", ")}` : ""}`, terminated: stopped };
      }
      case "rate_limit": {
        const task = String(args.taskName ?? "");
        const rate = args.rateLimit as string | number | null;
        t.setRateLimit(task, rate);
        return { ok: rate ? `new rate limit set successfully` : `rate limit disabled successfully` };
      }
      case "shutdown":
        return { ok: "shutting down" };
      case "enable_events":
        t.enableEvents();
        return { ok: "task events enabled" };
      case "disable_events":
        // A listener's lease keeps them on (src/events/listeners.ts): say so rather than pretend.
        return { ok: t.disableEvents() ? "task events stay on while a listener holds a lease" : "task events disabled" };
      default:
        throw new TypeError(`Cannot run control command '${command}': unknown; use ping, registered, active, reserved, scheduled, stats, revoked, revoke, rate_limit, enable_events, disable_events or shutdown`);
    }
  }

  #reply(m: Msg, body: unknown): void {
    if (!m.reply) return;
    try {
      m.respond(JSON.stringify({ [this.target.hostname]: body }));
    } catch (e) {
      log.warn(`could not answer a control request: ${(e as Error).message}`);
    }
  }

  /** Stops answering. */
  stop(): void {
    this.#sub?.unsubscribe();
  }
}
