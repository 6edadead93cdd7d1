/**
 * Runs one job: resolve the worker by class name, call `perform` with the
 * job's args, and report the outcome. Nothing here touches Redis, and nothing
 * is thrown for control flow: the caller gets an `Outcome`.
 * @module
 */
import { performTarget } from "./active_job.ts";
import { JobTimeoutError } from "./errors.ts";
import type { JobPayload } from "./job.ts";
import { type AnyWorker, instantiate, type JobContext, type WorkerInstance } from "./worker.ts";

/** How a run ended. */
export type Outcome =
  | { kind: "success" }
  | { kind: "failure"; thrown: unknown; instance?: WorkerInstance };

/** The failure of a job whose class has no registered worker. */
export class UnknownWorkerError extends Error {
  /** Creates the error for `className` (wrapped by `wrapper`, for ActiveJob jobs). */
  constructor(className: string, wrapper?: string) {
    super(
      `no worker is registered for class "${className}"` +
        (wrapper === undefined ? "" : ` (an ActiveJob job wrapped by ${wrapper})`),
    );
    this.name = "UnknownWorkerError";
  }
}

/** 1 on the first run, 2 on the first retry … (Sidekiq's retry_count is 0 after the first failure). */
export function attemptOf(job: JobPayload): number {
  return job.retry_count === undefined ? 1 : Math.max(job.retry_count, -1) + 2;
}

/** The run time limit in ms: the job's `timeout` (seconds, in the payload), else the worker's. */
function timeoutOf(job: JobPayload, instance: WorkerInstance): number | undefined {
  const seconds = job.timeout;
  if (typeof seconds === "number" && seconds > 0) return seconds * 1000;
  const ms = instance.timeout;
  return typeof ms === "number" && ms > 0 ? ms : undefined;
}

/**
 * Runs `job` with the worker registered for its class (for an ActiveJob job,
 * for its wrapped class: see active_job.ts). Never throws.
 */
export async function execute(
  job: JobPayload,
  queue: string,
  workerFor: (className: string) => AnyWorker | undefined,
  signal: AbortSignal,
): Promise<Outcome> {
  const target = performTarget(job);
  const worker = workerFor(target.className);
  if (worker === undefined) {
    return { kind: "failure", thrown: new UnknownWorkerError(target.className, target.wrapper) };
  }
  let instance: WorkerInstance | undefined;
  try {
    instance = instantiate(worker);
    const timeoutMs = timeoutOf(job, instance);
    const context = { jid: job.jid, queue, attempt: attemptOf(job), payload: job, signal };
    if (timeoutMs === undefined) {
      instance.job = context;
      await instance.perform(...target.args);
    } else {
      await withTimeout(instance, context, target.args, timeoutMs);
    }
    return { kind: "success" };
  } catch (thrown) {
    return { kind: "failure", thrown, instance };
  }
}

/**
 * Runs perform with a signal that also aborts at the deadline. A job that
 * ignores its signal still ends here at the deadline (its slot frees); what it
 * does later is ignored.
 */
async function withTimeout(
  instance: WorkerInstance,
  context: JobContext,
  args: unknown[],
  timeoutMs: number,
): Promise<void> {
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(new JobTimeoutError(timeoutMs)), timeoutMs);
  instance.job = { ...context, signal: AbortSignal.any([context.signal, deadline.signal]) };
  try {
    await Promise.race([
      instance.perform(...args),
      new Promise((_, reject) =>
        deadline.signal.addEventListener("abort", () => reject(deadline.signal.reason))
      ),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
