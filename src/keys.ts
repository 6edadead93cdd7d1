/**
 * Every Redis key Verk reads or writes, built in one place. No prefix: the
 * keys are Sidekiq's and Verk's own (see wire-format.md), so all three share one
 * Redis. Isolation between applications is by database number.
 * @module
 */

/** Set of every queue name that has had a job enqueued. */
export const QUEUES = "queues";
/** Sorted set of jobs waiting for their time (score = epoch seconds). */
export const SCHEDULE = "schedule";
/** Sorted set of failed jobs waiting to be retried (score = epoch seconds). */
export const RETRY = "retry";
/** Sorted set of jobs that used up their retries (score = time of death). */
export const DEAD = "dead";
/** Set of node ids that may own in-progress jobs. */
export const NODES = "verk_nodes";
/** Set of paused queue names, shared by every node. */
export const PAUSED = "verk:paused";
/** Set of Sidekiq process identities (each one a hash with `info`, `busy`, `beat`, `quiet`). */
export const PROCESSES = "processes";
/** Hash jid -> times the job was recovered from a dead node. */
export const RECOVERIES = "verk:recoveries";

/** The list a queue's waiting jobs sit in. */
export const queueKey = (queue: string): string => `queue:${queue}`;
/** The list of jobs a node has taken from a queue and not yet finished. */
export const inProgressKey = (queue: string, nodeId: string): string =>
  `inprogress:${queue}:${nodeId}`;
/** A node's liveness key (`<hostname>:<pid>:<token>`, with a TTL). */
export const nodeKey = (nodeId: string): string => `verk:node:${nodeId}`;
/** The set of queues a node may hold in-progress jobs for. */
export const nodeQueuesKey = (nodeId: string): string => `verk:node:${nodeId}:queues`;
/** Lifetime counter of executed jobs (failures included), total or per queue/day. */
export const processedKey = (suffix?: string): string =>
  suffix === undefined ? "stat:processed" : `stat:processed:${suffix}`;
/** Lifetime counter of failed jobs, total or per queue/day. */
export const failedKey = (suffix?: string): string =>
  suffix === undefined ? "stat:failed" : `stat:failed:${suffix}`;

/** A process's running jobs: `<identity>:workers` (Sidekiq ≤ 6.4) and `<identity>:work` (6.5+). */
export const processWorkKeys = (identity: string): [string, string] => [
  `${identity}:workers`,
  `${identity}:work`,
];
/** Signals (`TSTP`, `TERM`) pushed to a process by Sidekiq's web UI or API. */
export const processSignalsKey = (identity: string): string => `${identity}-signals`;
