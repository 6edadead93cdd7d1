/**
 * Rails ActiveJob jobs enqueued through Sidekiq. ActiveJob's Sidekiq adapter
 * pushes every job under one wrapper class, with the real job class in
 * `wrapped` and ActiveJob's serialized job as `args[0]`:
 *
 * ```json
 * {"class":"ActiveJob::QueueAdapters::SidekiqAdapter::JobWrapper","wrapped":"SignupMailerJob",
 *  "queue":"default","args":[{"job_class":"SignupMailerJob","job_id":"…","queue_name":"default",
 *  "arguments":[42,{"plan":"pro","_aj_symbol_keys":["plan"]}],"executions":0,…}],"retry":true,…}
 * ```
 *
 * Such a job runs the worker registered under the wrapped name, with
 * ActiveJob's `arguments` as its args. In them, the keys that only tell Ruby
 * how to rebuild a hash's keys (`_aj_symbol_keys`, `_aj_ruby2_keywords`,
 * `_aj_hash_with_indifferent_access`) are removed: in JavaScript every key is a
 * string. Values Ruby would turn back into objects stay as ActiveJob wrote them:
 * `{"_aj_globalid":"gid://app/User/1"}` and `{"_aj_serialized":"…Serializer",
 * "value":…}`. The stored payload is never changed; the worker sees the whole of
 * it (job_id, executions, locale …) as `this.job.payload.args[0]`.
 * @module
 */
import type { JobPayload } from "./job.ts";

/** Wrapper classes of ActiveJob's Sidekiq adapters: Rails' own, and Sidekiq 7's. */
export const ACTIVE_JOB_WRAPPERS: ReadonlySet<string> = new Set([
  "ActiveJob::QueueAdapters::SidekiqAdapter::JobWrapper",
  "Sidekiq::ActiveJob::Wrapper",
]);

/** Keys describing Ruby key types only; meaningless once in JavaScript. */
const KEY_TYPE_MARKERS = new Set([
  "_aj_symbol_keys",
  "_aj_ruby2_keywords",
  "_aj_hash_with_indifferent_access",
]);

/** The worker to run for a job and the args to give it. */
export interface PerformTarget {
  /** The class name to look up in the worker registry. */
  className: string;
  /** The arguments of `perform`. */
  args: unknown[];
  /** The wrapper class, when the job is an ActiveJob job. */
  wrapper?: string;
}

/**
 * What to run for `job`: its own class and args, or, for an ActiveJob job in
 * the adapter's shape, the wrapped class with ActiveJob's `arguments`.
 */
export function performTarget(job: JobPayload): PerformTarget {
  const data = job.args[0];
  if (!ACTIVE_JOB_WRAPPERS.has(job.class) || !isObject(data) || !Array.isArray(data.arguments)) {
    return { className: job.class, args: job.args };
  }
  const wrapped = typeof job.wrapped === "string" && job.wrapped !== ""
    ? job.wrapped
    : typeof data.job_class === "string" && data.job_class !== ""
    ? data.job_class
    : job.class;
  return { className: wrapped, args: data.arguments.map(fromActiveJob), wrapper: job.class };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** An ActiveJob argument without its key-type markers. */
function fromActiveJob(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(fromActiveJob);
  if (!isObject(value)) return value;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    if (!KEY_TYPE_MARKERS.has(key)) out[key] = fromActiveJob(value[key]);
  }
  return out;
}
