/**
 * What the admin API hands out for a stored job (the exact payload, parsed when
 * possible), pages of them, and the checks every admin call applies to its
 * arguments. Shared by queues.ts, job_sets.ts and nodes.ts.
 * @module
 */
import { queueNameError } from "../config.ts";
import { AdminError, RedisUnavailableError } from "../errors.ts";
import { type JobPayload, parseJob } from "../job.ts";
import { type Redis, whenReady } from "../redis.ts";

/**
 * One job as stored in a queue, an in-progress list or a sorted set. `payload`
 * is the exact text in Redis: hand the entry back to `delete`, `runNow` … and
 * they act on exactly that member. A payload that is not a job (not JSON, no
 * `class` …) is still listed, with `job` undefined and `problem` saying why.
 *
 * @example
 * ```ts
 * import type { JobEntry } from "@verk/verk";
 * function describe(entry: JobEntry): string {
 *   return entry.job ? `${entry.job.class} ${entry.jid}` : `malformed: ${entry.problem}`;
 * }
 * ```
 */
export interface JobEntry {
  /** The payload exactly as stored. */
  readonly payload: string;
  /** The parsed payload; undefined when it is malformed. */
  readonly job: JobPayload | undefined;
  /** The job id; `""` when the payload has none. */
  readonly jid: string;
  /** Why the payload could not be parsed (only when `job` is undefined). */
  readonly problem?: string;
}

/**
 * A member of the `retry`, `schedule` or `dead` sorted set with its score.
 *
 * @example
 * ```ts
 * import type { SetEntry } from "@verk/verk";
 * function when(entry: SetEntry): string {
 *   return entry.at?.toISOString() ?? String(entry.score);
 * }
 * ```
 */
export interface SetEntry extends JobEntry {
  /** The score as stored (epoch seconds; fractions allowed). */
  readonly score: number;
  /** The score as a time (retry / run / death time); undefined for an infinite score. */
  readonly at: Date | undefined;
}

/**
 * Which page of a list to read. Pages count from 1.
 *
 * @example
 * ```ts
 * import type { PageOptions } from "@verk/verk";
 * const second: PageOptions = { page: 2, pageSize: 50 };
 * ```
 */
export interface PageOptions {
  /** The page, from 1. @default 1 */
  page?: number;
  /** Entries per page, 1 to 1000. @default 25 */
  pageSize?: number;
}

/**
 * One page of entries and where it sits in the whole.
 *
 * @example
 * ```ts
 * import type { Page, SetEntry } from "@verk/verk";
 * function footer(page: Page<SetEntry>): string {
 *   return `page ${page.page} of ${page.pages} (${page.total} jobs)`;
 * }
 * ```
 */
export interface Page<T> {
  /** The entries of this page (empty past the last page). */
  items: T[];
  /** The page number, from 1. */
  page: number;
  /** Entries per page. */
  pageSize: number;
  /** Entries in the whole list or set. */
  total: number;
  /** How many pages the whole has (0 when it is empty). */
  pages: number;
}

/** An entry for a stored payload. */
export function entryOf(payload: string): JobEntry {
  const parsed = parseJob(payload);
  return parsed.ok
    ? { payload, job: parsed.job, jid: parsed.job.jid }
    : { payload, job: undefined, jid: "", problem: parsed.reason };
}

/** A sorted-set entry for a member and its score as Redis replied it. */
export function setEntryOf(payload: string, score: string): SetEntry {
  const value = scoreOf(score);
  const at = Number.isFinite(value) ? new Date(value * 1000) : undefined;
  return { ...entryOf(payload), score: value, at };
}

/** A score reply as a number: Redis writes infinities as `inf` / `-inf`. */
function scoreOf(text: string): number {
  if (text === "inf" || text === "+inf") return Infinity;
  if (text === "-inf") return -Infinity;
  return Number(text);
}

/** Checked page options and the index range they cover. */
export function pageRange(
  options: PageOptions = {},
): { page: number; size: number; start: number } {
  const page = options.page ?? 1;
  const size = options.pageSize ?? 25;
  if (!Number.isSafeInteger(page) || page < 1) {
    throw new AdminError("page", `must be a positive integer: got ${String(page)}`);
  }
  if (!Number.isSafeInteger(size) || size < 1 || size > 1000) {
    throw new AdminError("pageSize", `must be an integer from 1 to 1000: got ${String(size)}`);
  }
  return { page, size, start: (page - 1) * size };
}

/** A page from the items read at its range and the total. */
export function pageOf<T>(items: T[], range: ReturnType<typeof pageRange>, total: number): Page<T> {
  return {
    items,
    page: range.page,
    pageSize: range.size,
    total,
    pages: Math.ceil(total / range.size),
  };
}

/** Checks a queue name given to the admin API (the rules of enqueue). */
export function checkQueue(queue: string): string {
  const problem = queueNameError(queue);
  if (problem !== undefined) throw new AdminError("queue", `is an ${problem}`);
  return queue;
}

/** Checks a jid given to the admin API. */
export function checkJid(jid: string): string {
  if (typeof jid !== "string" || jid === "") {
    throw new AdminError("jid", `must be a non-empty string: got ${JSON.stringify(jid)}`);
  }
  return jid;
}

/** A glob for SCAN's MATCH that finds `text` anywhere in a member. */
export function containing(text: string): string {
  return `*${text.replace(/[\\*?[\]]/g, "\\$&")}*`;
}

/**
 * The connection, once ready. Admin calls are made by people and scripts
 * waiting for an answer: they fail at the first connection error (or after the
 * connection's command timeout) instead of waiting for Redis to come back.
 */
export async function connected(redis: Redis): Promise<Redis> {
  if (redis.status === "end") throw new AdminError("admin", "is closed");
  const timeout = redis.options.commandTimeout ?? 5_000;
  try {
    await whenReady(redis, timeout);
  } catch (error) {
    throw new RedisUnavailableError("admin", timeout, { cause: error });
  }
  return redis;
}

/** Every key matching `pattern` (and of `type`, if given), by SCAN: never blocks Redis as KEYS would. */
export async function scanKeys(redis: Redis, pattern: string, type?: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = "0";
  do {
    const [next, keys] = type === undefined
      ? await redis.scan(cursor, "MATCH", pattern, "COUNT", 1000)
      : await redis.scan(cursor, "MATCH", pattern, "COUNT", 1000, "TYPE", type);
    cursor = next;
    found.push(...keys);
  } while (cursor !== "0");
  return found;
}
