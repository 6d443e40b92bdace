/**
 * `taskd events [--json]`: print the app's task and worker events live, one line each (colour
 * only on a TTY), or one JSON object per line for machines. Stops on SIGINT/SIGTERM. While it
 * listens it holds an events lease, so workers send task events.
 * @module
 */
import process from "node:process";
import { EventReceiver } from "../../events/receiver.ts";
import { formatEvent } from "../../events/format.ts";
import { type BrokerFlags, cliApp } from "../broker.ts";

/** Options of `taskd events`. */
export interface EventsFlags extends BrokerFlags {
  json?: boolean;
  heartbeats?: boolean;
}

/** Runs `taskd events` until it is interrupted. */
export async function eventsCommand(flags: EventsFlags): Promise<void> {
  const app = cliApp(flags);
  // The receiver holds an events lease: workers send task events while someone listens.
  const events = await EventReceiver.open(app);
  const color = Boolean(process.stdout.isTTY) && !process.env.NO_COLOR;
  const stop = () => events.close();
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  process.stderr.write(`taskd events: listening on ${app.names.eventsSubject}.> (Ctrl-C to stop)\n`);
  try {
    for await (const e of events) {
      if (e.type === "worker-heartbeat" && !flags.heartbeats && !flags.json) continue;
      process.stdout.write((flags.json ? JSON.stringify(e) : formatEvent(e, color)) + "\n");
    }
  } finally {
    await app.close();
  }
}
