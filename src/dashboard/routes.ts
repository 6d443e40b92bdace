/**
 * The dashboard's HTTP surface (Hono): the page (one shell for every view), its embedded
 * assets, the JSON API of API.md "Dashboard", `/metrics`, `/healthz` and the event stream.
 * `--auth` guards every route; POSTs need the page's CSRF token in `x-taskd-csrf` and, when the
 * browser says where it comes from, the same origin.
 * @module
 */
import { Hono } from "hono";
import type { Context } from "hono";
import { basicAuth } from "hono/basic-auth";
import { HTTPException } from "hono/http-exception";
import { checkName } from "../nats/names.ts";
import { decodeBody } from "../protocol/message.ts";
import { checkTaskId } from "../protocol/result.ts";
import { deadLetters, describeDeadLetter, getDeadLetter, purgeDeadLetters, replayDeadLetter, storedHeader } from "../nats/dead_letters.ts";
import { shortRepr } from "../events/event.ts";
import { chordProgress } from "../canvas/chord_state.ts";
import type { Dashboard } from "./dashboard.ts";
import { summary } from "./index.ts";
import { prometheusText } from "./metrics.ts";
import { parseQuery, search, setField } from "./search.ts";
import { pageHtml } from "./page.ts";
import { CLIENT_JS } from "./client_js.ts";
import { STYLE_CSS } from "./style_css.ts";

/** Views the page has (each path serves the same shell; the script renders the view). */
const VIEWS = ["/", "/tasks", "/workers", "/queues", "/dead", "/schedules"];

/** The most tasks one API call returns. */
export const MAX_PAGE = 500;

function fail(c: Context, status: 400 | 403 | 404 | 501 | 503, error: string): Response {
  return c.json({ error }, status);
}

/** The broker's failure as a 503, any other error as it is thrown. */
async function withBroker<T>(c: Context, fn: () => Promise<T>): Promise<Response> {
  try {
    return c.json(await fn() as Record<string, unknown>);
  } catch (e) {
    const message = (e as Error).message ?? String(e);
    if (/broker|connection|closed|timeout|disconnect|no responders/i.test(message)) return fail(c, 503, `Cannot reach the broker: ${message}`);
    throw e;
  }
}

/** The Hono app serving `d`. */
export function routes(d: Dashboard): Hono {
  const app = new Hono();

  app.onError((e, c) => (e instanceof HTTPException ? e.getResponse() : c.json({ error: (e as Error).message }, 500)));

  if (d.options.auth) {
    const i = d.options.auth.indexOf(":");
    app.use("*", basicAuth({ username: d.options.auth.slice(0, i), password: d.options.auth.slice(i + 1), realm: "taskd dashboard" }));
  }

  app.use("*", async (c, next) => {
    if (c.req.method !== "POST") return await next();
    const origin = c.req.header("origin");
    if (origin && origin !== "null") {
      let host: string | undefined;
      try {
        host = new URL(origin).host;
      } catch { /* unreadable origin */ }
      if (host !== c.req.header("host")) return fail(c, 403, "Cannot accept this request: it comes from another site");
    }
    if (c.req.header("x-taskd-csrf") !== d.csrfToken) {
      return fail(c, 403, "Cannot accept this request: send the CSRF token (GET /api/csrf) in the x-taskd-csrf header");
    }
    await next();
  });

  // The page and its assets (embedded in the binary as strings).
  const shell = (c: Context) => c.html(pageHtml(d.csrfToken, d.app.names.prefix));
  for (const v of VIEWS) app.get(v, shell);
  app.get("/tasks/:id", shell);
  app.get("/assets/app.js", (c) => c.body(CLIENT_JS, 200, { "content-type": "text/javascript; charset=utf-8", "cache-control": "no-cache" }));
  app.get("/assets/app.css", (c) => c.body(STYLE_CSS, 200, { "content-type": "text/css; charset=utf-8", "cache-control": "no-cache" }));

  app.get("/healthz", (c) => {
    const body = { ok: d.brokerUp, broker: d.brokerUp ? "up" : "down", error: d.brokerError || undefined, replayed: d.replayed, indexed: d.index.size };
    return c.json(body, d.brokerUp ? 200 : 503);
  });

  app.get("/metrics", async (c) => {
    let queues: Record<string, number> = {};
    if (d.brokerUp) {
      try {
        queues = Object.fromEntries((await d.queues.read()).queues.map((q) => [q.name, q.pending]));
      } catch { /* shown as broker down */ }
    }
    const text = prometheusText(d.index.metrics, { queues, workers: d.workers.aliveCount(), brokerUp: d.brokerUp, indexed: d.index.size });
    return c.body(text, 200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" });
  });

  app.get("/api/csrf", (c) => c.json({ token: d.csrfToken }));

  app.get("/api/events", () => d.live.response({ broker: { up: d.brokerUp, error: d.brokerError }, replayed: d.replayed, indexed: d.index.size, csrf: d.csrfToken }));

  app.get("/api/overview", (c) => {
    const seconds = Math.min(600, Math.max(10, Number(c.req.query("seconds") ?? 300) || 300));
    const totals: Record<string, Record<string, number>> = {};
    for (const [task, byState] of d.index.metrics.totals) totals[task] = Object.fromEntries(byState);
    return c.json({
      broker: { up: d.brokerUp, error: d.brokerError },
      replayed: d.replayed,
      indexed: d.index.size,
      states: d.index.states(),
      totals,
      series: d.index.metrics.series(seconds),
      workers: d.workers.aliveCount(),
    });
  });

  app.get("/api/tasks", (c) => {
    const q = parseQuery(c.req.query("q") ?? "");
    for (const key of ["state", "name", "worker", "id", "queue", "group", "args", "kwargs", "result", "error", "after", "before"]) {
      const v = c.req.query(key);
      if (v) setField(q, key, v);
    }
    const limit = Math.min(MAX_PAGE, Math.max(1, Number(c.req.query("limit") ?? 50) || 50));
    const offset = Math.max(0, Number(c.req.query("offset") ?? 0) || 0);
    const page = search(d.index, q, limit, offset);
    return c.json({ ...page, tasks: page.tasks.map(summary), indexed: d.index.size });
  });

  app.get("/api/tasks/:id", async (c) => {
    const id = c.req.param("id");
    try {
      checkTaskId(id);
    } catch (e) {
      return fail(c, 404, `Cannot find task '${id}': ${(e as Error).message}`);
    }
    const r = d.index.get(id);
    let stored = null;
    if (d.brokerUp) stored = await d.app.backend.get(id).catch(() => null);
    if (!r && !stored) return fail(c, 404, `Cannot find task '${id}': it is not in the history or the result store`);
    const children = new Set<string>(stored?.children ?? []);
    const group: string[] = [];
    if (r) {
      for (const t of d.index.newestFirst()) {
        if (t.parentId === id) children.add(t.id);
        if (r.groupId && t.groupId === r.groupId) group.push(t.id);
      }
    }
    return c.json({
      task: r ? { ...summary(r), attempts: r.attempts } : { id, state: stored!.status, retries: stored!.retries ?? 0, attempts: [] },
      stored: stored && {
        state: stored.status,
        result: shortRepr(stored.result, 20_000),
        traceback: stored.traceback,
        dateDone: stored.dateDone,
        worker: stored.worker,
        retries: stored.retries,
      },
      children: [...children].map((cid) => {
        const t = d.index.get(cid);
        return t ? summary(t) : { id: cid };
      }),
      group: group.reverse().map((gid) => summary(d.index.get(gid)!)),
    });
  });

  // A chord's progress, read from the canvas bucket (what `taskd inspect chord <id> --json` prints).
  app.get("/api/chords/:id", async (c) => {
    const id = c.req.param("id");
    try {
      checkTaskId(id);
    } catch (e) {
      return fail(c, 404, `Cannot find chord '${id}': ${(e as Error).message}`);
    }
    let found = false;
    const res = await withBroker(c, async () => {
      const p = await chordProgress(d.app, id);
      found = p !== null;
      return p ?? {};
    });
    return res.status === 200 && !found ? fail(c, 404, `Cannot find chord '${id}': it was never applied, or its entries expired (resultExpires)`) : res;
  });

  app.post("/api/tasks/:id/revoke", async (c) => {
    const id = c.req.param("id");
    try {
      checkTaskId(id);
    } catch (e) {
      return fail(c, 404, `Cannot revoke task '${id}': ${(e as Error).message}`);
    }
    const body = await c.req.json().catch(() => ({})) as { terminate?: boolean };
    return withBroker(c, async () => {
      await d.broker();
      const replies = await d.app.control.revoke(id, { terminate: body.terminate === true });
      const terminated = replies.flatMap((r) => Object.values(r)).some((r) => ((r as { terminated?: string[] })?.terminated ?? []).includes(id));
      return { ok: true, id, terminate: body.terminate === true, terminated };
    });
  });

  app.get("/api/workers", (c) =>
    withBroker(c, async () => {
      if (d.brokerUp) await d.workers.inspect();
      return { workers: d.workers.list() };
    }));

  app.post("/api/workers/:name/rate_limit", async (c) => {
    const name = c.req.param("name");
    const body = await c.req.json().catch(() => ({})) as { task?: string; rate?: string | number | null };
    if (typeof body.task !== "string" || !body.task) return fail(c, 400, "Cannot set a rate limit: give {\"task\": name, \"rate\": \"10/m\"}");
    try {
      return await withBroker(c, async () => {
        await d.broker();
        const replies = await d.app.control.rateLimit(body.task!, body.rate ?? null, { destination: name });
        d.workers.invalidate();
        if (replies.length === 0) throw Object.assign(new Error(`worker '${name}' did not answer`), { notFound: true });
        return { ok: true, replies };
      });
    } catch (e) {
      if ((e as { notFound?: boolean }).notFound) return fail(c, 404, `Cannot set a rate limit: ${(e as Error).message}`);
      return fail(c, 400, `Cannot set a rate limit: ${(e as Error).message}`);
    }
  });

  app.post("/api/workers/:name/shutdown", (c) =>
    withBroker(c, async () => {
      await d.broker();
      const replies = await d.app.control.shutdown({ destination: c.req.param("name") });
      return { ok: true, replies };
    }));

  app.get("/api/queues", (c) => withBroker(c, () => d.queuesView(true)));
  app.post("/api/queues/:queue/:action{pause|resume}", (c) => {
    const queue = c.req.param("queue");
    const pause = c.req.param("action") === "pause";
    try {
      checkName("queue", queue);
    } catch (e) {
      return fail(c, 400, (e as Error).message);
    }
    return withBroker(c, async () => {
      if (pause) await d.app.control.pauseQueue(queue, { reason: "paused from the dashboard" });
      else await d.app.control.resumeQueue(queue);
      d.queues.forget();
      return { queue, paused: pause };
    });
  });

  app.get("/api/dead", (c) => {
    const queue = c.req.query("queue") || undefined;
    if (queue !== undefined) {
      try {
        checkName("queue", queue);
      } catch (e) {
        return fail(c, 400, (e as Error).message);
      }
    }
    const limit = Math.min(MAX_PAGE, Math.max(1, Number(c.req.query("limit") ?? 100) || 100));
    return withBroker(c, async () => {
      const broker = await d.broker();
      const out = [];
      for await (const m of deadLetters(broker, queue, limit, true)) out.push(describeDeadLetter(m, broker.names.prefix));
      const info = await (await broker.jsm()).streams.info(broker.names.deadStream).catch(() => null);
      return { dead: out, total: info?.state.messages ?? 0 };
    });
  });

  app.get("/api/dead/:seq{[0-9]+}", async (c) => {
    const seq = Number(c.req.param("seq"));
    const broker = await d.broker().catch(() => null);
    if (!broker) return fail(c, 503, `Cannot reach the broker: ${d.brokerError}`);
    const m = await getDeadLetter(broker, seq);
    if (!m) return fail(c, 404, `Cannot find dead letter ${seq}`);
    const headers: Record<string, string> = {};
    for (const [k, v] of m.header ?? []) headers[k] = v[0];
    let args: unknown, kwargs: unknown, error: string | undefined;
    try {
      const b = decodeBody((k) => storedHeader(m, k), m.data);
      args = shortRepr(b.args, 10_000);
      kwargs = shortRepr(b.kwargs, 10_000);
    } catch (e) {
      error = (e as Error).message;
    }
    return c.json({ ...describeDeadLetter(m, broker.names.prefix), headers, args, kwargs, error });
  });

  app.post("/api/dead/:seq{[0-9]+}/retry", async (c) => {
    const seq = Number(c.req.param("seq"));
    const broker = await d.broker().catch(() => null);
    if (!broker) return fail(c, 503, `Cannot reach the broker: ${d.brokerError}`);
    const m = await getDeadLetter(broker, seq);
    if (!m) return fail(c, 404, `Cannot find dead letter ${seq}`);
    const queue = await replayDeadLetter(broker, m);
    return c.json({ ok: true, seq, queue });
  });

  app.post("/api/dead/retry", (c) =>
    withBroker(c, async () => {
      const broker = await d.broker();
      const queue = c.req.query("queue") || undefined;
      if (queue) checkName("queue", queue);
      const all = [];
      for await (const m of deadLetters(broker, queue)) all.push(m);
      for (const m of all) await replayDeadLetter(broker, m);
      return { ok: true, retried: all.length };
    }));

  app.post("/api/dead/purge", (c) =>
    withBroker(c, async () => {
      const broker = await d.broker();
      const queue = c.req.query("queue") || undefined;
      if (queue) checkName("queue", queue);
      return { ok: true, purged: await purgeDeadLetters(broker, queue) };
    }));

  app.get("/api/schedules", (c) =>
    withBroker(c, async () => ({
      available: true,
      schedules: (await d.app.schedules.list()).map((x) => ({
        name: x.id,
        task: x.task,
        schedule: x.rule,
        nextRun: x.next?.toISOString() ?? null,
        lastRun: x.lastRun?.toISOString() ?? null,
        lastTaskId: x.lastTaskId,
        paused: x.paused,
        origin: x.origin,
      })),
    })));

  app.notFound((c) => {
    if (c.req.path.startsWith("/api/")) return fail(c, 404, `Cannot find ${c.req.method} ${c.req.path}: see docs/dashboard.md for the API`);
    return c.html("<!doctype html><title>Not found</title><p>Not found. <a href=\"/\">Overview</a></p>", 404);
  });

  return app;
}
