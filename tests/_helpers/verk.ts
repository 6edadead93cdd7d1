/**
 * Test helpers for engine tests: a Verk on the test Redis with fast timers, a
 * plain connection for looking at keys, and a recorder for job runs.
 */
import { Redis } from "ioredis";
import { Verk, type VerkInit, type WorkerRegistry } from "../../mod.ts";

/** Fast timers so tests finish quickly; tests override what they exercise. */
export const FAST = {
  heartbeat: 500,
  pollInterval: 100,
  shutdownTimeout: 2_000,
  startJobLogLevel: "debug",
  doneJobLogLevel: "debug",
  failJobLogLevel: "debug",
} as const;

/** A Verk on `url` with fast timers. */
export function testVerk<W extends WorkerRegistry>(url: string, init: VerkInit<W> = {}): Verk<W> {
  return new Verk<W>({ ...FAST, redisUrl: url, ...init });
}

/** A plain connection for assertions; close it with `await using`. */
export function inspector(url: string): Redis & AsyncDisposable {
  const redis = new Redis(url, { protocol: 2, lazyConnect: false }) as Redis & AsyncDisposable;
  redis.on("error", () => {}); // outage tests stop Redis under it; commands still reject
  redis[Symbol.asyncDispose] = async () => {
    await redis.quit().catch(() => redis.disconnect());
  };
  return redis;
}

/** A promise with its resolver, for waiting on an event in a test. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => resolve = r);
  return { promise, resolve };
}
