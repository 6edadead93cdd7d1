/**
 * One queue's supervisor: its own connections, its own fetch loop and up to
 * `concurrency` jobs at a time. A crash or stall here never holds up another
 * queue.
 *
 * Invariant: a job is always in Redis. Fetching moves it from `queue:<q>` to
 * `inprogress:<q>:<node>`; it leaves in-progress only by an ack (success), by
 * the `settle` script that writes it to retry/dead in the same step (failure),
 * or by being put back on the queue (stop, queue removal, orphan reconcile,
 * dead-node recovery). Acks are batched: a crash before an ack re-runs the
 * job, nothing else.
 *
 * Round trips: one script call both acknowledges finished jobs and takes up to
 * 100 new ones; when the queue is empty the loop blocks on BLMOVE on a second
 * connection, so a new job starts within milliseconds and an idle queue costs
 * one command per `BLOCK_SECONDS`.
 * @module
 */
import type { Buffer } from "node:buffer";
import { backoffDelay } from "./backoff.ts";
import type { Config } from "./config.ts";
import { JobRunner } from "./job_runner.ts";
import { untilDeadline } from "./timers.ts";
import * as keys from "./keys.ts";
import { logAt, loggerFor, messageOf } from "./log.ts";
import { disconnect, type Redis } from "./redis.ts";
import { ackAndFetch, type Fetched, recoverNode, requeueOrphans } from "./scripts.ts";
import type { EventBus } from "./events.ts";
import type { Stats } from "./stats.ts";
import type { AnyWorker } from "./worker.ts";

/** The most jobs one fetch takes. */
const MAX_FETCH = 100;
/**
 * How long one blocking wait lasts before the loop looks around again. A
 * blocking move sent just before its node died can still take a job for this
 * long (node.ts waits it out before forgetting a dead node).
 */
export const BLOCK_SECONDS = 1;
/** How often a paused queue asks Redis whether it was resumed elsewhere. */
const PAUSED_POLL_MS = 1_000;

/** A queue's state on this node: `idle` is running with no job. */
export type QueueStatus = "running" | "idle" | "pausing" | "paused";

const logger = loggerFor("queue");

/** What a queue loop needs from its node. */
export interface QueueLoopOptions {
  queue: string;
  concurrency: number;
  nodeId: string;
  /** The node's liveness value: putting jobs back on stop requires still holding it. */
  holder: () => string;
  config: Config;
  workerFor: (className: string) => AnyWorker | undefined;
  stats: Stats;
  events: EventBus;
  /** Opens a worker-role connection (see redis.ts). */
  connect: (name: string) => Redis;
}

interface RunningJob {
  raw: Buffer;
  startedAt: number;
  /** The loop's generation when the job began: a job of an older one was detached. */
  generation: number;
  /** A counter, unique in this loop: the job's id on Sidekiq's Busy page is built from it. */
  seq: number;
  /** The payload text, once decoded. */
  text?: string;
}

/** A job running on this node, as the Sidekiq process heartbeat reports it. */
export interface RunningJobInfo {
  /** Unique on this node while the job runs. */
  id: string;
  /** The payload as stored. */
  payload: string;
  /** Epoch ms when the job started. */
  startedAt: number;
}

/** A queue's fetch loop and worker pool. */
export class QueueLoop {
  readonly queue: string;
  #options: QueueLoopOptions;
  #commands: Redis;
  #blocking: Redis;
  #inProgressKey: string;
  #running = new Set<RunningJob>();
  #pendingAcks: Buffer[] = [];
  #flushingAcks = false;
  #blockingWait = false;
  #needsReconcile = false;
  /** stop() began: the loop ends; running jobs drain. */
  #stopping = false;
  /** quiet(): take no new job, keep acknowledging the running ones. */
  #fetchingStopped = false;
  #closed = false;
  #nextId = 0;
  #jobsAbort = new AbortController();
  #runner: JobRunner;
  #waiters: (() => void)[] = [];
  #supervisor: Promise<void> | undefined;
  #failuresInARow = 0;
  /** When Redis last answered this loop (epoch ms). */
  #lastContactAt: number | undefined;
  #concurrency: number;
  #paused = false;
  /** The node id is not ours in Redis: take no job and send no ack until `rejoin()`. */
  #evicted = false;
  /** Bumped by `detach`: jobs begun before no longer belong to this loop's view. */
  #generation = 0;
  /** The last state announced by an event. */
  #announced: "QueueRunning" | "QueuePausing" | "QueuePaused" = "QueueRunning";

  /** Creates the loop; nothing runs before `start`. */
  constructor(options: QueueLoopOptions) {
    this.#options = options;
    this.queue = options.queue;
    this.#commands = options.connect(`${options.queue}:commands`);
    this.#blocking = options.connect(`${options.queue}:blocking`);
    this.#inProgressKey = keys.inProgressKey(options.queue, options.nodeId);
    this.#runner = new JobRunner({
      ...options,
      commands: this.#commands,
      inProgressKey: this.#inProgressKey,
      signal: this.#jobsAbort.signal,
    });
    this.#concurrency = options.concurrency;
  }

  /** How many jobs may run at once. */
  get concurrency(): number {
    return this.#concurrency;
  }

  /** Changes how many jobs may run at once; running jobs are never interrupted. */
  set concurrency(value: number) {
    this.#concurrency = value;
    this.#notify();
  }

  /**
   * Whether the loop's command connection is up, when Redis last answered the
   * loop, whether it is busy (every slot taken: it has no reason to ask Redis
   * for anything until a job ends), and whether Redis still says the node id is
   * ours (if not, it takes no job).
   */
  health(): {
    connected: boolean;
    lastContactAt: Date | undefined;
    saturated: boolean;
    ownsNodeId: boolean;
  } {
    return {
      connected: this.#commands.status === "ready",
      ownsNodeId: !this.#evicted,
      lastContactAt: this.#lastContactAt === undefined ? undefined : new Date(this.#lastContactAt),
      saturated: this.#running.size >= this.#concurrency,
    };
  }

  /** The queue's state on this node. */
  get status(): QueueStatus {
    if (this.#paused) return this.#running.size > 0 ? "pausing" : "paused";
    return this.#running.size > 0 ? "running" : "idle";
  }

  /**
   * Applies the pause state (`verk:paused` holds the truth; this is how the
   * loop learns it at once on the node that changed it). Pausing takes no new
   * job; running jobs finish.
   */
  setPaused(paused: boolean): void {
    if (this.#paused === paused) return;
    this.#paused = paused;
    this.#announce();
    this.#notify();
  }

  /**
   * The node id is ours again after it had lapsed (nobody else took it): take
   * jobs again, send the acks Redis refused meanwhile, and reconcile the
   * in-progress list with what runs here (another node may have put some of our
   * jobs back while the key was missing: those run again elsewhere).
   */
  rejoin(): void {
    this.#evicted = false;
    this.#needsReconcile = true;
    this.#notify();
  }

  /**
   * Another process holds the node id, and with it this id's in-progress lists:
   * running jobs are detached (when they end they are neither acknowledged nor
   * settled), pending acks are dropped, and no job is taken until `rejoin()`.
   */
  detach(): void {
    this.#generation++;
    this.#pendingAcks = [];
    this.#evicted = true;
    this.#notify();
  }

  /** Redis refused our acks (the id is not ours): hold them and take nothing until node.ts decides. */
  #holdForNodeId(acks: Buffer[]): void {
    this.#pendingAcks.unshift(...acks);
    if (this.#evicted) return;
    this.#evicted = true;
    logger.warn(
      "{queue}: the node id is not ours in Redis; holding acks until the heartbeat settles it",
      {
        queue: this.queue,
      },
    );
  }

  /** Emits QueueRunning / QueuePausing / QueuePaused when the state machine moves. */
  #announce(): void {
    const state = this.#paused
      ? (this.#running.size > 0 ? "QueuePausing" : "QueuePaused")
      : "QueueRunning";
    if (state === this.#announced) return;
    // running -> paused passes through pausing, as Verk does.
    if (state === "QueuePaused" && this.#announced === "QueueRunning") {
      this.#options.events.publish({ type: "QueuePausing", queue: this.queue });
    }
    this.#announced = state;
    this.#options.events.publish({ type: state, queue: this.queue });
  }

  /** Jobs running now. */
  get running(): number {
    return this.#running.size;
  }

  /** The jobs running now, with their payload text and start time. */
  runningJobs(): RunningJobInfo[] {
    const jobs: RunningJobInfo[] = [];
    for (const { seq, text, startedAt } of this.#running) {
      if (text !== undefined) {
        jobs.push({ id: `${this.queue}:${seq.toString(36)}`, payload: text, startedAt });
      }
    }
    return jobs;
  }

  /**
   * Stops taking new jobs without stopping: running jobs finish and are
   * acknowledged; `stop()` is still needed to end the loop. Not undone.
   */
  quiet(): void {
    if (this.#fetchingStopped) return;
    this.#fetchingStopped = true;
    this.#notify(); // a blocking wait ends within BLOCK_SECONDS; what it takes goes back
  }

  /** Starts fetching. */
  start(): void {
    this.#supervisor ??= this.#supervise();
  }

  /**
   * Stops fetching, lets running jobs finish for up to `timeoutMs`, then aborts
   * the rest and puts every job still in this node's in-progress list back on
   * the queue, so nothing is stranded.
   */
  async stop(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    this.#stopping = true;
    this.#notify();
    disconnect(this.#blocking); // ends a blocking wait now
    await untilDeadline(this.#supervisor ?? Promise.resolve(), deadline);
    await untilDeadline(this.#allJobsDone(), deadline);
    if (this.#running.size > 0) {
      logger.warn(
        "{queue}: {count} jobs still running after the shutdown timeout: aborting them and putting them back",
        {
          queue: this.queue,
          count: this.#running.size,
        },
      );
      this.#jobsAbort.abort(new Error("the worker is shutting down"));
    }
    this.#closed = true;
    // Bounded too: while Redis is down these commands would wait for it forever.
    // Closing the connection rejects them; the jobs then wait in progress for recovery.
    await untilDeadline(
      this.#putBackUnfinished(),
      Date.now() + this.#options.config.enqueueTimeout,
    );
    disconnect(this.#commands);
  }

  /** Sends the last acks, then puts every job left in this node's in-progress list back. */
  async #putBackUnfinished(): Promise<void> {
    try {
      await this.#flushAcksNow();
      const moved = await recoverNode(this.#commands, {
        nodeId: this.#options.nodeId,
        holder: this.#options.holder(),
        queue: this.queue,
      });
      if (moved < 0) {
        logger.warn("{queue}: node id is no longer ours; leaving in-progress jobs for recovery", {
          queue: this.queue,
        });
      } else if (moved > 0) {
        logger.info("{queue}: put {moved} unfinished jobs back on the queue", {
          queue: this.queue,
          moved,
        });
      }
    } catch (error) {
      logger.error(
        "{queue}: could not put unfinished jobs back ({error}); they stay in {key} for recovery",
        {
          queue: this.queue,
          error: messageOf(error),
          key: this.#inProgressKey,
        },
      );
    }
  }

  async #supervise(): Promise<void> {
    while (!this.#stopping) {
      try {
        await this.#fetchLoop();
      } catch (error) {
        if (this.#stopping) break;
        this.#needsReconcile = true;
        this.#failuresInARow++;
        const level = this.#failuresInARow === 1 ? "warning" : "debug";
        logAt(logger, level, "{queue}: fetch loop failed ({error}); retrying with backoff", {
          queue: this.queue,
          error: messageOf(error),
        });
        await this.#pause(backoffDelay(this.#failuresInARow, 100, 5_000));
      }
    }
  }

  async #fetchLoop(): Promise<void> {
    const { queue, nodeId } = this.#options;
    while (!this.#stopping) {
      if (this.#needsReconcile) await this.#reconcile();
      const free = this.#concurrency - this.#running.size;
      const idle = this.#paused || this.#evicted;
      if (free <= 0 && !idle) {
        await this.#nextWake();
        continue;
      }
      const take = idle || this.#fetchingStopped ? 0 : Math.min(free, MAX_FETCH);
      const acks = this.#pendingAcks;
      this.#pendingAcks = [];
      let fetched: Fetched;
      try {
        fetched = await ackAndFetch(
          this.#commands,
          queue,
          nodeId,
          this.#options.holder(),
          take,
          acks,
        );
      } catch (error) {
        this.#pendingAcks.unshift(...acks);
        throw error;
      }
      if (this.#failuresInARow > 0) {
        logger.info("{queue}: fetching again", { queue });
        this.#failuresInARow = 0;
      }
      this.#lastContactAt = Date.now();
      if (fetched.lost) {
        this.#holdForNodeId(acks);
        // Until rejoin() (which wakes us) every call would answer "lost" at once: no spinning.
        await this.#pause(PAUSED_POLL_MS);
        continue;
      }
      this.setPaused(fetched.paused);
      // Jobs taken while stop() began still run: stop() drains them like the others.
      if (fetched.jobs.length > 0) {
        for (const raw of fetched.jobs) this.#begin(raw);
        continue;
      }
      if (this.#fetchingStopped) {
        // Jobs that ended while we were asking Redis left acks but no waiter to wake:
        // send those first. Otherwise wait for the next job to end (or stop()).
        if (this.#pendingAcks.length === 0) await this.#nextWake();
        continue;
      }
      if (this.#paused || this.#evicted) {
        await this.#pause(PAUSED_POLL_MS);
        continue;
      }
      if (take === 0) continue; // resumed while asking
      const raw = await this.#blockForJob();
      if (raw === null) continue;
      if (this.#paused || this.#evicted || this.#fetchingStopped) {
        // Paused while waiting: the job goes back where it was, to run next.
        await requeueOrphans(this.#commands, queue, nodeId, [raw]);
      } else {
        this.#begin(raw);
      }
    }
  }

  /** Waits up to BLOCK_SECONDS for a job, moving it to in-progress; acks flush meanwhile. */
  async #blockForJob(): Promise<Buffer | null> {
    this.#blockingWait = true;
    this.#flushAcksSoon();
    try {
      const raw = await this.#blocking.blmoveBuffer(
        keys.queueKey(this.queue),
        this.#inProgressKey,
        "RIGHT",
        "LEFT",
        BLOCK_SECONDS,
      );
      this.#lastContactAt = Date.now();
      return raw;
    } finally {
      this.#blockingWait = false;
    }
  }

  #begin(raw: Buffer): void {
    const entry: RunningJob = {
      raw,
      startedAt: Date.now(),
      generation: this.#generation,
      seq: this.#nextId++,
    };
    this.#running.add(entry);
    this.#run(entry).finally(() => {
      this.#running.delete(entry);
      if (this.#paused && this.#running.size === 0) this.#announce();
      this.#notify();
      if (this.#blockingWait) this.#flushAcksSoon();
    });
  }

  async #run(entry: RunningJob): Promise<void> {
    const end = await this.#runner.run(entry.raw, entry.startedAt, {
      onDecoded: (text) => entry.text = text,
      // After stop() the payload is back on the queue; after detach() it is not ours to settle.
      stillOurs: () => !this.#closed && entry.generation === this.#generation,
    });
    if (end === "ack") {
      this.#pendingAcks.push(entry.raw);
    } else if (end === "unsettled") {
      // Still in in-progress but no longer running here: reconcile puts it back.
      this.#needsReconcile = true;
      this.#notify();
    }
  }

  /**
   * After a broken connection: acks sent or not, fetches answered or not. Send
   * the acks again (LREM of a payload already gone is a no-op), then put back
   * every in-progress payload that is not running here.
   */
  async #reconcile(): Promise<void> {
    await this.#flushAcksNow();
    const listed = await this.#commands.lrangeBuffer(this.#inProgressKey, 0, -1);
    // Ours: jobs running here, and jobs that ended while LRANGE was in flight (their
    // acks are pending): neither may be put back.
    const ours = [
      ...[...this.#running].filter((entry) => entry.generation === this.#generation)
        .map((entry) => entry.raw),
      ...this.#pendingAcks,
    ];
    const runningCounts = new Map<string, number>();
    for (const raw of ours) {
      const key = raw.toString("latin1");
      runningCounts.set(key, (runningCounts.get(key) ?? 0) + 1);
    }
    const orphans = listed.filter((raw) => {
      const key = raw.toString("latin1");
      const count = runningCounts.get(key) ?? 0;
      if (count === 0) return true;
      runningCounts.set(key, count - 1);
      return false;
    });
    const moved = await requeueOrphans(this.#commands, this.queue, this.#options.nodeId, orphans);
    if (moved > 0) {
      logger.info("{queue}: put {moved} orphaned jobs back on the queue", {
        queue: this.queue,
        moved,
      });
    }
    this.#needsReconcile = false;
  }

  #flushAcksSoon(): void {
    if (this.#flushingAcks || this.#pendingAcks.length === 0) return;
    this.#flushingAcks = true;
    this.#flushAcksNow()
      .catch((error) => {
        this.#needsReconcile = true;
        logger.debug("{queue}: ack failed ({error}); will retry", {
          queue: this.queue,
          error: messageOf(error),
        });
      })
      .finally(() => {
        this.#flushingAcks = false;
        if (this.#blockingWait && !this.#needsReconcile) this.#flushAcksSoon();
      });
  }

  async #flushAcksNow(): Promise<void> {
    if (this.#pendingAcks.length === 0) return;
    const acks = this.#pendingAcks;
    this.#pendingAcks = [];
    try {
      const { lost } = await ackAndFetch(
        this.#commands,
        this.queue,
        this.#options.nodeId,
        this.#options.holder(),
        0,
        acks,
      );
      if (lost) this.#holdForNodeId(acks);
    } catch (error) {
      this.#pendingAcks.unshift(...acks);
      throw error;
    }
  }

  /** Resolves on the next `#notify` (a job ended, or the loop is stopping). */
  #nextWake(): Promise<void> {
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  #notify(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }

  /** Waits `ms`, or less when the loop is stopped. */
  async #pause(ms: number): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      new Promise<void>((resolve) => timer = setTimeout(resolve, ms)),
      this.#nextWake(),
    ]);
    clearTimeout(timer);
  }

  async #allJobsDone(): Promise<void> {
    while (this.#running.size > 0) await this.#nextWake();
  }
}
