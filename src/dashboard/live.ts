/**
 * Server-sent events to browsers: one stream per open page, fed from the dashboard's own
 * subscriptions (no browser makes the dashboard poll the broker). Task changes are coalesced
 * and sent every {@link FLUSH_MS} as one `tasks` event, so 1,000 tasks a second cost a few
 * writes per page, not thousands.
 * @module
 */

/** How often coalesced task changes go out, in milliseconds. */
export const FLUSH_MS = 150;
/** How often an idle stream gets a comment line (keeps proxies from closing it). */
export const KEEPALIVE_MS = 15_000;

const encoder = new TextEncoder();

interface Client {
  controller: ReadableStreamDefaultController<Uint8Array>;
}

/** The set of open event streams. */
export class LiveHub {
  readonly #clients = new Set<Client>();
  readonly #pending = new Map<string, unknown>();
  #timer?: ReturnType<typeof setTimeout>;
  readonly #keepalive: ReturnType<typeof setInterval>;

  constructor() {
    this.#keepalive = setInterval(() => this.#write(": keepalive\n\n"), KEEPALIVE_MS);
  }

  /** How many pages are listening. */
  get size(): number {
    return this.#clients.size;
  }

  /** A `text/event-stream` response that receives every event from now on (`hello` first). */
  response(hello: unknown): Response {
    let client: Client;
    const stream = new ReadableStream<Uint8Array>({
      start: (controller) => {
        client = { controller };
        this.#clients.add(client);
        controller.enqueue(encoder.encode(`retry: 1000\nevent: hello\ndata: ${JSON.stringify(hello)}\n\n`));
      },
      cancel: () => {
        this.#clients.delete(client);
      },
    });
    return new Response(stream, {
      headers: { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", "x-accel-buffering": "no" },
    });
  }

  /** Sends `data` as event `name` to every page now. */
  send(name: string, data: unknown): void {
    if (this.#clients.size === 0) return;
    this.#write(`event: ${name}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  /** Queues a changed task (by id; the latest summary wins) for the next `tasks` event. */
  task(id: string, summary: unknown): void {
    if (this.#clients.size === 0) return;
    this.#pending.set(id, summary);
    this.#timer ??= setTimeout(() => this.flush(), FLUSH_MS);
  }

  /** Sends the queued task changes now. */
  flush(): void {
    this.#timer = undefined;
    if (this.#pending.size === 0) return;
    const tasks = [...this.#pending.values()];
    this.#pending.clear();
    this.send("tasks", tasks);
  }

  #write(text: string): void {
    const bytes = encoder.encode(text);
    for (const c of this.#clients) {
      try {
        c.controller.enqueue(bytes);
      } catch {
        this.#clients.delete(c);
      }
    }
  }

  /** Ends every stream and stops the timers. */
  close(): void {
    clearInterval(this.#keepalive);
    if (this.#timer) clearTimeout(this.#timer);
    for (const c of this.#clients) {
      try {
        c.controller.close();
      } catch { /* already closed */ }
    }
    this.#clients.clear();
  }
}
