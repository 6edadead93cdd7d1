/**
 * The storage contract: one typed function per script in `lua/`, with its keys
 * taken from keys.ts. Every job move that must be atomic goes through here.
 * @module
 */
import type { Buffer } from "node:buffer";
import * as keys from "./keys.ts";
import { type Redis, type RedisArg, runScript } from "./redis.ts";

/** What `ackAndFetch` found. */
export interface Fetched {
  /** The node id is no longer ours: nothing was acknowledged or taken. */
  lost: boolean;
  /** The queue is paused (nothing was taken). */
  paused: boolean;
  /** Taken payloads, oldest first, as exact bytes. */
  jobs: Buffer[];
}

/**
 * Acknowledges `acks` (exact payloads) and takes up to `take` jobs unless the
 * queue is paused, provided the node id is still held by `holder`.
 */
export async function ackAndFetch(
  redis: Redis,
  queue: string,
  nodeId: string,
  holder: string,
  take: number,
  acks: readonly RedisArg[],
): Promise<Fetched> {
  const [state, ...jobs] = await runScript(
    redis,
    "ack_and_fetch-6",
    [
      keys.queueKey(queue),
      keys.inProgressKey(queue, nodeId),
      keys.NODES,
      keys.nodeQueuesKey(nodeId),
      keys.PAUSED,
      keys.nodeKey(nodeId),
    ],
    [take, nodeId, queue, holder, ...acks],
    true,
  ) as [number, ...Buffer[]];
  return { lost: state === -1, paused: state === 1, jobs };
}

/** Where a job to settle is: a node's in-progress list or a sorted set. */
export type SettleSource = { list: string } | { zset: string };

/** What `settle` does with the job once it is taken out of its source. */
export type Settlement =
  | { action: "retry"; payload: string; retryAtMs: number }
  | { action: "dead"; payload: string; maxDeadJobs: number; deadTimeoutMs: number }
  | { action: "drop" };

/**
 * Takes `member` out of `source` and, in the same step, writes the settlement.
 * Returns false when the member was no longer there (nothing written).
 */
export async function settle(
  redis: Redis,
  source: SettleSource,
  member: RedisArg,
  settlement: Settlement,
): Promise<boolean> {
  const [kind, key] = "list" in source ? ["list", source.list] : ["zset", source.zset];
  const reply = await runScript(redis, "settle-3", [key, keys.RETRY, keys.DEAD], [
    kind,
    member,
    settlement.action,
    settlement.action === "drop" ? "" : settlement.payload,
    settlement.action === "retry" ? (settlement.retryAtMs / 1000).toFixed(3) : "0",
    settlement.action === "dead" ? settlement.maxDeadJobs : 0,
    settlement.action === "dead" ? Math.floor(settlement.deadTimeoutMs / 1000) : 0,
  ]);
  return reply === 1;
}

/** Due members of `schedule` or `retry`, judged by Redis' clock. */
export interface DueJobs {
  /** Redis' time, epoch ms. */
  nowMs: number;
  /** Score (epoch ms) of the first member not returned, if any. */
  nextMs: number | undefined;
  /** Members as stored, exact bytes. */
  members: Buffer[];
}

/** Lists up to `limit` due members of a sorted set. */
export async function dueJobs(redis: Redis, set: string, limit: number): Promise<DueJobs> {
  const reply = await runScript(redis, "due_jobs-1", [set], [limit], true) as Buffer[];
  const [seconds, micros, next, ...members] = reply;
  return {
    nowMs: Number(String(seconds)) * 1000 + Math.floor(Number(String(micros)) / 1000),
    nextMs: next?.length ? Number(String(next)) * 1000 : undefined,
    members,
  };
}

/** One due job to move: the member as stored, the payload to push and its queue. */
export interface DueMove {
  member: RedisArg;
  payload: string;
  queue: string;
}

/** Moves due jobs to their queues (each only if still in the set); returns how many moved. */
export async function enqueueDue(
  redis: Redis,
  set: string,
  moves: readonly DueMove[],
): Promise<number> {
  if (moves.length === 0) return 0;
  const args = moves.flatMap((move) => [move.member, move.payload, move.queue]);
  const queueKeys = moves.map((move) => keys.queueKey(move.queue));
  return await runScript(redis, "enqueue_due-2", [set, keys.QUEUES, ...queueKeys], args) as number;
}

/** Which in-progress lists of a node to put back, and on what condition. */
export interface RecoverNode {
  nodeId: string;
  /** The liveness value the caller holds; omit to require the node to be dead. */
  holder?: string;
  /** One queue; omit for every queue the node registered. */
  queue?: string;
  /** Remove the node from `verk_nodes` afterwards. */
  forget?: boolean;
}

/** Puts a node's in-progress jobs back on their queues; -1 when the liveness condition failed. */
export async function recoverNode(redis: Redis, options: RecoverNode): Promise<number> {
  const { nodeId } = options;
  return await runScript(
    redis,
    "recover_node-3",
    [keys.nodeKey(nodeId), keys.NODES, keys.nodeQueuesKey(nodeId)],
    [nodeId, options.holder ?? "", options.queue ?? "", options.forget ? "forget" : ""],
  ) as number;
}

/** One in-progress job to recover: its exact payload and its jid ("" when unreadable). */
export interface RecoverableJob {
  payload: RedisArg;
  jid: string;
}

/**
 * Puts some of a node's in-progress jobs back on `queue`, counting each job's
 * recoveries in `verk:recoveries`. Returns how many moved and the payloads over
 * `maxRecoveries` (left in place), or `moved: -1` when the liveness condition failed.
 */
export async function recoverJobs(
  redis: Redis,
  nodeId: string,
  queue: string,
  holder: string,
  maxRecoveries: number,
  jobs: readonly RecoverableJob[],
): Promise<{ moved: number; poisoned: Buffer[] }> {
  const [moved, ...poisoned] = await runScript(
    redis,
    "recover_jobs-4",
    [
      keys.nodeKey(nodeId),
      keys.inProgressKey(queue, nodeId),
      keys.queueKey(queue),
      keys.RECOVERIES,
    ],
    [holder, maxRecoveries, ...jobs.flatMap((job) => [job.payload, job.jid])],
    true,
  ) as [number, ...Buffer[]];
  return { moved, poisoned };
}

/** Puts back jobs that sit in our in-progress list without running here. */
export async function requeueOrphans(
  redis: Redis,
  queue: string,
  nodeId: string,
  payloads: readonly RedisArg[],
): Promise<number> {
  if (payloads.length === 0) return 0;
  return await runScript(
    redis,
    "requeue_orphans-2",
    [keys.inProgressKey(queue, nodeId), keys.queueKey(queue)],
    payloads,
  ) as number;
}

/**
 * Takes or refreshes a node id's liveness key. Returns "RENEWED" (it was ours),
 * "TAKEN" (it was free, or held by `replaceable`, a holder shown to be gone),
 * or the live holder's value when another process holds it.
 */
export async function claimNode(
  redis: Redis,
  nodeId: string,
  holder: string,
  ttlMs: number,
  replaceable = "",
): Promise<string> {
  return await runScript(redis, "claim_node-1", [keys.nodeKey(nodeId)], [
    holder,
    ttlMs,
    replaceable,
  ]) as string;
}

/** Deletes the liveness key if `holder` still holds it. */
export async function releaseNode(redis: Redis, nodeId: string, holder: string): Promise<boolean> {
  return await runScript(redis, "release_node-1", [keys.nodeKey(nodeId)], [holder]) === 1;
}
