/**
 * Runs one job: resolve the worker by class name, call `perform` with the
 * job's args, and report the outcome. Nothing here touches Redis, and nothing
 * is thrown for control flow: the caller gets an `Outcome`.
 * @module
 */
import type { JobPayload } from "./job.ts";
import { type AnyWorker, instantiate, type WorkerInstance } from "./worker.ts";

/** How a run ended. */
export type Outcome =
  | { kind: "success" }
  | { kind: "failure"; thrown: unknown; instance?: WorkerInstance };

/** The failure of a job whose class has no registered worker. */
export class UnknownWorkerError extends Error {
  /** Creates the error for `className`. */
  constructor(className: string) {
    super(`no worker is registered for class "${className}"`);
    this.name = "UnknownWorkerError";
  }
}

/** 1 on the first run, 2 on the first retry … (Sidekiq's retry_count is 0 after the first failure). */
export function attemptOf(job: JobPayload): number {
  return job.retry_count === undefined ? 1 : Math.max(job.retry_count, -1) + 2;
}

/** Runs `job` with the worker registered for its class. Never throws. */
export async function execute(
  job: JobPayload,
  queue: string,
  worker: AnyWorker | undefined,
  signal: AbortSignal,
): Promise<Outcome> {
  if (worker === undefined) return { kind: "failure", thrown: new UnknownWorkerError(job.class) };
  let instance: WorkerInstance | undefined;
  try {
    instance = instantiate(worker, {
      jid: job.jid,
      queue,
      attempt: attemptOf(job),
      payload: job,
      signal,
    });
    await instance.perform(...job.args);
    return { kind: "success" };
  } catch (thrown) {
    return { kind: "failure", thrown, instance };
  }
}
