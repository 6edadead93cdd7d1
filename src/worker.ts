/**
 * What a worker is: an object or a class with `perform(...args)`, registered
 * under the class name that jobs carry in their `class` field.
 * @module
 */
import type { JobPayload } from "./job.ts";

/** A point in time: a `Date`, a `Temporal.Instant` or epoch milliseconds. */
export type TimeInput = Date | Temporal.Instant | number;

/**
 * What a running job can see of itself, as `this.job` inside `perform`.
 *
 * @example Reading the job inside perform
 * ```ts
 * import type { WorkerObject } from "@verk/verk";
 * const Resize: WorkerObject<[string]> = {
 *   async perform(url) {
 *     const response = await fetch(url, { signal: this.job.signal });
 *     console.log(this.job.jid, this.job.attempt, response.status);
 *   },
 * };
 * ```
 */
export interface JobContext {
  /** The job id. */
  readonly jid: string;
  /** The queue the job was taken from. */
  readonly queue: string;
  /** 1 on the first run, 2 on the first retry, and so on. */
  readonly attempt: number;
  /** The whole payload as stored (unknown keys included). */
  readonly payload: Readonly<JobPayload>;
  /** Aborted when the node stops or the queue is removed and the job must give up. */
  readonly signal: AbortSignal;
}

/** What `perform` sees as `this`: the worker itself plus `job`. */
export type WorkerThis<W> = W & { readonly job: JobContext };

/**
 * A worker written as an object. `perform` receives the job's args; only a
 * thrown error or a rejected promise is a failure.
 *
 * @example
 * ```ts
 * import type { WorkerObject } from "@verk/verk";
 * const ExampleWorker: WorkerObject<[number, number]> = {
 *   perform(a, b) {
 *     return a + b;
 *   },
 *   retryAt(failedAt, retryCount) {
 *     return failedAt.getTime() + retryCount * 1000;
 *   },
 * };
 * ```
 */
export interface WorkerObject<Args extends unknown[] = unknown[]> {
  /** Runs the job. */
  perform(this: WorkerThis<WorkerObject<Args>>, ...args: Args): unknown;
  /**
   * When to retry after failure number `retryCount` (1 = first failure). If it
   * throws or returns something that is not a time, the default backoff is used.
   */
  retryAt?(failedAt: Date, retryCount: number): TimeInput;
  /**
   * Longest run in ms: past it `this.job.signal` aborts and the job fails with
   * `JobTimeoutError` (retried as usual). A job's own `timeout` wins.
   */
  timeout?: number;
}

/**
 * Base class for workers written as classes: one instance per job, with the job
 * as `this.job`.
 *
 * @example
 * ```ts
 * import { Worker } from "@verk/verk";
 * class SendEmail extends Worker<[to: string, subject: string]> {
 *   async perform(to: string, subject: string) {
 *     console.log(`mail ${this.job.jid} to ${to}: ${subject}`);
 *   }
 * }
 * ```
 */
export abstract class Worker<Args extends unknown[] = unknown[]> {
  /** The running job. Set before `perform` is called. */
  job!: JobContext;
  /** Runs the job. */
  abstract perform(...args: Args): unknown;
  /** See `WorkerObject.retryAt`. */
  retryAt?(failedAt: Date, retryCount: number): TimeInput;
  /** See `WorkerObject.timeout`. */
  timeout?: number;
}

/** A class whose instances are workers. */
export type WorkerClass<Args extends unknown[] = unknown[]> = new () => Worker<Args>;

/** Anything that can be registered as a worker. */
// deno-lint-ignore no-explicit-any
export type AnyWorker = WorkerObject<any[]> | WorkerClass<any[]>;

/** The argument list a worker's `perform` takes. */
export type ArgsOf<W> = W extends WorkerClass<infer A> ? A
  : W extends WorkerObject<infer A> ? A
  : unknown[];

/** Workers by the class name jobs carry. */
export type WorkerRegistry = Record<string, AnyWorker>;

/** A per-job instance: `this` for `perform` and `retryAt`. */
export interface WorkerInstance {
  perform(...args: unknown[]): unknown;
  retryAt?(failedAt: Date, retryCount: number): TimeInput;
  timeout?: number;
  job: JobContext;
}

/**
 * Makes the object `perform` runs on for one job: a fresh instance of a class,
 * or an object inheriting from a worker object (its other methods stay reachable).
 */
export function instantiate(worker: AnyWorker): WorkerInstance {
  return (typeof worker === "function" ? new worker() : Object.create(worker)) as WorkerInstance;
}

/** Converts a `TimeInput` to epoch ms, or undefined when it is not a valid time. */
export function toEpochMs(time: unknown): number | undefined {
  let ms: number;
  if (time instanceof Date) ms = time.getTime();
  else if (typeof time === "number") ms = time;
  else if (typeof Temporal !== "undefined" && time instanceof Temporal.Instant) {
    ms = time.epochMilliseconds;
  } else return undefined;
  // Beyond ±8.64e15 ms a Date cannot show it: refuse rather than store an unreadable time.
  return Number.isFinite(ms) && Math.abs(ms) <= 8.64e15 ? ms : undefined;
}
