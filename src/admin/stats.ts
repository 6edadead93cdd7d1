/**
 * Cluster-wide numbers from Redis, as Sidekiq's `Stats` gives them: lifetime
 * counters (`stat:processed`, `stat:failed`, per queue and per UTC day, written
 * by every node's stats flush) and the current sizes of queues and sets.
 * Counts are at most once (see the README), so they may lag or miss a flush.
 * @module
 */
import { AdminError } from "../errors.ts";
import * as keys from "../keys.ts";
import { type Redis, replyValues } from "../redis.ts";
import { connected, scanKeys } from "./entry.ts";
import type { AdminQueues } from "./queues.ts";

const DAY_MS = 24 * 60 * 60 * 1000;
/** Sidekiq keeps daily counters five years; there is nothing to read further back. */
const MAX_DAYS = 5 * 366;
const DATE = /^\d{4}-\d{2}-\d{2}$/;

/**
 * What `admin.stats.summary()` returns.
 *
 * @example
 * ```ts
 * import type { StatsSummary } from "@verk/verk";
 * const line = (s: StatsSummary) => `${s.processed} processed, ${s.failed} failed, ${s.enqueued} waiting`;
 * ```
 */
export interface StatsSummary {
  /** Jobs executed since the counters began (failures included). */
  processed: number;
  /** Jobs that failed. */
  failed: number;
  /** Jobs waiting, summed over every queue. */
  enqueued: number;
  /** Jobs in the schedule set. */
  scheduled: number;
  /** Jobs in the retry set. */
  retries: number;
  /** Jobs in the dead set. */
  dead: number;
  /** Verk nodes registered in `verk_nodes`. */
  nodes: number;
  /** Sidekiq processes registered in `processes`. */
  processes: number;
  /** Jobs waiting per queue. */
  queues: Record<string, number>;
}

/**
 * Lifetime counters of one queue (`stat:processed:<q>`, `stat:failed:<q>`).
 *
 * @example
 * ```ts
 * import type { QueueCounters } from "@verk/verk";
 * const failureRate = (c: QueueCounters) => c.processed === 0 ? 0 : c.failed / c.processed;
 * ```
 */
export interface QueueCounters {
  /** Jobs executed (failures included). */
  processed: number;
  /** Jobs that failed. */
  failed: number;
}

/**
 * One UTC day of Sidekiq's history counters.
 *
 * @example
 * ```ts
 * import type { DailyStats } from "@verk/verk";
 * const row = (d: DailyStats) => `${d.date}: ${d.processed} / ${d.failed}`;
 * ```
 */
export interface DailyStats {
  /** The UTC day, `YYYY-MM-DD`. */
  date: string;
  /** Jobs executed that day. */
  processed: number;
  /** Jobs that failed that day. */
  failed: number;
}

/**
 * Totals, per-queue counters and daily history. Usually reached as
 * `admin.stats`.
 *
 * @example
 * ```ts
 * import { Admin } from "@verk/verk";
 * await using admin = new Admin({ redisUrl: "redis://127.0.0.1:6379/0" });
 * const { processed, failed, enqueued } = await admin.stats.summary();
 * const week = await admin.stats.history(7);
 * ```
 */
export class AdminStats {
  #redis: Redis;
  #queues: AdminQueues;

  /** Works on `redis`, finding queues through `queues`; `Admin` makes one for you. */
  constructor(redis: Redis, queues: AdminQueues) {
    this.#redis = redis;
    this.#queues = queues;
  }

  /** Lifetime totals and the current sizes of every queue and set. */
  async summary(): Promise<StatsSummary> {
    const names = await this.#queues.names();
    const redis = await connected(this.#redis);
    const pipeline = redis.pipeline()
      .get(keys.processedKey())
      .get(keys.failedKey())
      .zcard(keys.SCHEDULE)
      .zcard(keys.RETRY)
      .zcard(keys.DEAD)
      .scard(keys.NODES)
      .scard(keys.PROCESSES);
    for (const name of names) pipeline.llen(keys.queueKey(name));
    const [processed, failed, scheduled, retries, dead, nodes, processes, ...sizes] = replyValues(
      await pipeline.exec(),
    );
    const queues = Object.fromEntries(names.map((name, i) => [name, sizes[i] as number]));
    return {
      processed: count(processed),
      failed: count(failed),
      enqueued: (sizes as number[]).reduce((sum, size) => sum + size, 0),
      scheduled: scheduled as number,
      retries: retries as number,
      dead: dead as number,
      nodes: nodes as number,
      processes: processes as number,
      queues,
    };
  }

  /** The lifetime totals alone (`stat:processed`, `stat:failed`): one MGET, cheap to poll. */
  async totals(): Promise<QueueCounters> {
    const redis = await connected(this.#redis);
    const [processed, failed] = await redis.mget(keys.processedKey(), keys.failedKey());
    return { processed: count(processed), failed: count(failed) };
  }

  /**
   * Lifetime counters per queue: every queue that exists or has counters
   * (a queue cleared long ago keeps its counters), sorted by name.
   */
  async queues(): Promise<Record<string, QueueCounters>> {
    const names = new Set(await this.#queues.names());
    const redis = await connected(this.#redis);
    for (const prefix of [keys.processedKey(""), keys.failedKey("")]) {
      for (const key of await scanKeys(redis, `${prefix}*`)) {
        const name = key.slice(prefix.length);
        if (!DATE.test(name)) names.add(name);
      }
    }
    const sorted = [...names].sort();
    if (sorted.length === 0) return {};
    const replies = await redis.mget(
      sorted.flatMap((name) => [keys.processedKey(name), keys.failedKey(name)]),
    );
    return Object.fromEntries(sorted.map((name, i) => [name, {
      processed: count(replies[2 * i]),
      failed: count(replies[2 * i + 1]),
    }]));
  }

  /**
   * The daily counters of the last `days` UTC days, newest first, ending with
   * the day of `until` (default today). Days without a counter count 0.
   */
  async history(days = 7, until: Date = new Date()): Promise<DailyStats[]> {
    if (!Number.isSafeInteger(days) || days < 1 || days > MAX_DAYS) {
      throw new AdminError("days", `must be an integer from 1 to ${MAX_DAYS}: got ${String(days)}`);
    }
    if (!(until instanceof Date) || Number.isNaN(until.getTime())) {
      throw new AdminError("until", `must be a valid Date: got ${String(until)}`);
    }
    const dates = Array.from(
      { length: days },
      (_, i) => new Date(until.getTime() - i * DAY_MS).toISOString().slice(0, 10),
    );
    const redis = await connected(this.#redis);
    const replies = await redis.mget(
      dates.flatMap((date) => [keys.processedKey(date), keys.failedKey(date)]),
    );
    return dates.map((date, i) => ({
      date,
      processed: count(replies[2 * i]),
      failed: count(replies[2 * i + 1]),
    }));
  }
}

/** A counter's value: missing or unreadable counts 0. */
function count(value: unknown): number {
  const number = Number(value ?? 0);
  return Number.isFinite(number) ? number : 0;
}
