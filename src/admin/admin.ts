/**
 * The admin facade: one connection, and the views an operator needs to inspect
 * and repair a Verk (or Sidekiq) Redis from any process, without starting any
 * queue. The engine never imports this directory.
 * @module
 */
import { type Config, resolveConfig } from "../config.ts";
import { AdminError, ConfigError } from "../errors.ts";
import { connect, disconnect, type Redis, type RedisOptions } from "../redis.ts";
import { JobSet, type JobSetName } from "./job_sets.ts";
import { AdminNodes } from "./nodes.ts";
import { AdminQueues } from "./queues.ts";
import { AdminStats } from "./stats.ts";

/**
 * Options of `new Admin(...)`.
 *
 * @example
 * ```ts
 * import type { AdminOptions } from "@verk/verk";
 * const options: AdminOptions = { redisUrl: "redis://127.0.0.1:6379/0", timeout: 2_000 };
 * ```
 */
export interface AdminOptions {
  /**
   * Redis to connect to: `redis://` or `rediss://`, with optional
   * `user:password@` and `/db`.
   * @default "redis://127.0.0.1:6379"
   */
  redisUrl?: string;
  /**
   * How long (ms) a call waits for Redis (to connect, then for each reply)
   * before it fails with `RedisUnavailableError`.
   * @default 5_000
   */
  timeout?: number;
  /** Dead set size kept when `kill` adds to it (as the nodes' option). @default 10_000 */
  maxDeadJobs?: number;
  /** Dead set age limit (ms) applied when `kill` adds to it. @default 15_552_000_000 (180 days) */
  deadTimeout?: number;
  /** Extra ioredis options (TLS files, Sentinel …), as for `Verk`. */
  redisOptions?: Readonly<Record<string, unknown>>;
}

/**
 * Inspect and repair queues, retries, scheduled and dead jobs, nodes and stats.
 * Works from any process with a Redis URL; it connects on the first call and
 * never starts a queue. Close it with `close()` or `await using`.
 *
 * Moves are atomic and happen only if the job is still where it was found, so
 * two operators (or the scheduler) acting on the same job move it once.
 *
 * @example Look around, then retry the dead jobs
 * ```ts
 * import { Admin } from "@verk/verk";
 * await using admin = new Admin({ redisUrl: "redis://127.0.0.1:6379/0" });
 * console.log(await admin.stats.summary());
 * for (const queue of await admin.queues.list()) console.log(queue.name, queue.size, queue.latency);
 * const entry = await admin.retries.find("9f1c2e7a0b3d4c5e6f708192");
 * if (entry) await admin.retries.runNow(entry);
 * await admin.dead.retryAll();
 * ```
 */
export class Admin implements AsyncDisposable {
  /** Queues: list, size, latency, jobs, delete one, clear. */
  readonly queues: AdminQueues;
  /** The `retry` set. */
  readonly retries: JobSet;
  /** The `schedule` set. */
  readonly scheduled: JobSet;
  /** The `dead` set. */
  readonly dead: JobSet;
  /** Verk nodes, their in-progress jobs, Sidekiq processes. */
  readonly nodes: AdminNodes;
  /** Totals, per-queue counters, daily history. */
  readonly stats: AdminStats;
  #redis: Redis;

  /** Validates the options (throws `ConfigError` naming the option); connects lazily. */
  constructor(options: AdminOptions = {}) {
    const { redisUrl, timeout, maxDeadJobs, deadTimeout, redisOptions } = options;
    const config = resolveAdminConfig({ redisUrl, timeout, maxDeadJobs, deadTimeout });
    this.#redis = connect({
      url: config.redisUrl,
      name: "admin",
      role: "producer",
      commandTimeout: config.enqueueTimeout,
      extra: redisOptions as RedisOptions | undefined,
    });
    const limits = { maxDeadJobs: config.maxDeadJobs, deadTimeout: config.deadTimeout };
    this.queues = new AdminQueues(this.#redis);
    this.retries = new JobSet(this.#redis, "retry", limits);
    this.scheduled = new JobSet(this.#redis, "schedule", limits);
    this.dead = new JobSet(this.#redis, "dead", limits);
    this.nodes = new AdminNodes(this.#redis);
    this.stats = new AdminStats(this.#redis, this.queues);
  }

  /** The job set stored under `name`: `retry`, `schedule` or `dead`. */
  set(name: JobSetName): JobSet {
    switch (name) {
      case "retry":
        return this.retries;
      case "schedule":
        return this.scheduled;
      case "dead":
        return this.dead;
      default:
        throw new AdminError("name", `must be "retry", "schedule" or "dead": got ${String(name)}`);
    }
  }

  /** Closes the connection; calls after this fail with `AdminError`. */
  async close(): Promise<void> {
    if (this.#redis.status === "end") return;
    const ended = new Promise<void>((resolve) => this.#redis.once("end", () => resolve()));
    disconnect(this.#redis);
    await ended;
  }

  /** Same as `close()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** The node options the admin shares, validated as the nodes validate them; `timeout` is the enqueue timeout. */
function resolveAdminConfig(options: AdminOptions): Config {
  const { timeout, ...rest } = options;
  try {
    return resolveConfig({ ...rest, enqueueTimeout: timeout });
  } catch (error) {
    if (!(error instanceof ConfigError) || error.option !== "enqueueTimeout") throw error;
    throw new ConfigError("timeout", error.message.replace(/^option enqueueTimeout /, ""));
  }
}
