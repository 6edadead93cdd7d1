/**
 * The Sidekiq process record: how a Verk node shows on Sidekiq's Busy page,
 * and how that page's Quiet and Stop buttons reach it.
 *
 * Every beat (5 s, as Sidekiq's launcher, or the node heartbeat when shorter)
 * one MULTI writes what Sidekiq writes for a process and pops one signal:
 * - `processes` ← the identity `<hostname>:<pid>:<12 hex>`;
 * - the `<identity>` hash (TTL 60 s): `info` (JSON: hostname, started_at, pid,
 *   tag, concurrency, queues, labels, identity), `busy`, `beat`, `quiet`,
 *   `rss` (KB) and `rtt_us`;
 * - `<identity>:workers` (Sidekiq ≤ 6.4) and `<identity>:work` (6.5+), TTL 60 s:
 *   one field per running job, `{"queue":…,"payload":"<job JSON>","run_at":<epoch s>}`;
 * - `RPOP <identity>-signals`: `TSTP` quiets the node (no new jobs), `TERM` stops
 *   it gracefully. Sidekiq's UI and `Sidekiq::Process#quiet!`/`#stop!` push them.
 *
 * A MULTI, so the Busy page never sees a half-written record. Best effort: a
 * failed beat is logged once per outage and the next one rewrites everything;
 * if beats stop, the keys expire and Sidekiq drops the process. `stop()` deletes
 * the record at once.
 * @module
 */
import { jitter } from "./backoff.ts";
import { jsonEpoch } from "./job.ts";
import * as keys from "./keys.ts";
import { logAt, loggerFor, messageOf } from "./log.ts";
import { hostname, randomHex } from "./holder.ts";
import type { RunningJobInfo } from "./queue_loop.ts";
import type { Redis } from "./redis.ts";
import { sleep } from "./timers.ts";

/** Sidekiq's launcher beats every 5 s. */
const BEAT_MS = 5_000;
/** Sidekiq's TTL of a process record: gone a minute after its last beat. */
const RECORD_TTL_SECONDS = 60;

const logger = loggerFor("sidekiq");

/** A signal Sidekiq's UI sends a process. */
export type ProcessSignal = "TSTP" | "TERM";

/** What the node is doing now, read at every beat. */
export interface ProcessSnapshot {
  /** Queues this node runs, with their concurrency. */
  queues: ReadonlyMap<string, number>;
  /** Jobs running now, per queue. */
  running: { queue: string; job: RunningJobInfo }[];
  /** No new jobs are taken (quieted or stopping). */
  quiet: boolean;
}

/** What a process record needs from its node. */
export interface SidekiqHeartbeatOptions {
  /** A producer connection (fails fast while Redis is away). */
  redis: Redis;
  /** Shown as a label, `node <id>`. */
  nodeId: string;
  /** The node heartbeat, ms: beats come every `min(5 s, heartbeat)`. */
  heartbeatMs: number;
  snapshot: () => ProcessSnapshot;
  /** Called (not awaited) for each signal popped. */
  onSignal: (signal: ProcessSignal) => void;
}

/** Writes a Verk node's Sidekiq process record every beat and obeys its signals. */
export class SidekiqHeartbeat {
  /** `<hostname>:<pid>:<12 hex>`, as Sidekiq builds it. */
  readonly identity: string;
  #options: SidekiqHeartbeatOptions;
  #startedAt = jsonEpoch(Date.now());
  #rttMicros = 0;
  #failures = 0;
  #stopped = new AbortController();
  #loop: Promise<void> | undefined;

  /** Prepares the record; nothing is written before `start`. */
  constructor(options: SidekiqHeartbeatOptions) {
    this.#options = options;
    this.identity = `${hostname()}:${Deno.pid}:${randomHex(6)}`;
  }

  /** Writes the record now, then every beat. */
  start(): void {
    this.#loop ??= this.#run();
  }

  /** Stops beating and deletes the record (best effort). */
  async stop(): Promise<void> {
    this.#stopped.abort();
    await this.#loop;
    const [workers, work] = keys.processWorkKeys(this.identity);
    try {
      await this.#options.redis.multi()
        .srem(keys.PROCESSES, this.identity)
        .del(this.identity, workers, work)
        .exec();
    } catch (error) {
      logger.warn("could not remove Sidekiq process {identity} ({error}); it expires in 60 s", {
        identity: this.identity,
        error: messageOf(error),
      });
    }
  }

  async #run(): Promise<void> {
    const interval = Math.min(BEAT_MS, this.#options.heartbeatMs);
    while (!this.#stopped.signal.aborted) {
      await this.#beatLogged();
      await sleep(jitter(interval), this.#stopped.signal);
    }
  }

  async #beatLogged(): Promise<void> {
    try {
      const signal = await this.beat();
      if (this.#failures > 0) logger.info("Sidekiq process record written again");
      this.#failures = 0;
      if (signal !== undefined) this.#obey(signal);
    } catch (error) {
      const level = this.#failures++ === 0 ? "warning" : "debug";
      logAt(logger, level, "could not write the Sidekiq process record ({error})", {
        error: messageOf(error),
      });
    }
  }

  /** Writes the record once; returns the signal popped, if any. */
  async beat(): Promise<string | undefined> {
    const { queues, running, quiet } = this.#options.snapshot();
    const id = this.identity;
    const [workersKey, workKey] = keys.processWorkKeys(id);
    const now = Date.now();
    const multi = this.#options.redis.multi()
      .sadd(keys.PROCESSES, id)
      .hset(id, {
        info: this.#info(queues),
        busy: running.length,
        beat: jsonEpoch(now),
        quiet: String(quiet),
        rss: Math.round(Deno.memoryUsage().rss / 1024),
        rtt_us: this.#rttMicros,
      })
      .expire(id, RECORD_TTL_SECONDS)
      .del(workersKey, workKey);
    if (running.length > 0) {
      const work: Record<string, string> = {};
      for (const { queue, job } of running) {
        work[job.id] = `{"queue":${JSON.stringify(queue)},"payload":${
          JSON.stringify(job.payload)
        },"run_at":${Math.floor(job.startedAt / 1000)}}`;
      }
      for (const key of [workersKey, workKey]) {
        multi.hset(key, work).expire(key, RECORD_TTL_SECONDS);
      }
    }
    multi.rpop(keys.processSignalsKey(id));
    const sent = performance.now();
    const replies = await multi.exec();
    this.#rttMicros = Math.round((performance.now() - sent) * 1000);
    const last = replies?.at(-1);
    if (last?.[0]) throw last[0];
    return typeof last?.[1] === "string" ? last[1] : undefined;
  }

  #info(queues: ReadonlyMap<string, number>): string {
    let concurrency = 0;
    for (const value of queues.values()) concurrency += value;
    // started_at by hand: a timestamp always has a fractional part (see jsonEpoch).
    return `{"hostname":${
      JSON.stringify(hostname())
    },"started_at":${this.#startedAt},"pid":${Deno.pid},` +
      `"tag":"verk","concurrency":${concurrency},"queues":${JSON.stringify([...queues.keys()])},` +
      `"labels":${JSON.stringify(["deno", `node ${this.#options.nodeId}`])},"identity":${
        JSON.stringify(this.identity)
      }}`;
  }

  #obey(signal: string): void {
    if (signal === "TSTP" || signal === "TERM") {
      logger.info("{signal} from Sidekiq (web UI or API): {action}", {
        signal,
        action: signal === "TSTP" ? "taking no new jobs" : "stopping",
      });
      this.#options.onSignal(signal);
    } else {
      logger.info("ignoring signal {signal} from Sidekiq: only TSTP and TERM are obeyed", {
        signal,
      });
    }
  }
}
