/**
 * The Redis every Redis-backed test uses.
 *
 * `startRedis()` starts a throwaway `redis-server` on a free port with its data in
 * a temporary directory, so each test gets an empty server that nothing else
 * touches. When `VERK_TEST_REDIS_URL` is set, it uses that server instead and
 * claims a database of its own there (never `FLUSHALL`).
 *
 * `command()` speaks RESP over a short-lived raw connection, so tests can look at
 * Redis without going through the code under test (ioredis). `eventually()`
 * retries an assertion instead of sleeping.
 *
 * Everything here closes its connections and awaits its child processes, so
 * Deno's test sanitizers stay quiet; use `await using redis = await startRedis()`.
 * @module
 */

/**
 * A Redis for one test. Disposing it is the same as `stop()`.
 *
 * @example An outage test
 * ```ts
 * Deno.test({
 *   name: "the worker resumes after Redis restarts",
 *   ignore: Boolean(Deno.env.get("VERK_TEST_REDIS_URL")),
 *   async fn() {
 *     await using redis = await startRedis({ appendOnly: true });
 *     await redis.command("LPUSH", "queue:default", "{}");
 *     await redis.kill("SIGKILL");
 *     await redis.restart();
 *     assert.equal(await redis.command("LLEN", "queue:default"), 1);
 *   },
 * });
 * ```
 */
export interface TestRedis extends AsyncDisposable {
  /** `redis://127.0.0.1:<port>/<db>` (with the credentials of `VERK_TEST_REDIS_URL`, if any). */
  readonly url: string;
  /** The server's port. */
  readonly port: number;
  /** The database this test owns: 0 on a throwaway server. */
  readonly db: number;
  /**
   * True when the server is `VERK_TEST_REDIS_URL`'s (or `options.url`'s), which
   * `stop()`, `kill()` and `restart()` cannot touch. Outage tests skip then:
   * `Deno.test({ ignore: Boolean(Deno.env.get("VERK_TEST_REDIS_URL")), ... })`.
   */
  readonly external: boolean;
  /**
   * Stops redis-server (SIGTERM, waits for exit) if this helper started it, and
   * kills nothing else; removes its data directory. Safe to call twice. On an
   * external server it only flushes and releases this test's database.
   */
  stop(): Promise<void>;
  /**
   * Restarts a helper-started server on the same port and data directory (for
   * outage tests): SIGTERM if it is running, then start and wait for PING.
   * Data survives only with `appendOnly: true`. Throws on an external server.
   */
  restart(): Promise<void>;
  /**
   * Takes a helper-started server down without removing its data, as a crash
   * (`"SIGKILL"`) or a clean shutdown (`"SIGTERM"`, the default) would; waits for
   * the exit. `restart()` brings it back. Throws on an external server.
   */
  kill(signal?: "SIGTERM" | "SIGKILL"): Promise<void>;
  /**
   * Runs one command on this test's database over a short-lived raw RESP
   * connection and returns the parsed reply: simple and bulk strings as strings,
   * integers as numbers (bigint beyond 2^53), arrays as arrays, nulls as `null`,
   * error replies nested in arrays as {@link RedisReplyError}. A top-level error
   * reply rejects with a {@link RedisReplyError}; so does a connection failure
   * (with the OS error) or no reply within 30 s.
   */
  command(...args: (string | number)[]): Promise<unknown>;
}

/**
 * Options of {@link startRedis}.
 *
 * @example
 * ```ts
 * await using redis = await startRedis({ appendOnly: true });
 * ```
 */
export interface StartRedisOptions {
  /**
   * Start the throwaway server with `--appendonly yes --appendfsync always`, so
   * `restart()` (even after `kill("SIGKILL")`) keeps every acknowledged write.
   * Has no effect on an external server.
   * @default false
   */
  appendOnly?: boolean;
  /**
   * Use this server instead of starting one, as `VERK_TEST_REDIS_URL` does.
   * @default Deno.env.get("VERK_TEST_REDIS_URL")
   */
  url?: string;
}

/**
 * An error reply from Redis (`-ERR …`), or a failure to talk to it.
 *
 * @example
 * ```ts
 * await assert.rejects(redis.command("NOSUCHCOMMAND"), RedisReplyError);
 * ```
 */
export class RedisReplyError extends Error {
  /** Creates the error with Redis' text, e.g. `ERR unknown command 'X'`. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "RedisReplyError";
  }
}

const READY_TIMEOUT_MS = 10_000;
const EXIT_TIMEOUT_MS = 10_000;
const COMMAND_TIMEOUT_MS = 30_000;
const PORT_ATTEMPTS = 5;
/** How long a claim on an external server's database lasts if its holder dies. */
const CLAIM_TTL_MS = 60 * 60 * 1000;
const CLAIM_KEY_PREFIX = "verk-test-helper:db-claim:";

/**
 * Starts a Redis for one test: a throwaway `redis-server` on a free port (db 0,
 * no RDB snapshots, AOF only when `appendOnly`, data in a temporary directory),
 * or, when `VERK_TEST_REDIS_URL` (or `options.url`) is set, a database of its own
 * on that server.
 *
 * On an external server, the URL's own database holds only short claim keys
 * (`verk-test-helper:db-claim:<n>`, expiring after an hour); the helper claims
 * another database, empties it with `FLUSHDB` and hands it out. Other databases
 * and other data are never touched.
 *
 * @example
 * ```ts
 * await using redis = await startRedis();
 * await redis.command("SET", "greeting", "hi");
 * ```
 */
export async function startRedis(options: StartRedisOptions = {}): Promise<TestRedis> {
  const url = options.url ?? Deno.env.get("VERK_TEST_REDIS_URL");
  if (url !== undefined && url !== "") return await claimExternalDatabase(url);
  return await LocalRedis.start(options.appendOnly ?? false);
}

/**
 * Options of {@link eventually}.
 *
 * @example
 * ```ts
 * await eventually(() => done, { timeoutMs: 2_000, message: "job finished" });
 * ```
 */
export interface EventuallyOptions {
  /** Give up after this long, ms. @default 10_000 */
  timeoutMs?: number;
  /** Wait between attempts, ms. @default 20 */
  intervalMs?: number;
  /** What was awaited, for the error. @default "condition not met" */
  message?: string;
}

/**
 * Runs `check` until it passes, then returns its value. The check passes when it
 * neither throws nor returns `false` or `null`; so both assertion style
 * (`() => { assert.equal(x, 1); }`, which returns `undefined`) and predicate style
 * (`() => x === 1`) work, and so does a lookup (`() => redis.command("GET", k)`,
 * whose `null` means "not there yet"). After `timeoutMs` it throws an Error with
 * `message` and the last failure (as `cause` too). The check runs at least once
 * and is never run concurrently with itself; a check that never settles hangs.
 *
 * @example
 * ```ts
 * const value = await eventually(() => redis.command("GET", "result"), { message: "result written" });
 * ```
 */
export async function eventually<T>(
  check: () => T | Promise<T>,
  options: EventuallyOptions = {},
): Promise<Exclude<T, false | null>> {
  const { timeoutMs = 10_000, intervalMs = 20, message = "condition not met" } = options;
  const deadline = Date.now() + timeoutMs;
  let lastFailure: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== false && value !== null) return value as Exclude<T, false | null>;
      lastFailure = `the check returned ${value}`;
    } catch (error) {
      lastFailure = error;
    }
    const left = deadline - Date.now();
    if (left <= 0) {
      const last = lastFailure instanceof Error
        ? `${lastFailure.name}: ${lastFailure.message}`
        : String(lastFailure);
      throw new Error(`${message} within ${timeoutMs} ms; last failure: ${last}`, {
        cause: lastFailure,
      });
    }
    await sleep(Math.min(intervalMs, left));
  }
}

// ---------------------------------------------------------------------------
// Throwaway redis-server

/** A redis-server child process and its exit. */
interface Child {
  process: Deno.ChildProcess;
  status: Promise<Deno.CommandStatus>;
  exited: boolean;
}

class LocalRedis implements TestRedis {
  readonly url: string;
  readonly db = 0;
  readonly external = false;
  readonly #dir: string;
  readonly #appendOnly: boolean;
  #child: Child | undefined;
  #stopped = false;

  private constructor(readonly port: number, dir: string, appendOnly: boolean, child: Child) {
    this.url = `redis://127.0.0.1:${port}/0`;
    this.#dir = dir;
    this.#appendOnly = appendOnly;
    this.#child = child;
  }

  static async start(appendOnly: boolean): Promise<LocalRedis> {
    const dir = await Deno.makeTempDir({ prefix: "verk-test-redis-" });
    try {
      // Another process can take the free port between our probe and redis-server's
      // bind; then redis-server exits (or we reach the other server) and we retry.
      for (let attempt = 1;; attempt++) {
        const port = freePort();
        const started = await launch(port, dir, appendOnly);
        if (started.ok) return new LocalRedis(port, dir, appendOnly, started.child);
        if (!started.portTaken || attempt === PORT_ATTEMPTS) throw started.error;
      }
    } catch (error) {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      throw error;
    }
  }

  command(...args: (string | number)[]): Promise<unknown> {
    return commandOn(
      { hostname: "127.0.0.1", port: this.port, tls: false, db: 0 },
      args,
    );
  }

  async kill(signal: "SIGTERM" | "SIGKILL" = "SIGTERM"): Promise<void> {
    const child = this.#child;
    this.#child = undefined;
    if (child !== undefined) await terminate(child, signal);
  }

  async restart(): Promise<void> {
    if (this.#stopped) {
      throw new Error("restart() after stop(): the server's data directory is gone");
    }
    await this.kill("SIGTERM");
    const started = await launch(this.port, this.#dir, this.#appendOnly);
    if (!started.ok) throw started.error;
    this.#child = started.child;
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    await this.kill("SIGTERM");
    await Deno.remove(this.#dir, { recursive: true }).catch(() => {});
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }
}

type Launch =
  | { ok: true; child: Child }
  | { ok: false; portTaken: boolean; error: Error };

/** Starts redis-server on `port` and waits until it answers PING as itself. */
async function launch(port: number, dir: string, appendOnly: boolean): Promise<Launch> {
  const logFile = `${dir}/redis.log`;
  // Start each launch with an empty log so a failure reports this launch's lines only.
  await Deno.writeTextFile(logFile, "");
  let process: Deno.ChildProcess;
  try {
    process = new Deno.Command("redis-server", {
      // deno-fmt-ignore
      args: [
        "--port", String(port),
        "--bind", "127.0.0.1",
        "--save", "",
        "--appendonly", appendOnly ? "yes" : "no",
        "--appendfsync", "always",
        "--dir", dir,
        "--logfile", logFile,
        "--proto-max-bulk-len", "64mb",
        // Redis acts on SIGTERM in its cron tick: 100 Hz makes stop() take ~10 ms, not ~100.
        "--hz", "100",
        // DEBUG SLEEP lets a test make Redis stop answering (enqueue timeouts).
        "--enable-debug-command", "local",
      ],
      stdin: "null",
      stdout: "null",
      // Only startup errors (a bad flag) reach stderr; everything else goes to the log file.
      stderr: "piped",
    }).spawn();
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    throw new Error(
      "redis-server is not on PATH: install it (apt-get install redis-server) " +
        "or set VERK_TEST_REDIS_URL to a server the tests may use",
      { cause: error },
    );
  }
  const stderr = new Response(process.stderr).text().catch(() => "");
  const child: Child = {
    process,
    // Settles only once stderr is drained too, so awaiting it leaves no pending read.
    status: Promise.all([process.status, stderr]).then(([status]) => status),
    exited: false,
  };
  child.status = child.status.finally(() => child.exited = true);

  const target = { hostname: "127.0.0.1", port, tls: false, db: 0 };
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (child.exited) {
      const status = await child.status;
      const log = `${(await stderr).trim()}\n${await readLog(logFile)}`.trim();
      return {
        ok: false,
        portTaken: /address already in use/i.test(log),
        error: new Error(
          `redis-server on port ${port} exited with code ${status.code} before answering PING:\n${log}`,
        ),
      };
    }
    const replies = await sendCommands(target, [["PING"], ["INFO", "server"]], 1_000).catch(
      () => [],
    );
    if (replies[0] === "PONG" && typeof replies[1] === "string") {
      if (new RegExp(`^process_id:${process.pid}\\r?$`, "m").test(replies[1])) {
        return { ok: true, child };
      }
      // Someone else's server answers on this port: ours cannot bind it.
      await terminate(child, "SIGKILL");
      return {
        ok: false,
        portTaken: true,
        error: new Error(`port ${port} is already used by another Redis`),
      };
    }
    if (Date.now() > deadline) {
      await terminate(child, "SIGKILL");
      return {
        ok: false,
        portTaken: false,
        error: new Error(
          `redis-server on port ${port} did not answer PING within ${READY_TIMEOUT_MS} ms:\n${await readLog(
            logFile,
          )}`,
        ),
      };
    }
    await sleep(10);
  }
}

/** Sends `signal` (unless the child already exited) and waits for the exit; SIGKILL after 10 s. */
async function terminate(child: Child, signal: "SIGTERM" | "SIGKILL"): Promise<void> {
  if (child.exited) {
    await child.status;
    return;
  }
  child.process.kill(signal);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const overdue = new Promise<"overdue">((resolve) => {
    timer = setTimeout(() => resolve("overdue"), EXIT_TIMEOUT_MS);
  });
  try {
    if (await Promise.race([child.status, overdue]) === "overdue") {
      if (!child.exited) child.process.kill("SIGKILL");
      await child.status;
    }
  } finally {
    clearTimeout(timer);
  }
}

/** A TCP port that was free a moment ago (for a server a test starts). */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    return listener.addr.port;
  } finally {
    listener.close();
  }
}

async function readLog(path: string): Promise<string> {
  const text = await Deno.readTextFile(path).catch(() => "(no log)");
  return text.trimEnd().split("\n").slice(-20).join("\n");
}

// ---------------------------------------------------------------------------
// External server (VERK_TEST_REDIS_URL)

/** Where to connect and how to open a session there. */
interface Target {
  hostname: string;
  port: number;
  tls: boolean;
  db: number;
  username?: string;
  password?: string;
}

function parseTarget(text: string): Target {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error("VERK_TEST_REDIS_URL is not a URL (expected redis://host:port/db)");
  }
  if (url.protocol !== "redis:" && url.protocol !== "rediss:") {
    throw new Error(`VERK_TEST_REDIS_URL must use redis:// or rediss://, not ${url.protocol}//`);
  }
  const dbText = url.pathname.replace(/^\//, "");
  if (!/^\d*$/.test(dbText)) {
    throw new Error(`VERK_TEST_REDIS_URL has a database that is not a number: "${dbText}"`);
  }
  const target: Target = {
    hostname: url.hostname.replace(/^\[(.*)\]$/, "$1") || "127.0.0.1",
    port: url.port === "" ? 6379 : Number(url.port),
    tls: url.protocol === "rediss:",
    db: dbText === "" ? 0 : Number(dbText),
  };
  if (url.password !== "") target.password = decodeURIComponent(url.password);
  if (url.username !== "" && url.password !== "") {
    target.username = decodeURIComponent(url.username);
  } else if (url.username !== "") target.password = decodeURIComponent(url.username);
  return target;
}

async function claimExternalDatabase(urlText: string): Promise<TestRedis> {
  const home = parseTarget(urlText);
  const token = crypto.randomUUID();
  const databases = await commandOn(home, ["CONFIG", "GET", "databases"]).then(
    (reply) => Array.isArray(reply) && typeof reply[1] === "string" ? Number(reply[1]) : 16,
    () => 16, // CONFIG is often disabled on managed Redis
  );
  for (let db = 0; db < databases; db++) {
    if (db === home.db) continue;
    const claimed = await commandOn(home, [
      "SET",
      CLAIM_KEY_PREFIX + db,
      token,
      "NX",
      "PX",
      CLAIM_TTL_MS,
    ]);
    if (claimed !== "OK") continue;
    const target = { ...home, db };
    await commandOn(target, ["FLUSHDB"]);
    const url = new URL(urlText);
    url.pathname = `/${db}`;
    return new ExternalRedis(url.href, target, home, token);
  }
  throw new Error(
    `no free database on VERK_TEST_REDIS_URL: all ${
      databases - 1
    } besides ${home.db} are claimed ` +
      `(claims are the keys ${CLAIM_KEY_PREFIX}<n> in database ${home.db}; they expire after an hour)`,
  );
}

class ExternalRedis implements TestRedis {
  readonly external = true;
  readonly port: number;
  readonly db: number;
  #released = false;

  constructor(
    readonly url: string,
    private readonly target: Target,
    private readonly home: Target,
    private readonly token: string,
  ) {
    this.port = target.port;
    this.db = target.db;
  }

  command(...args: (string | number)[]): Promise<unknown> {
    return commandOn(this.target, args);
  }

  kill(): Promise<void> {
    return Promise.reject(
      new Error(
        "kill() needs a server started by the helper; this test runs on VERK_TEST_REDIS_URL",
      ),
    );
  }

  restart(): Promise<void> {
    return Promise.reject(
      new Error(
        "restart() needs a server started by the helper; this test runs on VERK_TEST_REDIS_URL",
      ),
    );
  }

  async stop(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    await commandOn(this.target, ["FLUSHDB"]);
    await commandOn(this.home, [
      "EVAL",
      "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0",
      1,
      CLAIM_KEY_PREFIX + this.db,
      this.token,
    ]);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }
}

// ---------------------------------------------------------------------------
// A tiny RESP2 client

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Runs one command after the session's AUTH/SELECT; returns its reply, rejecting on an error reply. */
async function commandOn(target: Target, args: (string | number)[]): Promise<unknown> {
  if (args.length === 0) throw new TypeError("command() needs at least a command name");
  const session: (string | number)[][] = [];
  if (target.password !== undefined) {
    session.push(
      target.username === undefined
        ? ["AUTH", target.password]
        : ["AUTH", target.username, target.password],
    );
  }
  if (target.db !== 0) session.push(["SELECT", target.db]);
  const replies = await sendCommands(target, [...session, args], COMMAND_TIMEOUT_MS);
  for (const reply of replies) {
    if (reply instanceof RedisReplyError) throw reply;
  }
  return replies.at(-1);
}

/**
 * Opens a connection, sends `commands` in one write, reads one reply per command,
 * and closes. Error replies come back as RedisReplyError values, not rejections.
 */
async function sendCommands(
  target: Target,
  commands: (string | number)[][],
  timeoutMs: number,
): Promise<unknown[]> {
  let conn: Deno.Conn;
  try {
    conn = target.tls
      ? await Deno.connectTls({ hostname: target.hostname, port: target.port })
      : await Deno.connect({ hostname: target.hostname, port: target.port });
  } catch (error) {
    throw new RedisReplyError(
      `cannot connect to Redis at ${target.hostname}:${target.port}: ${(error as Error).message}`,
      { cause: error },
    );
  }
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    conn.close(); // makes the pending read fail
  }, timeoutMs);
  try {
    await writeAll(conn, encodeCommands(commands));
    const reader = new ReplyReader(conn);
    const replies: unknown[] = [];
    for (let i = 0; i < commands.length; i++) replies.push(await reader.next());
    return replies;
  } catch (error) {
    if (!timedOut) throw error;
    throw new RedisReplyError(`Redis did not reply within ${timeoutMs} ms`, { cause: error });
  } finally {
    clearTimeout(timer);
    if (!timedOut) conn.close();
  }
}

function encodeCommands(commands: (string | number)[][]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const command of commands) {
    parts.push(encoder.encode(`*${command.length}\r\n`));
    for (const arg of command) {
      const bytes = encoder.encode(String(arg));
      parts.push(encoder.encode(`$${bytes.length}\r\n`), bytes, encoder.encode("\r\n"));
    }
  }
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let offset = 0; offset < bytes.length;) offset += await conn.write(bytes.subarray(offset));
}

/** Marks a reply that is not complete in the buffer yet. */
const INCOMPLETE = Symbol("incomplete");
type Parsed = { value: unknown; next: number } | typeof INCOMPLETE;

/** Reads replies from a connection into a growing buffer and parses them. */
class ReplyReader {
  #buffer = new Uint8Array(16 * 1024);
  #start = 0;
  #end = 0;

  constructor(readonly conn: Deno.Conn) {}

  async next(): Promise<unknown> {
    for (;;) {
      const parsed = parseReply(this.#buffer, this.#start, this.#end);
      if (parsed !== INCOMPLETE) {
        this.#start = parsed.next;
        return parsed.value;
      }
      await this.#fill();
    }
  }

  async #fill(): Promise<void> {
    if (this.#end === this.#buffer.length) {
      // Compact, and grow by doubling so a large reply costs linear copying.
      const used = this.#end - this.#start;
      const size = used * 2 > this.#buffer.length ? this.#buffer.length * 2 : this.#buffer.length;
      const next = new Uint8Array(size);
      next.set(this.#buffer.subarray(this.#start, this.#end));
      this.#buffer = next;
      this.#start = 0;
      this.#end = used;
    }
    const read = await this.conn.read(this.#buffer.subarray(this.#end));
    if (read === null) throw new RedisReplyError("Redis closed the connection before replying");
    this.#end += read;
  }
}

function parseReply(buffer: Uint8Array, start: number, end: number): Parsed {
  const lineEnd = findCrlf(buffer, start + 1, end);
  if (lineEnd === -1) return INCOMPLETE;
  const line = decoder.decode(buffer.subarray(start + 1, lineEnd));
  const afterLine = lineEnd + 2;
  switch (buffer[start]) {
    case 0x2b: // + simple string
      return { value: line, next: afterLine };
    case 0x2d: // - error
      return { value: new RedisReplyError(line), next: afterLine };
    case 0x3a: { // : integer
      const number = Number(line);
      return { value: Number.isSafeInteger(number) ? number : BigInt(line), next: afterLine };
    }
    case 0x24: { // $ bulk string
      const length = Number(line);
      if (length < 0) return { value: null, next: afterLine };
      if (afterLine + length + 2 > end) return INCOMPLETE;
      const value = decoder.decode(buffer.subarray(afterLine, afterLine + length));
      return { value, next: afterLine + length + 2 };
    }
    case 0x2a: { // * array
      const count = Number(line);
      if (count < 0) return { value: null, next: afterLine };
      const items: unknown[] = [];
      let next = afterLine;
      for (let i = 0; i < count; i++) {
        const item = parseReply(buffer, next, end);
        if (item === INCOMPLETE) return INCOMPLETE;
        items.push(item.value);
        next = item.next;
      }
      return { value: items, next };
    }
    default:
      throw new RedisReplyError(
        `unexpected RESP type byte ${buffer[start]} in reply: ${JSON.stringify(line)}`,
      );
  }
}

function findCrlf(buffer: Uint8Array, from: number, end: number): number {
  for (
    let i = buffer.indexOf(0x0d, from);
    i !== -1 && i + 1 < end;
    i = buffer.indexOf(0x0d, i + 1)
  ) {
    if (buffer[i + 1] === 0x0a) return i;
  }
  return -1;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
