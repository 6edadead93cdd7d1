/**
 * Queues as an operator sees them: which exist, how long they are, how long the
 * oldest job has waited, the jobs in them. Reads and repairs only; enqueueing
 * and pausing stay with `Verk`.
 *
 * A queue is the list `queue:<q>`: new jobs are pushed on the left, workers take
 * from the right, so index 0 is the newest job and the last index the oldest.
 * @module
 */
import { epochMsOf } from "../job.ts";
import * as keys from "../keys.ts";
import { type Redis, replyValues } from "../redis.ts";
import {
  checkJid,
  checkQueue,
  connected,
  entryOf,
  type JobEntry,
  type Page,
  pageOf,
  type PageOptions,
  pageRange,
  scanKeys,
} from "./entry.ts";

/** How many list elements a search reads per round trip. */
const CHUNK = 1000;

/**
 * One queue in the list of queues.
 *
 * @example
 * ```ts
 * import type { QueueInfo } from "@verk/verk";
 * const line = (q: QueueInfo) => `${q.name}: ${q.size} jobs, ${q.latency.toFixed(1)} s behind`;
 * ```
 */
export interface QueueInfo {
  /** The queue name. */
  name: string;
  /** Jobs waiting. */
  size: number;
  /** Seconds since the oldest waiting job was enqueued (0 when empty). */
  latency: number;
  /** Whether the queue is paused (`verk:paused`). */
  paused: boolean;
}

/**
 * The queues of one Redis: list, size, latency, jobs, and repairs (delete one
 * job, clear a queue). Usually reached as `admin.queues`.
 *
 * @example
 * ```ts
 * import { Admin } from "@verk/verk";
 * await using admin = new Admin({ redisUrl: "redis://127.0.0.1:6379/0" });
 * for (const queue of await admin.queues.list()) console.log(queue.name, queue.size);
 * const page = await admin.queues.page("default", { page: 1, pageSize: 10 });
 * ```
 */
export class AdminQueues {
  #redis: Redis;

  /** Works on `redis`; `Admin` makes one for you. */
  constructor(redis: Redis) {
    this.#redis = redis;
  }

  /**
   * Names of every queue, sorted: those in the `queues` set (Sidekiq's list)
   * and any `queue:<q>` list that exists without being in it.
   */
  async names(): Promise<string[]> {
    const redis = await connected(this.#redis);
    const names = new Set(await redis.smembers(keys.QUEUES));
    for (const key of await scanKeys(redis, "queue:*", "list")) {
      names.add(key.slice("queue:".length));
    }
    return [...names].sort();
  }

  /** Every queue with its size, latency and pause state. */
  async list(): Promise<QueueInfo[]> {
    const names = await this.names();
    if (names.length === 0) return [];
    const redis = await connected(this.#redis);
    const pipeline = redis.pipeline();
    for (const name of names) {
      pipeline.llen(keys.queueKey(name)).lindex(keys.queueKey(name), -1);
      pipeline.sismember(keys.PAUSED, name);
    }
    const replies = replyValues(await pipeline.exec());
    const now = Date.now();
    return names.map((name, i) => ({
      name,
      size: replies[3 * i] as number,
      latency: latencyOf(replies[3 * i + 1] as string | null, now),
      paused: replies[3 * i + 2] === 1,
    }));
  }

  /** Jobs waiting in `queue`. */
  async size(queue: string): Promise<number> {
    return await (await connected(this.#redis)).llen(keys.queueKey(checkQueue(queue)));
  }

  /**
   * Seconds since the oldest waiting job of `queue` was enqueued (its
   * `enqueued_at`, in seconds or milliseconds); 0 for an empty queue.
   */
  async latency(queue: string): Promise<number> {
    const redis = await connected(this.#redis);
    return latencyOf(await redis.lindex(keys.queueKey(checkQueue(queue)), -1), Date.now());
  }

  /** One page of the jobs in `queue`, newest first (the order workers take them is the reverse). */
  async page(queue: string, options?: PageOptions): Promise<Page<JobEntry>> {
    const key = keys.queueKey(checkQueue(queue));
    const range = pageRange(options);
    const redis = await connected(this.#redis);
    const [[, total], [, items]] = await redis.multi()
      .llen(key)
      .lrange(key, range.start, range.start + range.size - 1)
      .exec() as [[null, number], [null, string[]]];
    return pageOf(items.map(entryOf), range, total);
  }

  /** The first job in `queue` whose jid is `jid`, or undefined. */
  async find(queue: string, jid: string): Promise<JobEntry | undefined> {
    const key = keys.queueKey(checkQueue(queue));
    checkJid(jid);
    const redis = await connected(this.#redis);
    for (let start = 0;; start += CHUNK) {
      const chunk = await redis.lrange(key, start, start + CHUNK - 1);
      for (const payload of chunk) {
        if (!payload.includes(jid)) continue;
        const entry = entryOf(payload);
        if (entry.jid === jid) return entry;
      }
      if (chunk.length < CHUNK) return undefined;
    }
  }

  /**
   * Removes one job from `queue`: the exact payload given, or the entry's
   * payload. Returns false when it was no longer there (a worker took it).
   */
  async delete(queue: string, job: string | JobEntry): Promise<boolean> {
    const key = keys.queueKey(checkQueue(queue));
    const payload = typeof job === "string" ? job : job.payload;
    return await (await connected(this.#redis)).lrem(key, 1, payload) === 1;
  }

  /**
   * Deletes every waiting job of `queue` and removes it from the `queues` set,
   * in one MULTI. Returns how many jobs were deleted.
   */
  async clear(queue: string): Promise<number> {
    const key = keys.queueKey(checkQueue(queue));
    const redis = await connected(this.#redis);
    const [[, size]] = await redis.multi()
      .llen(key)
      .del(key)
      .srem(keys.QUEUES, queue)
      .exec() as [[null, number]];
    return size;
  }
}

/** Seconds since the `enqueued_at` of the payload `oldest` (0 when absent or unreadable). */
function latencyOf(oldest: string | null, nowMs: number): number {
  if (oldest === null) return 0;
  const { job } = entryOf(oldest);
  const at = job?.enqueued_at ?? job?.created_at;
  if (at === undefined) return 0;
  return Math.max(0, (nowMs - epochMsOf(at)) / 1000);
}
