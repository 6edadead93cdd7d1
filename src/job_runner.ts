/**
 * One fetched job from its bytes to its end: decode, log, perform (executor.ts),
 * count, publish events, and then either ask the queue loop to acknowledge it
 * (success) or settle it in Redis (failure: retry or dead set, in one script
 * call that also removes it from in-progress; malformed: dead set). The queue
 * loop owns fetching, slots and acks; this module owns what happens to one job.
 * @module
 */
import type { Buffer } from "node:buffer";
import type { Config } from "./config.ts";
import type { EventBus } from "./events.ts";
import { attemptOf, execute } from "./executor.ts";
import { epochMsOf, type JobPayload, malformedJobPayload, parseJob, parseJobBytes } from "./job.ts";
import { logAt, loggerFor, messageOf } from "./log.ts";
import type { Redis } from "./redis.ts";
import { asError, decideFailure, type FailureDecision } from "./retry.ts";
import { settle } from "./scripts.ts";
import type { Stats } from "./stats.ts";
import type { AnyWorker, WorkerInstance } from "./worker.ts";

const logger = loggerFor("queue");

/** What a job runner needs from its queue loop. */
export interface JobRunnerOptions {
  queue: string;
  config: Config;
  stats: Stats;
  events: EventBus;
  workerFor: (className: string) => AnyWorker | undefined;
  /** The loop's command connection (settling a failure is one script call). */
  commands: Redis;
  /** `inprogress:<q>:<node>`. */
  inProgressKey: string;
  /** Aborted when the loop stops and running jobs must give up. */
  signal: AbortSignal;
}

/** How a run ended, for the queue loop. */
export type RunEnd =
  /** Succeeded: acknowledge it (batched by the loop). */
  | "ack"
  /** Failed or malformed, and already settled in Redis. */
  | "settled"
  /** Ended after the loop let go of it (stopped, or node id lost): nothing to do. */
  | "released"
  /** Failed, but writing that failed: it is still in in-progress; reconcile. */
  | "unsettled";

/** Per-run hooks from the loop. */
export interface RunHooks {
  /** The payload decoded as a job (Sidekiq's Busy page lists only such payloads). */
  onDecoded(text: string): void;
  /** Whether the loop still owns this job when it ends. */
  stillOurs(): boolean;
}

/** Runs the jobs one queue loop fetches. */
export class JobRunner {
  #options: JobRunnerOptions;

  /** Creates the runner for one queue loop. */
  constructor(options: JobRunnerOptions) {
    this.#options = options;
  }

  /** Runs the job in `raw` (exact bytes as fetched), started at `startedAt`. Never throws. */
  async run(raw: Buffer, startedAt: number, hooks: RunHooks): Promise<RunEnd> {
    const { queue, config, stats, events } = this.#options;
    const { text, result: parsed } = parseJobBytes(raw, config.maxPayloadBytes);
    if (!parsed.ok) return await this.#settleMalformed(raw, text, parsed.reason);
    hooks.onDecoded(text);
    const job = parsed.job;
    logAt(logger, config.startJobLogLevel, `${job.class} ${job.jid} start`, {
      queue,
      jid: job.jid,
    });
    if (events.active) {
      events.publish({ type: "JobStarted", job, queue, startedAt: new Date(startedAt) });
    }
    const outcome = await execute(job, queue, this.#options.workerFor, this.#options.signal);
    if (!hooks.stillOurs()) return "released";
    const endedAt = Date.now();
    const durationMs = endedAt - startedAt;
    if (outcome.kind === "success") {
      stats.record(queue, false);
      const message = `${job.class} ${job.jid} done: ${durationMs} ms`;
      logAt(logger, config.doneJobLogLevel, message, { queue, jid: job.jid, durationMs });
      if (events.active) {
        const enqueuedAt = job.enqueued_at === undefined ? startedAt : epochMsOf(job.enqueued_at);
        events.publish({
          type: "JobFinished",
          job,
          queue,
          startedAt: new Date(startedAt),
          finishedAt: new Date(endedAt),
          durationMs,
          latencyMs: endedAt - enqueuedAt,
        });
      }
      return "ack";
    }
    stats.record(queue, true);
    const attempt = attemptOf(job);
    const message = `${job.class} ${job.jid} fail: ${messageOf(outcome.thrown)}`;
    logAt(logger, config.failJobLogLevel, message, { queue, jid: job.jid, attempt, durationMs });
    const decision = await this.#settleFailure(raw, text, job, outcome.thrown, outcome.instance);
    if (decision === undefined) return "unsettled";
    if (events.active) {
      events.publish({
        type: "JobFailed",
        job,
        queue,
        startedAt: new Date(startedAt),
        failedAt: new Date(endedAt),
        durationMs,
        attempt,
        error: asError(outcome.thrown),
        outcome: decision.action,
      });
      if (decision.action === "dead") {
        this.#publishDead(
          decision.payload,
          `retries exhausted after ${decision.retryCount + 1} failures`,
        );
      }
    }
    return "settled";
  }

  /** Writes a failed job to retry or dead; undefined when that could not be written. */
  async #settleFailure(
    raw: Buffer,
    text: string,
    job: JobPayload,
    thrown: unknown,
    instance: WorkerInstance | undefined,
  ): Promise<FailureDecision | undefined> {
    const { config } = this.#options;
    try {
      const decision = await decideFailure(text, job, thrown, Date.now(), config, instance);
      await settle(
        this.#options.commands,
        { list: this.#options.inProgressKey },
        raw,
        decision.action === "dead"
          ? { ...decision, maxDeadJobs: config.maxDeadJobs, deadTimeoutMs: config.deadTimeout }
          : decision,
      );
      return decision;
    } catch (error) {
      this.#settleFailed(error);
      return undefined;
    }
  }

  async #settleMalformed(raw: Buffer, text: string, reason: string): Promise<RunEnd> {
    const { queue, config } = this.#options;
    logger.error("{queue}: malformed job moved to the dead set: {reason}", { queue, reason });
    const payload = malformedJobPayload(text, queue, reason, Date.now());
    try {
      await settle(this.#options.commands, { list: this.#options.inProgressKey }, raw, {
        action: "dead",
        payload,
        maxDeadJobs: config.maxDeadJobs,
        deadTimeoutMs: config.deadTimeout,
      });
    } catch (error) {
      this.#settleFailed(error);
      return "unsettled";
    }
    this.#publishDead(payload, reason);
    return "settled";
  }

  #publishDead(payload: string, reason: string): void {
    const { events, queue } = this.#options;
    if (!events.active) return;
    const parsed = parseJob(payload);
    if (parsed.ok) events.publish({ type: "JobDead", job: parsed.job, queue, reason });
  }

  #settleFailed(error: unknown): void {
    logger.warn("{queue}: could not record a failed job ({error}); it will run again", {
      queue: this.#options.queue,
      error: messageOf(error),
    });
  }
}
