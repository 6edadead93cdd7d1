/**
 * Enqueueing: validate, build the Sidekiq payload, write it in one round trip.
 * Works without any queue running (a producer-only process).
 * @module
 */
import type { Config } from "./config.ts";
import { queueNameError } from "./config.ts";
import { JobValidationError, RedisUnavailableError, VerkError } from "./errors.ts";
import { encodeNewJob, newJid } from "./job.ts";
import * as keys from "./keys.ts";
import { type Redis, replyValues, whenReady } from "./redis.ts";
import { type TimeInput, toEpochMs } from "./worker.ts";

/**
 * A job to enqueue. `class` names a registered worker; `args` are the
 * arguments its `perform` takes.
 *
 * @example
 * ```ts
 * import type { JobInput } from "@verk/verk";
 * const job: JobInput = { queue: "default", class: "ExampleWorker", args: [1, 2], maxRetryCount: 5 };
 * ```
 */
export interface JobInput<Class extends string = string, Args extends unknown[] = unknown[]> {
  /** Queue name. */
  queue: string;
  /** Worker class name. */
  class: Class;
  /** Arguments of `perform` (JSON values; `bigint` for integers beyond 2^53). */
  args: Args;
  /** Job id; a random 24-hex-digit id when omitted. */
  jid?: string;
  /** Max retries (written as Sidekiq's `retry` and Verk's `max_retry_count`). */
  maxRetryCount?: number;
  /** `false`: a failure discards the job (no retry, no dead set). */
  retry?: boolean;
  /** Retry on this queue instead (Sidekiq's `retry_queue`). */
  retryQueue?: string;
  /** `false`: never move the job to the dead set (Sidekiq's `dead`). */
  dead?: boolean;
  /** Backtrace lines kept on failure: `true` all, `false` none, or a count (Sidekiq's `backtrace`). */
  backtrace?: boolean | number;
  /**
   * Longest run in ms: past it the job's signal aborts and it fails with
   * `JobTimeoutError` (written as `timeout`, in seconds).
   */
  timeout?: number;
  /** Other payload keys to write as given (e.g. `tags`). */
  extra?: Record<string, unknown>;
}

/** Checks a queue-name field of a job. */
function checkQueueField(field: string, name: unknown): string {
  const problem = queueNameError(name);
  if (problem !== undefined) throw new JobValidationError(field, `is an ${problem}`);
  return name as string;
}

/** A validated job ready to write. */
export interface BuiltJob {
  jid: string;
  queue: string;
  payload: string;
}

/** Builds and checks the payload text of a job; throws JobValidationError naming the field. */
export function buildPayload(
  job: JobInput,
  config: Config,
  nowMs: number,
  enqueued: boolean,
): BuiltJob {
  if (job === null || typeof job !== "object") {
    throw new JobValidationError("job", "must be an object");
  }
  if (job.queue === undefined || job.queue === "") {
    throw new JobValidationError("queue", "is missing");
  }
  checkQueueField("queue", job.queue);
  if (job.class === undefined || job.class === "") {
    throw new JobValidationError("class", "is missing");
  }
  if (typeof job.class !== "string") {
    throw new JobValidationError("class", `must be a non-empty string: got ${typeof job.class}`);
  }
  if (!Array.isArray(job.args)) {
    throw new JobValidationError("args", `must be an array: got ${typeof job.args}`);
  }
  if (job.jid !== undefined && (typeof job.jid !== "string" || job.jid === "")) {
    throw new JobValidationError("jid", "must be a non-empty string");
  }
  const max = job.maxRetryCount;
  if (max !== undefined && !(Number.isSafeInteger(max) && max >= 0)) {
    throw new JobValidationError(
      "maxRetryCount",
      `must be a non-negative integer: got ${String(max)}`,
    );
  }
  if (job.retry !== undefined && typeof job.retry !== "boolean") {
    throw new JobValidationError("retry", "must be a boolean (use maxRetryCount for a number)");
  }
  if (job.dead !== undefined && typeof job.dead !== "boolean") {
    throw new JobValidationError("dead", `must be a boolean: got ${String(job.dead)}`);
  }
  const backtrace = job.backtrace;
  if (
    backtrace !== undefined && typeof backtrace !== "boolean" &&
    !(Number.isSafeInteger(backtrace) && backtrace >= 0)
  ) {
    throw new JobValidationError(
      "backtrace",
      `must be a boolean or a non-negative integer: got ${String(backtrace)}`,
    );
  }
  if (
    job.extra !== undefined &&
    (typeof job.extra !== "object" || job.extra === null || Array.isArray(job.extra))
  ) {
    throw new JobValidationError("extra", "must be an object of payload keys");
  }
  const extra: Record<string, unknown> = { ...job.extra };
  if (job.retryQueue !== undefined) {
    extra.retry_queue = checkQueueField("retryQueue", job.retryQueue);
  }
  if (job.dead !== undefined) extra.dead = job.dead;
  if (backtrace !== undefined) extra.backtrace = backtrace;
  if (job.timeout !== undefined) {
    if (!(typeof job.timeout === "number" && job.timeout > 0 && Number.isFinite(job.timeout))) {
      throw new JobValidationError(
        "timeout",
        `must be a positive number of ms: got ${String(job.timeout)}`,
      );
    }
    extra.timeout = job.timeout / 1000;
  }
  const jid = job.jid ?? newJid();
  let payload: string;
  try {
    payload = encodeNewJob(
      {
        class: job.class,
        queue: job.queue,
        args: job.args,
        jid,
        retry: job.retry === false ? false : max ?? true,
        maxRetryCount: max,
        extra,
      },
      nowMs,
      enqueued ? nowMs : undefined,
    );
  } catch (error) {
    const message = (error as Error).message;
    const field = message.includes("job.extra.") || message.includes(" at extra[")
      ? "extra"
      : "args";
    throw new JobValidationError(field, `cannot be stored as JSON: ${message}`);
  }
  const bytes = payload.length * 3 <= config.maxPayloadBytes
    ? 0
    : new TextEncoder().encode(payload).length;
  if (bytes > config.maxPayloadBytes) {
    throw new JobValidationError(
      "args",
      `make a payload of ${bytes} bytes, over maxPayloadBytes ${config.maxPayloadBytes}`,
    );
  }
  return { jid, queue: job.queue, payload };
}

/** Writes jobs through the producer connection, failing fast when Redis is away. */
export class Client {
  #redis: Redis;
  #config: Config;
  #closed = false;

  /** Wraps a producer connection (see redis.ts). */
  constructor(redis: Redis, config: Config) {
    this.#redis = redis;
    this.#config = config;
  }

  /** Pushes one job on its queue; returns its jid. */
  async enqueue(job: JobInput): Promise<string> {
    return (await this.enqueueMany([job]))[0]!;
  }

  /**
   * Pushes many jobs; one round trip (a MULTI) per 1000 jobs, each batch all or
   * nothing. Returns the jids in order. Every job is validated before anything
   * is sent.
   */
  async enqueueMany(jobs: readonly JobInput[]): Promise<string[]> {
    if (!Array.isArray(jobs)) throw new JobValidationError("jobs", "must be an array");
    const now = Date.now();
    const payloads = jobs.map((job, index) => {
      try {
        return buildPayload(job, this.#config, now, true);
      } catch (error) {
        // In a batch, say which job: "jobs[3].class is missing".
        if (jobs.length > 1 && error instanceof JobValidationError) {
          error.message = error.message.replace(/^job\./, `jobs[${index}].`);
        }
        throw error;
      }
    });
    // Batches are pipelined on one connection: each MULTI is one round trip and
    // all or nothing; they all go out before the first reply comes back.
    await this.send("enqueue", () => {
      const batches: Promise<unknown>[] = [];
      for (let start = 0; start < payloads.length; start += 1000) {
        const byQueue = new Map<string, string[]>();
        for (const { queue, payload } of payloads.slice(start, start + 1000)) {
          const list = byQueue.get(queue);
          if (list) list.push(payload);
          else byQueue.set(queue, [payload]);
        }
        const multi = this.#redis.multi().sadd(keys.QUEUES, ...byQueue.keys());
        for (const [queue, list] of byQueue) multi.lpush(keys.queueKey(queue), ...list);
        batches.push(multi.exec().then(replyValues));
      }
      return Promise.all(batches);
    });
    return payloads.map(({ jid }) => jid);
  }

  /** Adds a job to the schedule set to run at `at`; a time not in the future enqueues now. */
  async schedule(job: JobInput, at: TimeInput): Promise<string> {
    const atMs = toEpochMs(at);
    if (atMs === undefined) {
      throw new JobValidationError("at", `is not a valid time: got ${String(at)}`);
    }
    if (typeof at === "number" && at > 0 && at < 1e11) {
      throw new JobValidationError(
        "at",
        `looks like epoch seconds (${at}): pass epoch milliseconds, a Date or a Temporal.Instant`,
      );
    }
    const now = Date.now();
    if (atMs <= now) return await this.enqueue(job);
    const { jid, payload } = buildPayload(job, this.#config, now, false);
    await this.send(
      "schedule",
      () => this.#redis.zadd(keys.SCHEDULE, (atMs / 1000).toFixed(3), payload),
    );
    return jid;
  }

  /** Refuses every later call: the owner is stopping its connections. */
  close(): void {
    this.#closed = true;
  }

  /**
   * Connects when needed and runs `command`, failing within `enqueueTimeout`
   * with RedisUnavailableError when Redis cannot be reached. An error reply
   * from Redis (WRONGTYPE …) is passed through as it is.
   */
  async send<T>(operation: string, command: () => Promise<T>): Promise<T> {
    if (this.#closed) throw new VerkError(`${operation}: this Verk has been stopped`);
    const timeout = this.#config.enqueueTimeout;
    try {
      await whenReady(this.#redis, timeout);
      return await command();
    } catch (error) {
      if (error instanceof Error && error.name === "ReplyError") throw error;
      throw new RedisUnavailableError(operation, timeout, { cause: error });
    }
  }
}
