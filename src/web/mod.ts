/**
 * Verk Web: a dashboard to watch and operate queues, as one fetch handler
 * `(Request) => Promise<Response>` over the admin API.
 *
 * Pages: Overview (totals and a live chart of jobs per second across all
 * nodes), Queues (status, pause and resume, the jobs of each), Busy (nodes,
 * Sidekiq processes and the jobs running on them), Retries, Scheduled and
 * Dead (select jobs to run now, delete or kill; all at once after a
 * confirmation) and each job in full. Server-rendered HTML with inline CSS and
 * a little script; no build step, no CDN.
 *
 * Safe by default: `serveWeb` binds 127.0.0.1; optional basic auth or a token;
 * only POST changes state, and every POST carries a CSRF token; every job field
 * is escaped; `readOnly` hides every action and refuses POSTs.
 *
 * Run it alone with `deno run --allow-net --allow-env jsr:@verk/verk/web`
 * (see `serveWeb` for the `VERK_WEB_*` variables), or mount the handler in an
 * application under a path.
 *
 * @example Mount under /verk in a Deno.serve application
 * ```ts
 * import { createWebHandler } from "@verk/verk/web";
 * const verkWeb = createWebHandler({ redisUrl: "redis://127.0.0.1:6379", basePath: "/verk" });
 * Deno.serve({ hostname: "127.0.0.1", port: 8000 }, (request) => {
 *   const { pathname } = new URL(request.url);
 *   if (pathname === "/verk" || pathname.startsWith("/verk/")) return verkWeb(request);
 *   return new Response("my app");
 * });
 * ```
 * @module
 */
import { Admin } from "../admin/admin.ts";
import { ConfigError } from "../errors.ts";
import { Verk } from "../verk.ts";
import { WebApp } from "./app.ts";
import { Live } from "./live.ts";
import { Guard, type WebAuth } from "./security.ts";
import { main } from "./serve.ts";

export type { WebAuth };

/**
 * Options of `createWebHandler`.
 *
 * @example
 * ```ts
 * import type { WebOptions } from "@verk/verk/web";
 * const options: WebOptions = {
 *   redisUrl: "redis://127.0.0.1:6379/0",
 *   basePath: "/admin/verk",
 *   auth: { username: "ops", password: "a long secret" },
 * };
 * ```
 */
export interface WebOptions {
  /**
   * The Redis the dashboard shows and acts on.
   * @default "redis://127.0.0.1:6379"
   */
  redisUrl?: string;
  /**
   * The path prefix the handler is mounted under (`/verk`): links and
   * cookies use it, and other paths get 404.
   * @default ""
   */
  basePath?: string;
  /** Who may use the dashboard; anyone who can reach it when omitted. */
  auth?: WebAuth;
  /** Show everything, change nothing: no buttons, and POSTs get 403. @default false */
  readOnly?: boolean;
  /**
   * Key of the HMACs behind CSRF tokens and token sign-in cookies. Give the
   * same value to every instance behind one load balancer; random per process
   * otherwise (a restart then asks for a reload or a new sign-in).
   */
  secret?: string;
  /** How long (ms) a page waits for Redis before answering 503. @default 5_000 */
  timeout?: number;
  /** The dead set's limits applied by "Kill" (as on your nodes). @default 10_000 */
  maxDeadJobs?: number;
  /** The dead set's age limit (ms) applied by "Kill". @default 15_552_000_000 (180 days) */
  deadTimeout?: number;
  /** Extra ioredis options (TLS files, Sentinel …), as for `Verk` and `Admin`. */
  redisOptions?: Readonly<Record<string, unknown>>;
}

/**
 * The dashboard's fetch handler. Call `close()` (or `await using`) to end the
 * live streams and close its Redis connections.
 *
 * @example
 * ```ts
 * import { createWebHandler } from "@verk/verk/web";
 * await using handler = createWebHandler({ readOnly: true });
 * const response = await handler(new Request("http://localhost/queues"));
 * console.log(response.status);
 * ```
 */
export interface WebHandler extends AsyncDisposable {
  /** Answers one request. */
  (request: Request): Promise<Response>;
  /** Ends the live streams and closes the Redis connections. */
  close(): Promise<void>;
}

/**
 * Creates the dashboard as a fetch handler: give it to `Deno.serve`, or call it
 * from your application's routes for paths under `basePath`. Validates the
 * options (throws `ConfigError` naming the option); connects to Redis on the
 * first request.
 *
 * With Hono: `app.all("/verk/*", (c) => handler(c.req.raw))` with
 * `basePath: "/verk"` (the handler needs the full path, so not `app.mount`).
 *
 * @example Serve it alone, read-only, behind basic auth
 * ```ts
 * import { createWebHandler } from "@verk/verk/web";
 * const handler = createWebHandler({
 *   redisUrl: "redis://127.0.0.1:6379",
 *   readOnly: true,
 *   auth: { username: "ops", password: Deno.env.get("VERK_WEB_PASSWORD") ?? "change me" },
 * });
 * Deno.serve({ hostname: "127.0.0.1", port: 9292 }, handler);
 * ```
 */
export function createWebHandler(options: WebOptions = {}): WebHandler {
  const base = checkBasePath(options.basePath ?? "");
  checkAuth(options.auth);
  if (
    options.secret !== undefined &&
    (typeof options.secret !== "string" || options.secret.length < 16)
  ) {
    throw new ConfigError("secret", "must be a string of at least 16 characters");
  }
  const redisUrl = options.redisUrl ?? "redis://127.0.0.1:6379";
  const { timeout, maxDeadJobs, deadTimeout, redisOptions } = options;
  const admin = new Admin({ redisUrl, timeout, maxDeadJobs, deadTimeout, redisOptions });
  let producer: Verk | undefined;
  const live = new Live({
    totals: () => admin.stats.totals(),
    summary: () => admin.stats.summary(),
  });
  const app = new WebApp({
    admin,
    live,
    guard: new Guard(options.auth, options.secret, base),
    // Pausing is the engine's write (verk:paused): a producer Verk, which runs no queue, does it.
    pause: async (queue, paused) => {
      producer ??= new Verk({ redisUrl, disabled: true, enqueueTimeout: timeout, redisOptions });
      await (paused ? producer.pauseQueue(queue) : producer.resumeQueue(queue));
    },
    base,
    readOnly: options.readOnly ?? false,
    redis: redactUrl(redisUrl),
  });
  let closing: Promise<void> | undefined;
  const close = () =>
    closing ??= (async () => {
      await live.close();
      await producer?.stop();
      await admin.close();
    })();
  return Object.assign((request: Request) => app.handle(request), {
    close,
    [Symbol.asyncDispose]: close,
  });
}

/**
 * Options of `serveWeb`: the handler's, and where to listen.
 *
 * @example
 * ```ts
 * import type { ServeWebOptions } from "@verk/verk/web";
 * const options: ServeWebOptions = { port: 9292, readOnly: true };
 * ```
 */
export interface ServeWebOptions extends WebOptions {
  /** The address to listen on. Anything but loopback wants `auth`. @default "127.0.0.1" */
  hostname?: string;
  /** The port. @default 9292 */
  port?: number;
  /** Stops the server (and closes the handler) when aborted. */
  signal?: AbortSignal;
  /** Called once listening (default: prints the address). */
  onListen?: (address: Deno.NetAddr) => void;
}

/**
 * Serves the dashboard with `Deno.serve`, on 127.0.0.1:9292 by default. The
 * handler is closed when the server finishes. Run as a program
 * (`deno run --allow-net --allow-env jsr:@verk/verk/web`), this module calls it
 * with `VERK_REDIS_URL`, `VERK_WEB_HOST`, `VERK_WEB_PORT`, `VERK_WEB_BASE_PATH`,
 * `VERK_WEB_USERNAME` + `VERK_WEB_PASSWORD` or `VERK_WEB_TOKEN`,
 * `VERK_WEB_READ_ONLY=true` and `VERK_WEB_SECRET`.
 *
 * @example
 * ```ts
 * import { serveWeb } from "@verk/verk/web";
 * const controller = new AbortController();
 * const server = serveWeb({ port: 9292, signal: controller.signal });
 * controller.abort();
 * await server.finished;
 * ```
 */
export function serveWeb(options: ServeWebOptions = {}): Deno.HttpServer<Deno.NetAddr> {
  const { hostname = "127.0.0.1", port = 9292, signal, onListen, ...web } = options;
  const handler = createWebHandler(web);
  const server = Deno.serve({
    hostname,
    port,
    signal,
    onListen: onListen ?? ((address) => {
      console.log(`Verk Web on http://${address.hostname}:${address.port}${web.basePath ?? ""}/`);
    }),
  }, handler);
  server.finished.finally(() => handler.close());
  return server;
}

function checkBasePath(path: string): string {
  const trimmed = typeof path === "string" ? path.replace(/\/+$/, "") : path;
  if (typeof trimmed !== "string" || !/^(\/[A-Za-z0-9._~!$&'()*+,;=:@%-]+)*$/.test(trimmed)) {
    throw new ConfigError(
      "basePath",
      `must be "" or a path like "/verk": got ${JSON.stringify(path)}`,
    );
  }
  return trimmed;
}

function checkAuth(auth: WebAuth | undefined): void {
  if (auth === undefined || typeof auth === "function") return;
  const blank = (value: unknown) => typeof value !== "string" || value === "";
  if (typeof auth !== "object" || auth === null) {
    throw new ConfigError("auth", "must be { username, password }, { token } or a function");
  }
  if ("token" in auth) {
    if (blank(auth.token)) throw new ConfigError("auth", "token must be a non-empty string");
  } else if (blank(auth.username) || blank(auth.password)) {
    throw new ConfigError("auth", "username and password must be non-empty strings");
  }
}

/** The URL without its credentials, for the header. */
function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.username = "";
    parsed.password = "";
    return parsed.href;
  } catch {
    return "";
  }
}

if (import.meta.main) await main(serveWeb);
