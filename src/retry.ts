/**
 * What happens to a job that failed: the retry set (with Verk's backoff or the
 * worker's `retryAt`), the dead set, or nothing when `retry: false`. This module
 * decides and rewrites the payload; the queue loop writes it with one `settle`
 * script call that also removes the job from in-progress.
 *
 * Counting follows Sidekiq: `retry_count` is absent before the first failure,
 * 0 after it, +1 after each later one. Total attempts = 1 + max retries.
 * @module
 */
import { defaultRetryDelaySeconds } from "./backoff.ts";
import type { Config } from "./config.ts";
import {
  encodeBacktrace,
  encodeJson,
  type JobPayload,
  jsonEpoch,
  setTopLevelFields,
} from "./job.ts";
import { toEpochMs, type WorkerInstance } from "./worker.ts";

/** Longest `error_message` written, as Sidekiq cuts it. */
const MAX_ERROR_MESSAGE = 10_000;

/** Where a failed job goes, and the payload to write there. */
export type FailureDecision =
  | { action: "retry"; payload: string; retryAtMs: number; retryCount: number }
  | { action: "dead"; payload: string; retryCount: number }
  | { action: "drop"; retryCount: number };

/** The error fields of a thrown value, whatever was thrown. */
export interface ErrorInfo {
  errorClass: string;
  message: string;
  stackLines: string[];
}

/** Anything thrown, as an Error (a thrown string or object is wrapped, and kept as `cause`). */
export function asError(thrown: unknown): Error {
  return thrown instanceof Error ? thrown : new Error(String(thrown), { cause: thrown });
}

/** Reads class, message and stack lines from anything thrown. */
export function errorInfo(thrown: unknown): ErrorInfo {
  if (!(thrown instanceof Error)) {
    return { errorClass: "Error", message: String(thrown), stackLines: [] };
  }
  const errorClass = thrown.name && thrown.name !== "Error"
    ? thrown.name
    : thrown.constructor?.name || "Error";
  const stackLines = (thrown.stack ?? "").split("\n")
    .filter((line) => /^\s+at /.test(line))
    .map((line) => line.trim().slice(3));
  return { errorClass, message: thrown.message, stackLines };
}

/** The retry limit of a job: `max_retry_count`, then an integer `retry`, then the default. */
export function maxRetriesOf(job: JobPayload, defaultMax: number): number {
  if (typeof job.max_retry_count === "number") return job.max_retry_count;
  if (typeof job.retry === "number") return job.retry;
  return defaultMax;
}

/**
 * Decides what to do with a job whose run threw `thrown` at `failedAtMs`, and
 * builds the payload to store by editing only the error fields of `text`.
 */
export async function decideFailure(
  text: string,
  job: JobPayload,
  thrown: unknown,
  failedAtMs: number,
  config: Config,
  worker?: WorkerInstance,
): Promise<FailureDecision> {
  const retryCount = job.retry_count === undefined ? 0 : job.retry_count + 1;
  if (job.retry === false) return { action: "drop", retryCount };
  const failureNumber = retryCount + 1;
  const exhausted = failureNumber > maxRetriesOf(job, config.maxRetryCount);
  if (exhausted && job.dead === false) return { action: "drop", retryCount };

  const fields = await errorFields(text, job, errorInfo(thrown), retryCount, failedAtMs, config);
  // As Sidekiq does, also for a dead job: "retry now" from the morgue goes there too.
  if (typeof job.retry_queue === "string" && job.retry_queue !== "") {
    fields.queue = encodeJson(job.retry_queue);
  }
  const payload = setTopLevelFields(text, fields);
  if (exhausted) return { action: "dead", payload, retryCount };
  return {
    action: "retry",
    payload,
    retryCount,
    retryAtMs: retryTime(failedAtMs, failureNumber, worker),
  };
}

/** The text of a top-level `args` that is a string (Verk 1.x), else undefined. */
function argsStringOf(text: string): string | undefined {
  if (!/"args"\s*:\s*"/.test(text)) return undefined; // the common case costs one regex
  // A plain parse is enough: only the string's value is used, and strings parse exactly.
  const args = (JSON.parse(text) as { args?: unknown }).args;
  return typeof args === "string" ? args : undefined;
}

/**
 * The fields Sidekiq's tools read on a failed job of payload `text`, as raw JSON
 * texts for `setTopLevelFields`: error class and message, retry_count,
 * failed_at (first failure) or retried_at, the compressed backtrace, and for a
 * Verk 1.x payload its args as a real array.
 */
export async function errorFields(
  text: string,
  job: JobPayload,
  info: ErrorInfo,
  retryCount: number,
  failedAtMs: number,
  config: Config,
): Promise<Record<string, string | undefined>> {
  const fields: Record<string, string | undefined> = {
    error_message: JSON.stringify(info.message.slice(0, MAX_ERROR_MESSAGE)),
    error_class: JSON.stringify(info.errorClass),
    retry_count: String(retryCount),
  };
  // A Verk 1.x payload: write its args as a real array (Sidekiq's scheduler drops
  // a job whose args is a string) and its limit as `retry` too (Sidekiq reads no
  // `max_retry_count`). The array text is Verk's own, so nothing is re-encoded.
  const stringArgs = argsStringOf(text);
  if (stringArgs !== undefined) fields.args = stringArgs;
  if (job.retry === undefined && job.max_retry_count !== undefined) {
    fields.retry = String(job.max_retry_count);
  }
  if (job.failed_at === undefined) fields.failed_at = jsonEpoch(failedAtMs);
  else fields.retried_at = jsonEpoch(failedAtMs);
  const lines = backtraceLines(job, config);
  if (lines > 0) {
    fields.error_backtrace = JSON.stringify(await encodeBacktrace(info.stackLines.slice(0, lines)));
  }
  return fields;
}

/** How many backtrace lines to keep: the job's `backtrace` option, else the configured size. */
function backtraceLines(job: JobPayload, config: Config): number {
  if (job.backtrace === false) return 0;
  if (job.backtrace === true) return Infinity;
  if (typeof job.backtrace === "number") return job.backtrace;
  return config.failedJobStacktraceSize;
}

/** The worker's `retryAt` when it gives a valid time, else Verk's default delay. */
function retryTime(failedAtMs: number, failureNumber: number, worker?: WorkerInstance): number {
  if (worker?.retryAt) {
    try {
      const at = toEpochMs(worker.retryAt(new Date(failedAtMs), failureNumber));
      if (at !== undefined) return at;
    } catch {
      // A broken retryAt must not lose the job: fall back to the default delay.
    }
  }
  return failedAtMs + defaultRetryDelaySeconds(failureNumber) * 1000;
}
