/**
 * The one module that knows the Redis client (ioredis). Everything else asks
 * it for connections and runs Lua through `runScript`, so replacing the client
 * touches only this file.
 *
 * Connection settings are chosen for a job queue, not left at the client's
 * defaults:
 * - RESP2 (`protocol: 2`): reply shapes are the classic ones the scripts return.
 * - No automatic re-send of unanswered commands after a reconnect: a fetch or an
 *   enqueue sent twice could run or store a job twice. The loops reconcile
 *   instead (see queue_loop.ts).
 * - Producer connections have no offline queue, so `enqueue` fails fast while
 *   Redis is down instead of writing later, after the caller gave up.
 * @module
 */
import type { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import { Redis, type RedisOptions } from "ioredis";
import { loggerFor } from "./log.ts";
import { LUA_SOURCES, type LuaScriptName } from "./lua_scripts.ts";

const logger = loggerFor("redis");

export { Redis };
export type { RedisOptions };

/** One value sent to Redis: text, or exact bytes. */
export type RedisArg = string | number | Buffer | Uint8Array;

/** How a connection behaves while Redis is unreachable. */
export type ConnectionRole =
  /** Enqueue and admin calls: fail at once while disconnected. */
  | "producer"
  /** Loops: wait for the connection to come back. */
  | "worker";

/** Options for `connect`. */
export interface ConnectOptions {
  /** `redis://` or `rediss://` URL: user, password and `/db` are honoured. */
  url: string;
  /** Shown in `CLIENT LIST` as `verk:<name>`. */
  name: string;
  /** See `ConnectionRole`. */
  role: ConnectionRole;
  /** Producer role: how long a command may wait for its reply. */
  commandTimeout?: number;
  /** Extra ioredis options (TLS files, Sentinel …); ours win where they conflict. */
  extra?: RedisOptions;
}

/** Opens a connection (lazily: the first command or `connection.connect()` dials). */
export function connect(options: ConnectOptions): Redis {
  const connection = new Redis(options.url, {
    ...options.extra,
    lazyConnect: true,
    protocol: 2,
    connectionName: `verk:${options.name}`,
    autoResendUnfulfilledCommands: false,
    enableOfflineQueue: options.role === "worker",
    maxRetriesPerRequest: options.role === "worker" ? null : 1,
    commandTimeout: options.role === "worker" ? undefined : options.commandTimeout,
    // Reconnect forever with capped backoff; each loop logs its own outage once.
    retryStrategy: (attempt) => Math.min(50 * 2 ** Math.min(attempt, 10), 2000),
  });
  // Connection errors surface as rejected commands, which the callers log once
  // per outage; without a listener ioredis would print every reconnect attempt.
  connection.on("error", (error: Error) => {
    logger.debug("{name}: {error}", { name: options.name, error: error.message });
  });
  return connection;
}

/** Closes a connection without waiting for pending replies (they reject). */
export function disconnect(connection: Redis): void {
  connection.disconnect(false);
}

const shas = new Map<LuaScriptName, string>();
function shaOf(name: LuaScriptName): string {
  let sha = shas.get(name);
  if (sha === undefined) {
    sha = createHash("sha1").update(LUA_SOURCES[name]).digest("hex");
    shas.set(name, sha);
  }
  return sha;
}

/** The number of KEYS a script takes, from the suffix of its name (`ack_and_fetch-6`). */
export function keyCountOf(name: LuaScriptName): number {
  return Number(name.slice(name.lastIndexOf("-") + 1));
}

/**
 * Runs a script from `lua/` by its SHA, loading it when Redis answers NOSCRIPT
 * (first use, or after a Redis restart flushed the script cache). `keys` may be
 * longer than the name's count for scripts that take extra derived keys.
 * With `buffers: true` string replies come back as exact bytes.
 */
export async function runScript(
  connection: Redis,
  name: LuaScriptName,
  keys: readonly string[],
  args: readonly RedisArg[],
  buffers = false,
): Promise<unknown> {
  const argv = [shaOf(name), keys.length, ...keys, ...args] as (string | number | Buffer)[];
  const call = (): Promise<unknown> =>
    buffers ? connection.callBuffer("EVALSHA", argv) : connection.call("EVALSHA", argv);
  try {
    return await call();
  } catch (error) {
    if (!(error instanceof Error) || !error.message.startsWith("NOSCRIPT")) throw error;
    await connection.script("LOAD", LUA_SOURCES[name]);
    return await call();
  }
}

/** Whether an error came from the connection (retry later) rather than from Redis' answer. */
export function isConnectionError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error.name === "ReplyError") return /^(LOADING|BUSY|MASTERDOWN|READONLY)/.test(error.message);
  return true;
}

/** Waits in progress, per connection, so many callers share one set of listeners. */
const readiness = new WeakMap<Redis, Promise<void>>();

/**
 * Resolves once the connection is ready (dialling it when it was never used);
 * rejects at its first connection error or after `timeoutMs`, whichever comes
 * first, so callers waiting for an answer fail fast while Redis is away.
 */
export function whenReady(connection: Redis, timeoutMs: number): Promise<void> {
  if (connection.status === "ready") return Promise.resolve();
  let waiting = readiness.get(connection);
  if (waiting === undefined) {
    waiting = new Promise<void>((resolve, reject) => {
      const done = (error?: Error) => {
        clearTimeout(timer);
        connection.off("ready", onReady);
        connection.off("error", onError);
        readiness.delete(connection);
        if (error) reject(error);
        else resolve();
      };
      const onReady = () => done();
      const onError = (error: Error) => done(error);
      const timer = setTimeout(
        () => done(new Error(`not connected after ${timeoutMs} ms`)),
        timeoutMs,
      );
      connection.once("ready", onReady);
      connection.once("error", onError);
      if (connection.status === "wait") connection.connect().catch(() => {});
    });
    readiness.set(connection, waiting);
  }
  return waiting;
}

/** The values of a pipeline's or MULTI's replies; the first per-command error (WRONGTYPE …) is thrown. */
export function replyValues(replies: [Error | null, unknown][] | null): unknown[] {
  return (replies ?? []).map(([error, value]) => {
    if (error) throw error;
    return value;
  });
}
