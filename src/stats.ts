/**
 * Job counters. Kept in memory per queue and flushed to Sidekiq's and Verk's
 * `stat:*` keys in one MULTI every few seconds and on stop. A flush is sent
 * once and never re-sent: counts are at most once (a dropped connection may
 * lose one interval of counts, never a job).
 * @module
 */
import * as keys from "./keys.ts";
import type { Redis } from "./redis.ts";

/** Sidekiq keeps its daily counters five years. */
const DAILY_TTL_SECONDS = 5 * 365 * 24 * 3600;

/** Counts of one queue. */
export interface QueueCounts {
  /** Jobs executed (failures included, as Sidekiq counts). */
  processed: number;
  /** Jobs that failed. */
  failed: number;
}

/** Counters since this node started, plus what is still to be flushed to Redis. */
export class Stats {
  #sinceStart = new Map<string, QueueCounts>();
  #unflushed = new Map<string, QueueCounts>();

  /** Counts one executed job of `queue`; `failed` when it threw. */
  record(queue: string, failed: boolean): void {
    for (const map of [this.#sinceStart, this.#unflushed]) {
      let counts = map.get(queue);
      if (counts === undefined) map.set(queue, counts = { processed: 0, failed: 0 });
      counts.processed++;
      if (failed) counts.failed++;
    }
  }

  /** Counts per queue since this node started. */
  sinceStart(): Map<string, QueueCounts> {
    return new Map([...this.#sinceStart].map(([queue, counts]) => [queue, { ...counts }]));
  }

  /** Adds what was counted since the last flush to Redis, in one MULTI. */
  async flush(redis: Redis, now = new Date()): Promise<void> {
    // Not connected: nothing would be sent, so the counts wait for the next flush.
    if (this.#unflushed.size === 0 || redis.status !== "ready") return;
    const batch = this.#unflushed;
    this.#unflushed = new Map();
    const day = now.toISOString().slice(0, 10);
    let processed = 0;
    let failed = 0;
    const multi = redis.multi();
    for (const [queue, counts] of batch) {
      processed += counts.processed;
      failed += counts.failed;
      if (counts.processed) multi.incrby(keys.processedKey(queue), counts.processed);
      if (counts.failed) multi.incrby(keys.failedKey(queue), counts.failed);
    }
    if (processed) {
      multi.incrby(keys.processedKey(), processed);
      multi.incrby(keys.processedKey(day), processed).expire(
        keys.processedKey(day),
        DAILY_TTL_SECONDS,
      );
    }
    if (failed) {
      multi.incrby(keys.failedKey(), failed);
      multi.incrby(keys.failedKey(day), failed).expire(keys.failedKey(day), DAILY_TTL_SECONDS);
    }
    // Sent once: on error these counts are lost rather than risk counting twice.
    await multi.exec();
  }
}
