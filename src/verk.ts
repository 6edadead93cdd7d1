/**
 * The `Verk` node: wires configuration, connections, queue loops, the
 * scheduler, the node heartbeat and stats together, and offers enqueueing.
 * Lifecycle verbs: `start()`, `stop()` (graceful, bounded by
 * `shutdownTimeout`), also `await using`.
 * @module
 */
import { backoffDelay } from "./backoff.ts";
import { type Config, queueNameError, resolveConfig, type VerkOptions } from "./config.ts";
import { VerkError } from "./errors.ts";
import { Client, type JobInput } from "./client.ts";
import { loggerFor, messageOf } from "./log.ts";
import { randomHex } from "./holder.ts";
import { Node } from "./node.ts";
import { EventBus, type EventFilter, type SubscribeOptions, type VerkEvent } from "./events.ts";
import { QueueLoop } from "./queue_loop.ts";
import type { HealthReport, NodeStats, QueueHealth, QueueStats } from "./reports.ts";
import * as keys from "./keys.ts";
import {
  connect,
  type ConnectionRole,
  disconnect,
  type Redis,
  type RedisOptions,
  whenReady,
} from "./redis.ts";
import { Scheduler } from "./scheduler.ts";
import { sleep } from "./timers.ts";
import { type ProcessSnapshot, SidekiqHeartbeat } from "./sidekiq_process.ts";
import { Stats } from "./stats.ts";
import type { AnyWorker, ArgsOf, TimeInput, WorkerRegistry } from "./worker.ts";

const logger = loggerFor("node");
/** Throws a VerkError naming the method and the queue when `queue` is not a valid queue name. */
function checkQueueName(method: string, queue: unknown): void {
  const problem = queueNameError(queue);
  if (problem !== undefined) throw new VerkError(`${method}: ${problem}`);
}

/** A loop that has not heard from Redis for this long is unhealthy. */
const STALE_MS = 10_000;
/** How often counters are flushed to Redis. */
const STATS_FLUSH_MS = 5_000;

/**
 * Options of `new Verk(...)`: the configuration options plus the workers.
 *
 * @example
 * ```ts
 * import { Verk, type VerkInit } from "@verk/verk";
 * const init: VerkInit = {
 *   queues: { default: 25, priority: 10 },
 *   workers: { ExampleWorker: { perform: (a: number, b: number) => a + b } },
 * };
 * const verk = new Verk(init);
 * ```
 */
export interface VerkInit<W extends WorkerRegistry = WorkerRegistry> extends VerkOptions {
  /** Workers by the class name jobs carry. More can be added with `register`. */
  workers?: W;
  /**
   * Extra ioredis connection options for every connection, passed through as
   * given (e.g. `{ tls: { ca } }`, `{ sentinels, name }`). Options Verk relies on
   * (protocol, offline queue, re-sends, retry strategy) are always Verk's.
   */
  redisOptions?: Readonly<Record<string, unknown>>;
}

/**
 * A job for class `C`: when `C` is registered in `W`, `args` must match its
 * `perform`; any other class name (a worker in another process) takes any args.
 *
 * @example
 * ```ts
 * import type { JobFor, WorkerObject } from "@verk/verk";
 * type Workers = { Add: WorkerObject<[number, number]> };
 * const job: JobFor<Workers, "Add"> = { queue: "default", class: "Add", args: [1, 2] };
 * ```
 */
export type JobFor<W extends WorkerRegistry, C extends string> = JobInput<
  C,
  C extends keyof W ? ArgsOf<W[C]> : unknown[]
>;

/**
 * A Verk node: runs the configured queues and enqueues jobs.
 *
 * @example Run a worker and enqueue a job
 * ```ts
 * import { Verk } from "@verk/verk";
 * const workers = {
 *   ExampleWorker: { perform: (a: number, b: number) => console.log(a + b) },
 * };
 * await using verk = new Verk({ queues: { default: 25 }, workers });
 * await verk.start();
 * await verk.enqueue({ queue: "default", class: "ExampleWorker", args: [1, 2] });
 * ```
 */
export class Verk<W extends WorkerRegistry = WorkerRegistry> implements AsyncDisposable {
  /** The resolved, validated configuration. */
  readonly config: Config;
  /** This node's id (random when `generateNodeId` is set). */
  readonly nodeId: string;
  #workers = new Map<string, AnyWorker>();
  #redisOptions: Readonly<Record<string, unknown>> | undefined;
  #producer: Redis;
  #client: Client;
  #stats = new Stats();
  #events = new EventBus();
  /** Queues to run and their concurrency: the configured ones, then addQueue/removeQueue. */
  #queues: Map<string, number>;
  #loops = new Map<string, QueueLoop>();
  #node: Node | undefined;
  #scheduler: Scheduler | undefined;
  #schedulerRedis: Redis | undefined;
  #statsTimer: ReturnType<typeof setInterval> | undefined;
  #sidekiqHeartbeat: SidekiqHeartbeat | undefined;
  #quieted = false;
  #stopped = Promise.withResolvers<void>();
  #state: "idle" | "starting" | "running" | "stopping" | "stopped" = "idle";
  #stopping = new AbortController();
  #started: Promise<void> | undefined;

  /** Validates the options (throws ConfigError naming the option); connects lazily. */
  constructor(options: VerkInit<W> = {}) {
    const { workers, redisOptions, ...rest } = options;
    this.config = resolveConfig(rest);
    this.nodeId = this.config.generateNodeId ? randomHex(8) : this.config.nodeId;
    this.#redisOptions = redisOptions;
    for (const [name, worker] of Object.entries(workers ?? {})) this.register(name, worker);
    this.#queues = new Map(this.config.disabled ? [] : Object.entries(this.config.queues));
    this.#producer = this.#connect("producer", "producer");
    this.#client = new Client(this.#producer, this.config);
  }

  /** Registers (or replaces) the worker for a class name. */
  register(className: string, worker: AnyWorker): this {
    const isWorker = typeof worker === "function"
      ? typeof worker.prototype?.perform === "function"
      : typeof worker?.perform === "function";
    if (!className) throw new TypeError("register: the class name must be a non-empty string");
    if (!isWorker) throw new TypeError(`register: worker "${className}" has no perform method`);
    this.#workers.set(className, worker);
    return this;
  }

  /** Pushes a job on its queue; returns its jid. */
  enqueue<C extends string>(job: JobFor<W, C>): Promise<string> {
    return this.#client.enqueue(job);
  }

  /** Pushes many jobs, one round trip per 1000; returns their jids in order. */
  enqueueMany<C extends string>(jobs: readonly JobFor<W, C>[]): Promise<string[]> {
    return this.#client.enqueueMany(jobs);
  }

  /** Runs a job at `at` (a `Date`, `Temporal.Instant` or epoch ms); returns its jid. */
  schedule<C extends string>(job: JobFor<W, C>, at: TimeInput): Promise<string> {
    return this.#client.schedule(job, at);
  }

  /**
   * Connects (waiting with backoff while Redis is unreachable), takes the node
   * id, puts back this id's leftover in-progress jobs, then starts the queues,
   * the scheduler and the heartbeat — also with no queues yet (add them with
   * `addQueue`). With `disabled` it only connects. A producer that only
   * enqueues needs no `start()` at all.
   */
  start(): Promise<void> {
    if (this.#state !== "idle") {
      return Promise.reject(new VerkError(`start: this Verk is already ${this.#state}`));
    }
    this.#state = "starting";
    this.#started = this.#start();
    return this.#started;
  }

  async #start(): Promise<void> {
    await this.#waitForRedis();
    if (this.#stopping.signal.aborted) return;
    await this.#warnAboutEviction();
    const queues = [...this.#queues.keys()];
    if (!this.config.disabled) {
      const node = this.#node = new Node(this.#producer, this.config, this.nodeId, {
        publish: (event) => this.#events.publish(event),
        queues: () => [...this.#loops.keys()],
        onOwnership: (change) => {
          for (const loop of this.#loops.values()) {
            if (change === "taken") loop.detach();
            else loop.rejoin();
          }
        },
      });
      await node.claim(queues, this.#stopping.signal);
      for (const [queue, concurrency] of this.#queues) this.#startLoop(queue, concurrency);
      this.#schedulerRedis = this.#connect("scheduler", "worker");
      this.#scheduler = new Scheduler(this.#schedulerRedis, this.config);
      this.#scheduler.start();
      node.start();
      this.#sidekiqHeartbeat = new SidekiqHeartbeat({
        redis: this.#producer,
        nodeId: this.nodeId,
        heartbeatMs: this.config.heartbeat,
        snapshot: () => this.#processSnapshot(),
        onSignal: (signal) => signal === "TSTP" ? this.quiet() : void this.stop(),
      });
      this.#sidekiqHeartbeat.start();
      this.#statsTimer = setInterval(() => this.#flushStats(), STATS_FLUSH_MS);
      logger.info("node {id} running queues {queues}", {
        id: this.nodeId,
        queues: Object.fromEntries(this.#queues),
      });
    }
    this.#state = "running";
  }

  /**
   * Graceful stop: stop fetching, let running jobs finish for up to
   * `shutdownTimeout`, abort the rest and put them back on their queues, flush
   * the counters, remove the Sidekiq process record, free the node id and close
   * every connection. Calls made while stopping resolve when the stop is done.
   */
  async stop(): Promise<void> {
    // A second caller (a dispose during a stop from Sidekiq's UI) waits for the first.
    if (this.#state === "stopped" || this.#state === "stopping") return await this.#stopped.promise;
    this.#state = "stopping";
    this.#stopping.abort();
    await this.#started?.catch(() => {});
    clearInterval(this.#statsTimer);
    await Promise.all([this.#scheduler?.stop(this.config.enqueueTimeout), this.#node?.stop()]);
    await Promise.all(
      [...this.#loops.values()].map((loop) => loop.stop(this.config.shutdownTimeout)),
    );
    this.#loops.clear();
    await this.#flushStats();
    await this.#sidekiqHeartbeat?.stop();
    try {
      await this.#node?.release();
    } catch (error) {
      logger.warn("could not release node id {id} ({error}); it expires by itself", {
        id: this.nodeId,
        error: messageOf(error),
      });
    }
    this.#events.close();
    if (this.#schedulerRedis) disconnect(this.#schedulerRedis);
    this.#client.close();
    disconnect(this.#producer);
    this.#state = "stopped";
    this.#stopped.resolve();
    logger.info("node {id} stopped", { id: this.nodeId });
  }

  /**
   * Takes no new job on any queue, this node only (Sidekiq's "quiet"; the Quiet
   * button of Sidekiq's Busy page does the same): running jobs finish, then the
   * node idles until `stop()`. Scheduled and retry jobs still move to their
   * queues for other nodes. Not undone; queues added later are quiet too.
   */
  quiet(): void {
    if (this.#quieted) return;
    this.#quieted = true;
    logger.info("node {id} is quiet: taking no new jobs", { id: this.nodeId });
    for (const loop of this.#loops.values()) loop.quiet();
  }

  /** Same as `stop()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  /**
   * Stops gracefully on SIGINT or SIGTERM (as `deno task worker` does). Resolves
   * once stopped, also when the stop came from elsewhere (`stop()`, or the Stop
   * button of Sidekiq's Busy page).
   */
  stopOnSignals(signals: readonly Deno.Signal[] = ["SIGINT", "SIGTERM"]): Promise<void> {
    return new Promise((resolve) => {
      const unlisten = () => {
        for (const signal of signals) Deno.removeSignalListener(signal, handler);
      };
      const done = () => {
        unlisten();
        resolve();
      };
      const handler = () => {
        unlisten();
        logger.info("signal received: stopping (up to {ms} ms)", {
          ms: this.config.shutdownTimeout,
        });
        this.stop().then(done, done);
      };
      for (const signal of signals) Deno.addSignalListener(signal, handler);
      this.#stopped.promise.then(done);
    });
  }

  /**
   * Runs a queue on this node from now on, with its own loop and connections.
   * For a queue already running, changes its concurrency (no job is dropped).
   * Before `start()`, adds it to the queues `start()` runs.
   */
  async addQueue(queue: string, concurrency: number): Promise<void> {
    checkQueueName("addQueue", queue);
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new RangeError(
        `addQueue: concurrency of queue "${queue}" must be a positive integer: got ${concurrency}`,
      );
    }
    if (this.config.disabled) {
      throw new Error(`addQueue: this node is disabled (VERK_DISABLED), it runs no queue`);
    }
    const running = this.#loops.get(queue);
    this.#queues.set(queue, concurrency);
    if (running) {
      running.concurrency = concurrency;
      return;
    }
    if (this.#state !== "running") return;
    await this.#node!.registerQueue(queue);
    this.#startLoop(queue, concurrency);
    this.#events.publish({ type: "QueueAdded", queue, concurrency });
  }

  /**
   * Stops running a queue on this node: no new jobs; running jobs get up to
   * `shutdownTimeout` to finish, the rest are aborted and put back on the queue.
   */
  async removeQueue(queue: string): Promise<void> {
    checkQueueName("removeQueue", queue);
    this.#queues.delete(queue);
    const loop = this.#loops.get(queue);
    if (!loop) return;
    this.#loops.delete(queue);
    await loop.stop(this.config.shutdownTimeout);
    await this.#node?.unregisterQueue(queue);
    this.#events.publish({ type: "QueueRemoved", queue });
  }

  /**
   * Pauses a queue on every node: stored in Redis (`verk:paused`), so other nodes
   * follow within about a second and a restarted node comes back paused. Running
   * jobs finish (state pausing, then paused). Works from a producer too.
   */
  async pauseQueue(queue: string): Promise<void> {
    checkQueueName("pauseQueue", queue);
    await this.#client.send("pauseQueue", () => this.#producer.sadd(keys.PAUSED, queue));
    this.#loops.get(queue)?.setPaused(true);
  }

  /** Resumes a paused queue on every node. */
  async resumeQueue(queue: string): Promise<void> {
    checkQueueName("resumeQueue", queue);
    await this.#client.send("resumeQueue", () => this.#producer.srem(keys.PAUSED, queue));
    this.#loops.get(queue)?.setPaused(false);
  }

  /**
   * A stream of this node's events, filtered by type or predicate. Each call is
   * its own subscriber with a bounded buffer (`bufferSize`, default 1000): if it
   * falls behind, events are dropped and an `EventsDropped` event says how many.
   * Cancel the stream (or break out of `for await`) to unsubscribe; it ends when
   * the node stops.
   */
  events(filter?: EventFilter, options?: SubscribeOptions): ReadableStream<VerkEvent> {
    return this.#events.subscribe(filter, options);
  }

  /**
   * Whether each queue loop is connected and when it last heard from Redis,
   * for liveness/readiness probes (`deno task worker` serves it on
   * `VERK_HEALTH_PORT`).
   */
  health(): HealthReport {
    const now = Date.now();
    const queues: Record<string, QueueHealth> = {};
    let healthy = this.#state === "running";
    for (const [queue, loop] of this.#loops) {
      const entry = { ...loop.health(), status: loop.status };
      queues[queue] = entry;
      const fresh = entry.saturated ||
        (entry.lastContactAt !== undefined && now - entry.lastContactAt.getTime() < STALE_MS);
      healthy &&= entry.connected && entry.ownsNodeId && fresh;
    }
    return { healthy, state: this.#state, redis: this.#producer.status === "ready", queues };
  }

  /** Per-queue status and counts since this node started. */
  stats(): NodeStats {
    const counts = this.#stats.sinceStart();
    const queues: Record<string, QueueStats> = {};
    const totals = { running: 0, finished: 0, failed: 0 };
    for (const [queue, loop] of this.#loops) {
      const { processed = 0, failed = 0 } = counts.get(queue) ?? {};
      const entry = {
        status: loop.status,
        concurrency: loop.concurrency,
        running: loop.running,
        finished: processed - failed,
        failed,
      };
      queues[queue] = entry;
      totals.running += entry.running;
      totals.finished += entry.finished;
      totals.failed += entry.failed;
    }
    return { queues, totals };
  }

  #startLoop(queue: string, concurrency: number): void {
    const loop = new QueueLoop({
      queue,
      concurrency,
      nodeId: this.nodeId,
      holder: () => this.#node!.holder,
      config: this.config,
      workerFor: (className) => this.#workers.get(className),
      stats: this.#stats,
      events: this.#events,
      connect: (name) => this.#connect(name, "worker"),
    });
    this.#loops.set(queue, loop);
    if (this.#quieted) loop.quiet();
    loop.start();
  }

  #processSnapshot(): ProcessSnapshot {
    const queues = new Map<string, number>();
    const running: ProcessSnapshot["running"] = [];
    for (const [queue, loop] of this.#loops) {
      queues.set(queue, loop.concurrency);
      for (const job of loop.runningJobs()) running.push({ queue, job });
    }
    return { queues, running, quiet: this.#quieted || this.#stopping.signal.aborted };
  }

  #connect(name: string, role: ConnectionRole): Redis {
    return connect({
      url: this.config.redisUrl,
      name: `${this.nodeId}:${name}`,
      role,
      commandTimeout: this.config.enqueueTimeout,
      extra: this.#redisOptions as RedisOptions | undefined,
    });
  }

  async #waitForRedis(): Promise<void> {
    for (let attempt = 1; !this.#stopping.signal.aborted; attempt++) {
      try {
        await whenReady(this.#producer, this.config.enqueueTimeout);
        if (attempt > 1) logger.info("connected to Redis");
        return;
      } catch (error) {
        const delay = backoffDelay(attempt, 200, 5_000);
        if (attempt === 1) {
          logger.warn("Redis is unreachable ({error}); retrying with backoff", {
            error: messageOf(error),
          });
        }
        await sleep(delay, this.#stopping.signal);
      }
    }
  }

  /** Eviction deletes jobs silently: say so once, clearly. */
  async #warnAboutEviction(): Promise<void> {
    try {
      const reply = await this.#producer.config("GET", "maxmemory-policy") as string[];
      const policy = reply[1];
      if (policy && policy !== "noeviction") {
        logger.warn(
          "Redis maxmemory-policy is {policy}: Redis may evict keys and so delete jobs. Set maxmemory-policy noeviction.",
          { policy },
        );
      }
    } catch {
      // CONFIG is often disabled on managed Redis; nothing to check then.
    }
  }

  async #flushStats(): Promise<void> {
    try {
      await this.#stats.flush(this.#producer);
    } catch (error) {
      logger.warn("could not flush job counters ({error}); those counts are lost", {
        error: messageOf(error),
      });
    }
  }
}
