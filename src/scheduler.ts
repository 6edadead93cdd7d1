/**
 * The scheduler: moves jobs whose time has come from `schedule` and `retry` to
 * their queues. Every node runs one; the move script takes each job only if it
 * is still in the set, so nodes racing never enqueue a job twice.
 *
 * "Due" is judged by Redis' clock. The loop wakes every `pollInterval` (with
 * jitter, so nodes do not poll in step) or sooner when it knows the next due
 * time. A member that cannot be moved (not JSON, no queue) goes to the dead set
 * with the reason instead of blocking the set.
 * @module
 */
import { jitter } from "./backoff.ts";
import type { Config } from "./config.ts";
import type { Buffer } from "node:buffer";
import { jsonEpoch, malformedJobPayload, parseJobBytes, setTopLevelFields } from "./job.ts";
import * as keys from "./keys.ts";
import { loggerFor, messageOf } from "./log.ts";
import type { Redis } from "./redis.ts";
import { dueJobs, type DueMove, enqueueDue, settle } from "./scripts.ts";
import { sleep, untilDeadline } from "./timers.ts";

/** Jobs moved per script call. */
const BATCH = 100;
const logger = loggerFor("scheduler");

/** Moves due jobs from `schedule` and `retry` until stopped. */
export class Scheduler {
  #redis: Redis;
  #config: Config;
  #stopped = new AbortController();
  #loop: Promise<void> | undefined;

  /** Creates a scheduler on its own connection; nothing runs before `start`. */
  constructor(redis: Redis, config: Config) {
    this.#redis = redis;
    this.#config = config;
  }

  /** Starts the loop. */
  start(): void {
    this.#loop ??= this.#run();
  }

  /** Stops the loop and waits for the current pass to end. */
  /**
   * Stops the loop and waits for the current pass to end, for up to
   * `timeoutMs` (a pass stuck on an unreachable Redis ends when its connection
   * is closed).
   */
  async stop(timeoutMs: number): Promise<void> {
    this.#stopped.abort();
    await untilDeadline(this.#loop ?? Promise.resolve(), Date.now() + timeoutMs);
  }

  /**
   * Moves every due job of both sets; returns ms until the next known due time
   * (capped at `pollInterval`).
   */
  async tick(): Promise<number> {
    let wait = this.#config.pollInterval;
    for (const set of [keys.SCHEDULE, keys.RETRY]) {
      wait = Math.min(wait, await this.#drain(set));
    }
    return wait;
  }

  async #run(): Promise<void> {
    let failures = 0;
    while (!this.#stopped.signal.aborted) {
      let wait: number;
      try {
        wait = Math.min(await this.tick(), jitter(this.#config.pollInterval, 0.1));
        failures = 0;
      } catch (error) {
        if (this.#stopped.signal.aborted) break;
        if (failures++ === 0) {
          logger.warn("scheduler pass failed ({error}); retrying", { error: messageOf(error) });
        }
        wait = Math.min(1_000 * failures, this.#config.pollInterval);
      }
      await sleep(wait, this.#stopped.signal);
    }
  }

  /** Moves due jobs of one set; returns ms until its next member is due. */
  async #drain(set: string): Promise<number> {
    while (!this.#stopped.signal.aborted) {
      const due = await dueJobs(this.#redis, set, BATCH);
      const enqueuedAt = jsonEpoch(due.nowMs);
      const moves: DueMove[] = [];
      for (const member of due.members) {
        const { text, result } = parseJobBytes(member, this.#config.maxPayloadBytes);
        const queue = result.ok ? result.job.queue : undefined;
        if (result.ok && typeof queue === "string" && queue !== "") {
          moves.push({
            member,
            queue,
            payload: setTopLevelFields(text, { enqueued_at: enqueuedAt }),
          });
        } else {
          await this.#kill(set, member, text, result.ok ? "payload has no queue" : result.reason);
        }
      }
      await enqueueDue(this.#redis, set, moves);
      if (due.members.length < BATCH) {
        return due.nextMs === undefined ? Infinity : Math.max(0, due.nextMs - due.nowMs);
      }
    }
    return 0;
  }

  async #kill(set: string, member: Buffer, text: string, reason: string): Promise<void> {
    logger.error("{set}: unusable member moved to the dead set: {reason}", { set, reason });
    await settle(this.#redis, { zset: set }, member, {
      action: "dead",
      payload: malformedJobPayload(text, "unknown", reason, Date.now()),
      maxDeadJobs: this.#config.maxDeadJobs,
      deadTimeoutMs: this.#config.deadTimeout,
    });
  }
}
