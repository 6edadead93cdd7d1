/**
 * Runs one job: resolve the worker by class name, call `perform` with the
 * job's args, and report the outcome. Nothing here touches Redis, and nothing
 * is thrown for control flow: the caller gets an `Outcome`.
 * @module
 */
import { performTarget } from "./active_job.ts";
import type { JobPayload } from "./job.ts";
import { type AnyWorker, instantiate, type WorkerInstance } from "./worker.ts";

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
    instance = instantiate(worker, {
      jid: job.jid,
      queue,
      attempt: attemptOf(job),
      payload: job,
      signal,
    });
    await instance.perform(...target.args);
    return { kind: "success" };
  } catch (thrown) {
    return { kind: "failure", thrown, instance };
  }
}
