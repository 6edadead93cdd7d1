/**
 * The node: its id, its liveness key and the heartbeat that keeps it fresh
 * and recovers the jobs of nodes that died.
 *
 * Every node keeps `verk:node:<id>` = `<hostname>:<pid>:<token>` with a TTL of
 * 2 × heartbeat. A node starting with an id held by a live process is refused;
 * a holder that is demonstrably gone (same host and a pid that is not running,
 * or our own pid: a restarted container is pid 1 again) is replaced at once; a
 * holder on another host is waited out until its key expires. Each heartbeat
 * also puts back the in-progress jobs of nodes whose key has expired.
 * @module
 */
import { backoffDelay, jitter } from "./backoff.ts";
import type { Config } from "./config.ts";
import type { Buffer } from "node:buffer";
import type { VerkEvent } from "./events.ts";
import { parseJob, parseJobBytes, setTopLevelFields } from "./job.ts";
import { NodeIdInUseError } from "./errors.ts";
import * as keys from "./keys.ts";
import { loggerFor, messageOf } from "./log.ts";
import type { Redis } from "./redis.ts";
import { errorFields } from "./retry.ts";
import { claimNode, recoverJobs, recoverNode, releaseNode, settle } from "./scripts.ts";
import { BLOCK_SECONDS } from "./queue_loop.ts";
import { sleep } from "./timers.ts";
import { hostname, parseHolder, processState, randomHex } from "./holder.ts";

const logger = loggerFor("node");
/** A job recovered from dead nodes more often than this goes to the dead set. */
const MAX_RECOVERIES = 3;
/** In-progress jobs recovered per script call. */
const RECOVERY_BATCH = 100;
/**
 * How long a dead node's lists keep being swept before the node is forgotten.
 * Its last blocking fetch (BLMOVE into its in-progress list, which no script
 * guards) can still take a job up to BLOCK_SECONDS after it died; forgetting
 * the node earlier would strand that job where no sweep looks.
 */
const FORGET_AFTER_MS = 2 * BLOCK_SECONDS * 1_000;

/** The jid of a payload, or "" when it cannot be read (such a job is not counted). */
function jidOf(payload: Buffer): string {
  const { result } = parseJobBytes(payload);
  return result.ok ? result.job.jid : "";
}
/** Node ids held by Verk instances of this process: the pid rule cannot tell them apart. */
const heldHere = new Set<string>();

/** How the node reaches the rest of Verk. */
export interface NodeHooks {
  /** Reports recovered nodes and poison jobs. */
  publish: (event: VerkEvent) => void;
  /** The queues this node runs now. */
  queues: () => readonly string[];
  /**
   * The node id had stopped being ours: `regained` (it had lapsed; we hold it
   * again) or `taken` (another process holds it: take no job until it is free).
   */
  onOwnership: (change: "regained" | "taken") => Promise<void> | void;
}

/** One node's identity in Redis, its heartbeat and dead-node recovery. */
export class Node {
  /** The node id. */
  readonly id: string;
  /** Our liveness value, `<hostname>:<pid>:<token>`. */
  readonly holder: string;
  #redis: Redis;
  #config: Config;
  #stopped = new AbortController();
  #loop: Promise<void> | undefined;
  #hooks: NodeHooks;
  #evicted = false;
  /** Since when the heartbeat has reached Redis without a failure (epoch ms). */
  #contactSince: number | undefined;
  /** Dead nodes not forgotten yet, and when this node first found each dead (epoch ms). */
  #deadSince = new Map<string, number>();

  /** Prepares the node; nothing is written before `claim`. */
  constructor(redis: Redis, config: Config, id: string, hooks: NodeHooks) {
    this.#redis = redis;
    this.#config = config;
    this.#hooks = hooks;
    this.id = id;
    this.holder = `${hostname()}:${Deno.pid}:${randomHex(6)}`;
  }

  get #ttl(): number {
    return 2 * this.#config.heartbeat;
  }

  /**
   * Takes the node id, or throws NodeIdInUseError when a live process holds it.
   * Then registers the node and its queues and puts this id's leftover
   * in-progress jobs (from a crash) back on their queues.
   */
  async claim(queues: readonly string[], signal?: AbortSignal): Promise<void> {
    if (heldHere.has(this.id)) {
      throw new NodeIdInUseError(this.id, `${hostname()}:${Deno.pid} (this process)`);
    }
    const waitUntil = Date.now() + this.#ttl + 1_000;
    let warned = false;
    let reply = await claimNode(this.#redis, this.id, this.holder, this.#ttl);
    while (reply !== "TAKEN" && reply !== "RENEWED") {
      const holder = parseHolder(reply);
      const sameHost = holder?.hostname === hostname();
      const state = holder && sameHost ? processState(holder.pid) : "unknown";
      if (holder && sameHost && (holder.pid === Deno.pid || state === "gone")) {
        logger.info("node id {id} was held by {holder}, which is gone: taking it over", {
          id: this.id,
          holder: reply,
        });
        reply = await claimNode(this.#redis, this.id, this.holder, this.#ttl, reply);
        continue;
      }
      if ((sameHost && state === "running") || Date.now() >= waitUntil || signal?.aborted) {
        throw new NodeIdInUseError(this.id, reply);
      }
      if (!warned) {
        const why = sameHost
          ? "this process may not read /proc to see whether that pid still runs (grant --allow-read=/proc)"
          : "it runs on another host";
        logger.warn(
          "node id {id} is held by {holder} and {why}; waiting up to {ms} ms for its key to expire",
          {
            id: this.id,
            holder: reply,
            why,
            ms: waitUntil - Date.now(),
          },
        );
        warned = true;
      }
      await sleep(Math.min(1_000, this.#ttl), signal ?? this.#stopped.signal);
      reply = await claimNode(this.#redis, this.id, this.holder, this.#ttl);
    }
    heldHere.add(this.id);
    this.#contactSince = Date.now();
    await this.#register(queues);
    const moved = await this.#recover(this.id, this.holder);
    if (moved > 0) {
      logger.info("put {moved} jobs left in progress by node {id} back on their queues", {
        moved,
        id: this.id,
      });
    }
  }

  /** Puts the node in `verk_nodes` and its queues in `verk:node:<id>:queues`. */
  async #register(queues: readonly string[]): Promise<void> {
    const multi = this.#redis.multi().sadd(keys.NODES, this.id);
    if (queues.length > 0) multi.sadd(keys.nodeQueuesKey(this.id), ...queues);
    await multi.exec();
  }

  /** Adds a queue to those this node may hold in-progress jobs for. */
  async registerQueue(queue: string): Promise<void> {
    await this.#redis.sadd(keys.nodeQueuesKey(this.id), queue);
  }

  /** Removes a queue from those this node may hold in-progress jobs for (its list is empty). */
  async unregisterQueue(queue: string): Promise<void> {
    await this.#redis.srem(keys.nodeQueuesKey(this.id), queue);
  }

  /** Starts the heartbeat. */
  start(): void {
    this.#loop ??= this.#run();
  }

  /**
   * One heartbeat: refresh our key, then recover nodes whose key expired.
   *
   * Our key can be found missing (this process or Redis stalled past the TTL)
   * or held by another process. Missing: we take it again and the loops
   * rejoin. Held: that process owns this id's in-progress lists now, so the
   * loops detach their jobs and take nothing until the id is free again.
   */
  async beat(): Promise<void> {
    let reply: string;
    try {
      reply = await claimNode(this.#redis, this.id, this.holder, this.#ttl);
    } catch (error) {
      this.#contactSince = undefined;
      throw error;
    }
    this.#contactSince ??= Date.now();
    if (reply === "TAKEN") {
      logger.warn("node id {id}: our liveness key had lapsed; took it again", { id: this.id });
      await this.#register(this.#hooks.queues());
      this.#evicted = false;
      await this.#hooks.onOwnership("regained");
    } else if (reply !== "RENEWED" && !this.#evicted) {
      logger.error(
        "node id {id} is now held by {holder}: this process takes no job until it is free",
        {
          id: this.id,
          holder: reply,
        },
      );
      this.#evicted = true;
      await this.#hooks.onOwnership("taken");
    }
    await this.recoverDeadNodes();
  }

  /**
   * Puts back the in-progress jobs of every registered node whose key expired,
   * and forgets such a node once it has been dead for FORGET_AFTER_MS.
   */
  async recoverDeadNodes(): Promise<void> {
    // After an outage every key may have lapsed: give live nodes one TTL to renew
    // theirs before calling anyone dead (a Redis restart must not re-run live jobs).
    if (this.#contactSince === undefined || Date.now() - this.#contactSince < this.#ttl) return;
    const seen = new Set<string>();
    let cursor = "0";
    do {
      const [next, ids] = await this.#redis.sscan(keys.NODES, cursor, "COUNT", 500);
      cursor = next;
      const others = ids.filter((id) => id !== this.id);
      if (others.length === 0) continue;
      const alive = await this.#redis.pipeline(others.map((id) => ["exists", keys.nodeKey(id)]))
        .exec();
      for (const [index, id] of others.entries()) {
        if (alive?.[index]?.[1] !== 0) continue;
        seen.add(id);
        const recovered = await this.#recover(id, "");
        if (recovered < 0) continue; // it came back meanwhile
        const deadSince = this.#deadSince.get(id) ?? Date.now();
        this.#deadSince.set(id, deadSince);
        const forget = Date.now() - deadSince >= FORGET_AFTER_MS;
        const rest = await recoverNode(this.#redis, { nodeId: id, forget });
        if (forget && rest >= 0) this.#deadSince.delete(id);
        const moved = recovered + Math.max(rest, 0);
        if (moved > 0) {
          logger.warn("node {id} is gone: put {moved} of its jobs back on their queues", {
            id,
            moved,
          });
        }
      }
    } while (cursor !== "0");
    // Forget what this node no longer sees dead (it came back, or another node forgot it).
    for (const id of this.#deadSince.keys()) if (!seen.has(id)) this.#deadSince.delete(id);
  }

  /**
   * Puts back every in-progress job of `nodeId` (a dead node when `holder` is
   * "", else ours), counting each job's recoveries: a job recovered more than
   * MAX_RECOVERIES times keeps killing its workers, so it goes to the dead set
   * with the reason instead. Returns how many went back, or -1 when the node
   * turned out to be alive.
   */
  async #recover(nodeId: string, holder: string): Promise<number> {
    let moved = 0;
    for (const queue of await this.#redis.smembers(keys.nodeQueuesKey(nodeId))) {
      const list = keys.inProgressKey(queue, nodeId);
      for (;;) {
        const chunk = await this.#redis.lrangeBuffer(list, 0, RECOVERY_BATCH - 1);
        if (chunk.length === 0) break;
        const jobs = chunk.map((payload) => ({ payload, jid: jidOf(payload) }));
        const result = await recoverJobs(this.#redis, nodeId, queue, holder, MAX_RECOVERIES, jobs);
        if (result.moved < 0) return -1;
        moved += result.moved;
        for (const payload of result.poisoned) await this.#killPoisonJob(list, queue, payload);
        if (result.moved + result.poisoned.length === 0) break; // another node is moving them
      }
    }
    return moved;
  }

  async #killPoisonJob(list: string, queue: string, raw: Buffer): Promise<void> {
    const { text, result: parsed } = parseJobBytes(raw);
    if (!parsed.ok) return;
    const reason = `recovered ${MAX_RECOVERIES} times from nodes that died running it: ` +
      "it may crash its worker";
    const info = { errorClass: "PoisonJobError", message: reason, stackLines: [] };
    const fields = await errorFields(
      text,
      parsed.job,
      info,
      parsed.job.retry_count ?? 0,
      Date.now(),
      this.#config,
    );
    const payload = setTopLevelFields(text, fields);
    const { maxDeadJobs, deadTimeout } = this.#config;
    await settle(this.#redis, { list }, raw, {
      action: "dead",
      payload,
      maxDeadJobs,
      deadTimeoutMs: deadTimeout,
    });
    logger.error("{queue}: job {jid} {reason}; moved to the dead set", {
      queue,
      jid: parsed.job.jid,
      reason,
    });
    const dead = parseJob(payload);
    if (dead.ok) this.#hooks.publish({ type: "JobDead", job: dead.job, queue, reason });
  }

  async #run(): Promise<void> {
    const heartbeat = this.#config.heartbeat;
    let failures = 0;
    while (!this.#stopped.signal.aborted) {
      // After a failed beat, try again soon rather than a whole heartbeat later: the key
      // lives two heartbeats, so one missed beat would let it lapse, and peers would put
      // back the jobs this node is still running.
      const wait = failures === 0
        ? jitter(heartbeat, 0.1)
        : backoffDelay(failures - 1, Math.min(100, heartbeat / 4), heartbeat / 4);
      await sleep(wait, this.#stopped.signal);
      if (this.#stopped.signal.aborted) break;
      try {
        await this.beat();
        if (failures > 0) logger.info("heartbeat reaches Redis again");
        failures = 0;
      } catch (error) {
        // Logged once per outage, not once per beat.
        if (failures === 0) {
          logger.warn("heartbeat failed ({error}); will keep trying", { error: messageOf(error) });
        }
        failures++;
      }
    }
  }

  /** Stops the heartbeat. */
  async stop(): Promise<void> {
    this.#stopped.abort();
    await this.#loop;
  }

  /** Deregisters the node (after its queues have put their jobs back) and frees the id. */
  async release(): Promise<void> {
    try {
      await recoverNode(this.#redis, { nodeId: this.id, holder: this.holder, forget: true });
      await releaseNode(this.#redis, this.id, this.holder);
    } finally {
      heldHere.delete(this.id);
    }
  }
}
