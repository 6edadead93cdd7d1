/**
 * The three sorted sets of jobs that wait outside a queue: `retry` (failed,
 * waiting for their retry), `schedule` (waiting for their time) and `dead`
 * (retries used up). One class serves all three, as Sidekiq's `JobSet` does.
 *
 * Every move is atomic and happens only if the member is still in the set, so
 * two operators (or an operator and the scheduler) acting on one job at once
 * move it once: "run now" reuses the scheduler's move script (enqueue_due-2),
 * "kill" the failure path's dead-set script with its trimming (settle-3).
 * Payloads are edited in their text (`enqueued_at`, `retry_count`), never
 * decoded and re-encoded.
 * @module
 */
import { resolveConfig } from "../config.ts";
import { AdminError } from "../errors.ts";
import { jsonEpoch, setTopLevelFields } from "../job.ts";
import * as keys from "../keys.ts";
import { type Redis, replyValues } from "../redis.ts";
import { type DueMove, enqueueDue, settle } from "../scripts.ts";
import {
  checkJid,
  connected,
  containing,
  type Page,
  pageOf,
  type PageOptions,
  pageRange,
  type SetEntry,
  setEntryOf,
} from "./entry.ts";

/** Members moved per script call by `retryAll`. */
const BATCH = 100;

/**
 * The Redis key of a job set: `retry`, `schedule` or `dead`.
 *
 * @example
 * ```ts
 * import type { JobSetName } from "@verk/verk";
 * const name: JobSetName = "dead";
 * ```
 */
export type JobSetName = "retry" | "schedule" | "dead";

/**
 * How the dead set is trimmed when `kill` adds to it: the same rule as a job
 * that runs out of retries (keep the newest `maxDeadJobs`, drop older than
 * `deadTimeout`).
 *
 * @example
 * ```ts
 * import type { DeadSetLimits } from "@verk/verk";
 * const limits: DeadSetLimits = { maxDeadJobs: 10_000, deadTimeout: 180 * 24 * 3600 * 1000 };
 * ```
 */
export interface DeadSetLimits {
  /** How many jobs the dead set keeps. @default 10_000 */
  maxDeadJobs?: number;
  /** How long (ms) a job stays in the dead set. @default 15_552_000_000 (180 days) */
  deadTimeout?: number;
}

/**
 * The `retry`, `schedule` or `dead` set: size, pages of entries with their
 * scores, find by jid, and the repairs (delete, run now, kill, retry all,
 * clear). Usually reached as `admin.retries`, `admin.scheduled`, `admin.dead`.
 *
 * A job is named by its jid (the first member with that jid is used) or by an
 * entry from `page`/`find` (exactly that member). Actions return false when the
 * job is not in the set, including when someone else moved it first.
 *
 * @example Retry every dead job of one class
 * ```ts
 * import { Admin } from "@verk/verk";
 * await using admin = new Admin({ redisUrl: "redis://127.0.0.1:6379/0" });
 * const { items } = await admin.dead.page({ pageSize: 100 });
 * for (const entry of items) {
 *   if (entry.job?.class === "SendEmail") await admin.dead.runNow(entry);
 * }
 * ```
 */
export class JobSet {
  /** The set's key. */
  readonly name: JobSetName;
  #redis: Redis;
  #maxDeadJobs: number;
  #deadTimeout: number;

  /**
   * Works on set `name` over `redis`; `Admin` makes the three for you.
   * Throws `ConfigError` for invalid limits.
   */
  constructor(redis: Redis, name: JobSetName, limits: DeadSetLimits = {}) {
    if (name !== keys.RETRY && name !== keys.SCHEDULE && name !== keys.DEAD) {
      throw new AdminError("name", `must be "retry", "schedule" or "dead": got ${String(name)}`);
    }
    const config = resolveConfig(limits);
    this.name = name;
    this.#redis = redis;
    this.#maxDeadJobs = config.maxDeadJobs;
    this.#deadTimeout = config.deadTimeout;
  }

  /** How many jobs are in the set. */
  async size(): Promise<number> {
    return await (await connected(this.#redis)).zcard(this.name);
  }

  /**
   * One page of entries with their scores: by time (soonest first) for `retry`
   * and `schedule`, newest first for `dead`.
   */
  async page(options?: PageOptions): Promise<Page<SetEntry>> {
    const range = pageRange(options);
    const redis = await connected(this.#redis);
    const stop = range.start + range.size - 1;
    const multi = redis.multi().zcard(this.name);
    if (this.name === keys.DEAD) multi.zrange(this.name, range.start, stop, "REV", "WITHSCORES");
    else multi.zrange(this.name, range.start, stop, "WITHSCORES");
    const [total, flat] = replyValues(await multi.exec()) as [number, string[]];
    return pageOf(pairs(flat), range, total);
  }

  /** The first entry whose jid is `jid`, or undefined. */
  async find(jid: string): Promise<SetEntry | undefined> {
    const pattern = containing(checkJid(jid));
    const redis = await connected(this.#redis);
    let cursor = "0";
    do {
      const [next, flat] = await redis.zscan(this.name, cursor, "MATCH", pattern, "COUNT", 1000);
      cursor = next;
      const found = pairs(flat).find((entry) => entry.jid === jid);
      if (found) return found;
    } while (cursor !== "0");
    return undefined;
  }

  /** Deletes a job from the set. */
  async delete(job: string | SetEntry): Promise<boolean> {
    const entry = await this.#resolve(job);
    if (!entry) return false;
    return await (await connected(this.#redis)).zrem(this.name, entry.payload) === 1;
  }

  /**
   * Pushes a job onto its queue now, with a fresh `enqueued_at`. From `retry`
   * and `dead` this is a manual retry, which does not use up an attempt: as in
   * Sidekiq, `retry_count` goes down by one first. Throws `AdminError` for a
   * job with no queue (delete it instead).
   */
  async runNow(job: string | SetEntry): Promise<boolean> {
    const entry = await this.#resolve(job);
    if (!entry) return false;
    const move = this.#moveOf(entry, Date.now());
    if (!move) throw new AdminError("job", `${describe(entry)} has no queue to run on`);
    return await enqueueDue(await connected(this.#redis), this.name, [move]) === 1;
  }

  /**
   * Moves a job from `retry` or `schedule` to the dead set (scored now, trimmed
   * as on a final failure). Throws `AdminError` on the dead set itself.
   */
  async kill(job: string | SetEntry): Promise<boolean> {
    if (this.name === keys.DEAD) throw new AdminError("job", "is already in the dead set");
    const entry = await this.#resolve(job);
    if (!entry) return false;
    return await settle(await connected(this.#redis), { zset: this.name }, entry.payload, {
      action: "dead",
      payload: entry.payload,
      maxDeadJobs: this.#maxDeadJobs,
      deadTimeoutMs: this.#deadTimeout,
    });
  }

  /**
   * Runs every job of the set now (see `runNow`), oldest score first; jobs
   * added while it runs wait for the next call. Jobs without a queue stay.
   * Returns how many jobs were moved.
   */
  async retryAll(): Promise<number> {
    const redis = await connected(this.#redis);
    let left = await redis.zcard(this.name);
    let stuck = 0;
    let moved = 0;
    while (left > 0) {
      const flat = await redis.zrange(
        this.name,
        stuck,
        stuck + Math.min(BATCH, left) - 1,
        "WITHSCORES",
      );
      if (flat.length === 0) break;
      const now = Date.now();
      const moves: DueMove[] = [];
      for (const entry of pairs(flat)) {
        const move = this.#moveOf(entry, now);
        if (move) moves.push(move);
        else stuck++;
      }
      left -= flat.length / 2;
      moved += await enqueueDue(redis, this.name, moves);
    }
    return moved;
  }

  /** Deletes every job of the set in one step; returns how many there were. */
  async clear(): Promise<number> {
    const redis = await connected(this.#redis);
    const [[, size]] = await redis.multi().zcard(this.name).del(this.name).exec() as [
      [null, number],
    ];
    return size;
  }

  async #resolve(job: string | SetEntry): Promise<SetEntry | undefined> {
    return typeof job === "string" ? await this.find(job) : job;
  }

  /** The queue push for `entry`, or undefined when it has no queue. */
  #moveOf(entry: SetEntry, nowMs: number): DueMove | undefined {
    const queue = entry.job?.queue;
    if (!entry.job || !queue) return undefined;
    const fields: Record<string, string> = { enqueued_at: jsonEpoch(nowMs) };
    const retryCount = entry.job.retry_count;
    if (this.name !== keys.SCHEDULE && retryCount !== undefined) {
      fields.retry_count = String(retryCount - 1);
    }
    return { member: entry.payload, payload: setTopLevelFields(entry.payload, fields), queue };
  }
}

/** `[member, score, member, score …]` as entries. */
function pairs(flat: string[]): SetEntry[] {
  const entries: SetEntry[] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) entries.push(setEntryOf(flat[i]!, flat[i + 1]!));
  return entries;
}

function describe(entry: SetEntry): string {
  return entry.job
    ? `job ${entry.job.class} ${entry.jid}`
    : `the malformed member (${entry.problem})`;
}
