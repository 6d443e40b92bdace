/**
 * The runtime seam: the only place that names `Bun` or `Deno`. Everything else in taskd is
 * runtime-neutral and uses `node:` built-ins, which both runtimes provide.
 * @module
 */
import { existsSync } from "node:fs";

/** What taskd needs from the runtime it runs on. */
export interface Runtime {
  /** Which runtime this is. */
  readonly name: "bun" | "deno" | "node";
  /** Its version, for `--version` and worker stats. */
  readonly version: string;
  /**
   * Makes `import … from name` inside modules loaded later resolve to the given, already
   * loaded module namespaces, whatever the importer's node_modules holds. Needed in the
   * compiled Bun binary, whose user modules would otherwise get a second copy of `taskd` from
   * their node_modules (or none); every other bare import resolves as Bun resolves it. Under
   * Deno and Node the package manager resolves the names. Returns whether it aliased them.
   */
  aliasModules(modules: Record<string, Record<string, unknown>>): boolean;
  /**
   * The URL a `new Worker(…)` loads for the thread entry at `srcPath` (relative to the folder
   * of the binary's entry points, src/cli/),
   * given the URL it has when running from source. A compiled Bun binary embeds the entry
   * (the Makefile names it) under `$bunfs/root/`, where `import.meta.url` no longer points.
   */
  threadUrl(sourceUrl: URL, srcPath: string): string;
  /**
   * Serves HTTP with `fetch` on `hostname:port` (port 0: any free port) and resolves once it
   * listens. Long-lived responses (server-sent events) are not cut by an idle timeout.
   */
  serve(fetch: (req: Request) => Response | Promise<Response>, options: ServeOptions): Promise<HttpServer>;
}

/** Where {@link Runtime.serve} listens. */
export interface ServeOptions {
  /** The interface, e.g. `127.0.0.1`. */
  hostname: string;
  /** The TCP port; 0 picks a free one. */
  port: number;
}

/** A listening HTTP server. */
export interface HttpServer {
  /** The port it listens on. */
  readonly port: number;
  /** Stops listening and closes open connections. */
  stop(): Promise<void>;
}

function noServe(): Promise<HttpServer> {
  return Promise.reject(new Error("Cannot serve HTTP on this runtime: run taskd on Bun or Deno"));
}

function threadUrlFor(sourceUrl: URL, srcPath: string): string {
  // Inside `bun build --compile`, every module's import.meta.url is the binary's own (this
  // one's too), so the entry's source URL no longer points at it.
  const here = import.meta.url;
  if (here.includes("/$bunfs/") || here.includes("%24bunfs")) return `file:///$bunfs/root/${srcPath}`;
  return builtThreadUrl(sourceUrl, srcPath) ?? sourceUrl.href;
}

/**
 * In the npm package's built JavaScript (dist/lib, `make lib`), this module and the code that
 * starts threads sit in chunks at the top of dist/lib, and the thread entry is
 * dist/lib/src/cli/<srcPath> as `.js`. Undefined when `sourceUrl` names a file that exists
 * (running from source).
 */
function builtThreadUrl(sourceUrl: URL, srcPath: string): string | undefined {
  if (sourceUrl.protocol !== "file:" || existsSync(sourceUrl)) return undefined;
  const built = new URL(`./src/cli/${srcPath.replace(/\.ts$/, ".js")}`, import.meta.url);
  return existsSync(built) ? built.href : undefined;
}

// deno-lint-ignore no-explicit-any
const g = globalThis as any;

function detect(): Runtime {
  if (g.Bun) {
    return {
      name: "bun",
      version: g.Bun.version,
      threadUrl: threadUrlFor,
      serve(fetch, { hostname, port }) {
        // idleTimeout 0: an event stream may stay quiet longer than Bun's default 10 s.
        const server = g.Bun.serve({ hostname, port, fetch, idleTimeout: 0 });
        return Promise.resolve({ port: server.port, stop: async () => void (await server.stop(true)) });
      },
      aliasModules(modules) {
        g.Bun.plugin({
          name: "taskd-aliases",
          // deno-lint-ignore no-explicit-any
          setup(build: any) {
            for (const [name, exports] of Object.entries(modules)) {
              build.module(name, () => ({ exports: { ...exports }, loader: "object" }));
            }
          },
        });
        return true;
      },
    };
  }
  if (g.Deno) {
    return {
      name: "deno",
      version: g.Deno.version.deno,
      aliasModules: () => false,
      threadUrl: threadUrlFor,
      serve(fetch, { hostname, port }) {
        return new Promise((resolve) => {
          const ac = new AbortController();
          const server = g.Deno.serve({ hostname, port, signal: ac.signal, onListen: (addr: { port: number }) => resolve({ port: addr.port, stop: async () => {
            ac.abort();
            await server.finished.catch(() => {});
          } }) }, fetch);
        });
      },
    };
  }
  return { name: "node", version: g.process?.versions?.node ?? "?", aliasModules: () => false, threadUrl: threadUrlFor, serve: noServe };
}

/** The runtime taskd is running on. */
export const runtime: Runtime = detect();
