/**
 * The `Verk` node: wires configuration, connections, queue loops, the
 * scheduler, the node heartbeat and stats together, and offers enqueueing.
 * Lifecycle verbs: `start()`, `stop()` (graceful, bounded by
 * `shutdownTimeout`), also `await using`.
 * @module
 */
import { backoffDelay } from "./backoff.ts";
import { type Config, resolveConfig, validateQueueName, type VerkOptions } from "./config.ts";
import { Client, type JobInput, ready } from "./client.ts";
import { loggerFor, messageOf } from "./log.ts";
import { Node, randomHex } from "./node.ts";
import { QueueLoop } from "./queue_loop.ts";
import {
  connect,
  type ConnectionRole,
  disconnect,
  type Redis,
  type RedisOptions,
} from "./redis.ts";
import { Scheduler, sleep } from "./scheduler.ts";
import { Stats } from "./stats.ts";
import type { AnyWorker, ArgsOf, TimeInput, WorkerRegistry } from "./worker.ts";

const logger = loggerFor("node");
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

/** A job for worker `C` of registry `W`, with that worker's argument types. */
export type JobFor<W extends WorkerRegistry, C extends keyof W & string> = JobInput<
  C,
  ArgsOf<W[C]>
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
  #loops = new Map<string, QueueLoop>();
  #node: Node | undefined;
  #scheduler: Scheduler | undefined;
  #schedulerRedis: Redis | undefined;
  #statsTimer: ReturnType<typeof setInterval> | undefined;
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
   * the scheduler and the heartbeat. With `disabled` or no queues it only
   * connects: the instance is a producer.
   */
  start(): Promise<void> {
    if (this.#state !== "idle") throw new Error(`start: this Verk is already ${this.#state}`);
    this.#state = "starting";
    this.#started = this.#start();
    return this.#started;
  }

  async #start(): Promise<void> {
    await this.#waitForRedis();
    if (this.#stopping.signal.aborted) return;
    await this.#warnAboutEviction();
    const queues = this.config.disabled ? [] : Object.keys(this.config.queues);
    if (queues.length > 0) {
      const node = this.#node = new Node(this.#producer, this.config, this.nodeId);
      await node.claim(queues, this.#stopping.signal);
      await node.recoverDeadNodes();
      for (const queue of queues) this.#startLoop(queue, this.config.queues[queue]!);
      this.#schedulerRedis = this.#connect("scheduler", "worker");
      this.#scheduler = new Scheduler(this.#schedulerRedis, this.config);
      this.#scheduler.start();
      node.start();
      this.#statsTimer = setInterval(() => this.#flushStats(), STATS_FLUSH_MS);
      logger.info("node {id} running queues {queues}", {
        id: this.nodeId,
        queues: this.config.queues,
      });
    }
    this.#state = "running";
  }

  /**
   * Graceful stop: stop fetching, let running jobs finish for up to
   * `shutdownTimeout`, abort the rest and put them back on their queues, flush
   * the counters, free the node id and close every connection.
   */
  async stop(): Promise<void> {
    if (this.#state === "stopped" || this.#state === "stopping") return;
    this.#state = "stopping";
    this.#stopping.abort();
    await this.#started?.catch(() => {});
    clearInterval(this.#statsTimer);
    await Promise.all([this.#scheduler?.stop(), this.#node?.stop()]);
    await Promise.all(
      [...this.#loops.values()].map((loop) => loop.stop(this.config.shutdownTimeout)),
    );
    this.#loops.clear();
    await this.#flushStats();
    try {
      await this.#node?.release();
    } catch (error) {
      logger.warn("could not release node id {id} ({error}); it expires by itself", {
        id: this.nodeId,
        error: messageOf(error),
      });
    }
    if (this.#schedulerRedis) disconnect(this.#schedulerRedis);
    disconnect(this.#producer);
    this.#state = "stopped";
    logger.info("node {id} stopped", { id: this.nodeId });
  }

  /** Same as `stop()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  /**
   * Stops gracefully on SIGINT or SIGTERM (as `deno task worker` does). Resolves
   * once stopped.
   */
  stopOnSignals(signals: readonly Deno.Signal[] = ["SIGINT", "SIGTERM"]): Promise<void> {
    return new Promise((resolve) => {
      const handler = () => {
        for (const signal of signals) Deno.removeSignalListener(signal, handler);
        logger.info("signal received: stopping (up to {ms} ms)", {
          ms: this.config.shutdownTimeout,
        });
        this.stop().then(resolve, resolve);
      };
      for (const signal of signals) Deno.addSignalListener(signal, handler);
    });
  }

  #startLoop(queue: string, concurrency: number): void {
    validateQueueName(queue);
    const loop = new QueueLoop({
      queue,
      concurrency,
      nodeId: this.nodeId,
      holder: () => this.#node!.holder,
      config: this.config,
      workerFor: (className) => this.#workers.get(className),
      stats: this.#stats,
      connect: (name) => this.#connect(name, "worker"),
    });
    this.#loops.set(queue, loop);
    loop.start();
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
        await ready(this.#producer, this.config.enqueueTimeout);
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
