/**
 * Who is working: Verk nodes (`verk_nodes`, each with its liveness key and its
 * in-progress lists) and, on a Redis shared with Ruby, Sidekiq processes
 * (`processes` and each process's hash). Read-only, except putting a dead
 * node's in-progress jobs back, which reuses the heartbeat's recovery script
 * (recover_node-3): it refuses a node whose liveness key still exists.
 * @module
 */
import { AdminError } from "../errors.ts";
import { epochMsOf } from "../job.ts";
import * as keys from "../keys.ts";
import { type Redis, replyValues } from "../redis.ts";
import { holderIsGone } from "../holder.ts";
import { recoverNode, releaseNode } from "../scripts.ts";
import { checkQueue, connected, entryOf, type JobEntry } from "./entry.ts";

/**
 * A Verk node registered in `verk_nodes`.
 *
 * @example
 * ```ts
 * import type { NodeInfo } from "@verk/verk";
 * const line = (n: NodeInfo) => `${n.id} ${n.alive ? "alive" : "dead"} ${n.holder ?? ""}`;
 * ```
 */
export interface NodeInfo {
  /** The node id. */
  id: string;
  /** Whether its liveness key `verk:node:<id>` exists. */
  alive: boolean;
  /** The liveness value, `<hostname>:<pid>:<token>` (when alive). */
  holder?: string;
  /** Milliseconds until the liveness key expires (when alive). */
  ttlMs?: number;
  /** Queues it may hold in-progress jobs for, with how many it holds now. */
  inProgress: Record<string, number>;
}

/**
 * The jobs one node has taken from one queue and not finished.
 *
 * @example
 * ```ts
 * import type { InProgressJobs } from "@verk/verk";
 * const count = (lists: InProgressJobs[]) => lists.reduce((n, list) => n + list.jobs.length, 0);
 * ```
 */
export interface InProgressJobs {
  /** The node id. */
  nodeId: string;
  /** The queue the jobs came from. */
  queue: string;
  /** The jobs, newest first. */
  jobs: JobEntry[];
}

/**
 * A Sidekiq process from the `processes` set. Fields come from its hash's
 * `info` JSON; those it does not carry are absent.
 *
 * @example
 * ```ts
 * import type { SidekiqProcess } from "@verk/verk";
 * const line = (p: SidekiqProcess) => `${p.identity} busy ${p.busy}/${p.concurrency ?? "?"}`;
 * ```
 */
export interface SidekiqProcess {
  /** The identity, `<hostname>:<pid>:<12 hex>`. */
  identity: string;
  /** Whether its hash still exists (it expires 60 s after the last beat). */
  alive: boolean;
  /** Host name. */
  hostname?: string;
  /** Process id. */
  pid?: number;
  /** Sidekiq's `tag` (usually the app name). */
  tag?: string;
  /** Worker threads. */
  concurrency?: number;
  /** Queues it works. */
  queues: string[];
  /** Labels. */
  labels: string[];
  /** When it started. */
  startedAt?: Date;
  /** Jobs running now. */
  busy: number;
  /** Last heartbeat. */
  beat?: Date;
  /** Whether it is quiet (fetches no new jobs). */
  quiet: boolean;
  /** The whole `info` object as stored. */
  info: Record<string, unknown>;
}

/**
 * A job a Sidekiq process (or a Verk node writing Sidekiq's records) is running
 * now, from its `<identity>:work` hash (`:workers` before Sidekiq 6.5).
 *
 * @example
 * ```ts
 * import type { ProcessWork } from "@verk/verk";
 * const line = (w: ProcessWork) => `${w.job.jid} on ${w.queue} since ${w.runAt?.toISOString()}`;
 * ```
 */
export interface ProcessWork {
  /** The process identity. */
  identity: string;
  /** The hash field: Sidekiq's thread id (a job id for Verk nodes). */
  thread: string;
  /** The queue the job came from. */
  queue?: string;
  /** When it started. */
  runAt?: Date;
  /** The job (Sidekiq 7 stores the payload text; older versions an object, re-encoded here). */
  job: JobEntry;
}

/**
 * Verk nodes with their liveness and in-progress jobs, Sidekiq processes, and
 * recovery of a dead node's jobs. Usually reached as `admin.nodes`.
 *
 * @example
 * ```ts
 * import { Admin } from "@verk/verk";
 * await using admin = new Admin({ redisUrl: "redis://127.0.0.1:6379/0" });
 * for (const node of await admin.nodes.list()) {
 *   if (!node.alive) console.log(node.id, "moved back:", await admin.nodes.recover(node.id));
 * }
 * ```
 */
export class AdminNodes {
  #redis: Redis;

  /** Works on `redis`; `Admin` makes one for you. */
  constructor(redis: Redis) {
    this.#redis = redis;
  }

  /** Every node in `verk_nodes`, sorted by id. */
  async list(): Promise<NodeInfo[]> {
    const redis = await connected(this.#redis);
    const ids = (await redis.smembers(keys.NODES)).sort();
    if (ids.length === 0) return [];
    const pipeline = redis.pipeline();
    for (const id of ids) {
      pipeline.get(keys.nodeKey(id)).pttl(keys.nodeKey(id)).smembers(keys.nodeQueuesKey(id));
    }
    const replies = replyValues(await pipeline.exec());
    const nodes = ids.map((id, i): NodeInfo => {
      const holder = replies[3 * i] as string | null;
      const ttl = replies[3 * i + 1] as number;
      const queues = (replies[3 * i + 2] as string[]).sort();
      const inProgress = Object.fromEntries(queues.map((queue) => [queue, 0]));
      return holder === null
        ? { id, alive: false, inProgress }
        : { id, alive: true, holder, ttlMs: ttl >= 0 ? ttl : undefined, inProgress };
    });
    const lengths = redis.pipeline();
    for (const node of nodes) {
      for (const queue in node.inProgress) lengths.llen(keys.inProgressKey(queue, node.id));
    }
    const counts = replyValues(await lengths.exec()) as number[];
    let at = 0;
    for (const node of nodes) {
      for (const queue in node.inProgress) node.inProgress[queue] = counts[at++]!;
    }
    return nodes;
  }

  /**
   * The jobs `nodeId` holds in progress: for `queue`, or for every queue the
   * node registered.
   */
  async inProgress(nodeId: string, queue?: string): Promise<InProgressJobs[]> {
    checkNodeId(nodeId);
    const redis = await connected(this.#redis);
    const queues = queue === undefined
      ? (await redis.smembers(keys.nodeQueuesKey(nodeId))).sort()
      : [checkQueue(queue)];
    const pipeline = redis.pipeline();
    for (const name of queues) pipeline.lrange(keys.inProgressKey(name, nodeId), 0, -1);
    const lists = replyValues(await pipeline.exec()) as string[][];
    return queues.map((name, i) => ({ nodeId, queue: name, jobs: lists[i]!.map(entryOf) }));
  }

  /**
   * Puts the in-progress jobs of a dead node back on their queues (at the end
   * workers take from, so they run next): for `queue`, or for every queue the
   * node registered, after which the node is deregistered. Returns how many
   * jobs moved. Throws `AdminError` when the node's liveness key exists: a live
   * node is working on those jobs.
   */
  async recover(nodeId: string, queue?: string): Promise<number> {
    checkNodeId(nodeId);
    if (queue !== undefined) checkQueue(queue);
    const redis = await connected(this.#redis);
    // A holder on this machine whose pid is gone is dead even before its key expires.
    const holder = await redis.get(keys.nodeKey(nodeId));
    const gone = holder !== null && holderIsGone(holder);
    const moved = await recoverNode(redis, {
      nodeId,
      queue,
      holder: gone ? holder : undefined,
      forget: queue === undefined,
    });
    if (moved >= 0) {
      if (gone) await releaseNode(redis, nodeId, holder);
      return moved;
    }
    throw new AdminError(
      "node",
      `${JSON.stringify(nodeId)} is alive (held by ${holder ?? "a process"}): ` +
        `only a dead node's jobs can be moved back`,
    );
  }

  /**
   * The jobs a Sidekiq process is running now, by thread: its `<identity>:work`
   * hash, or `<identity>:workers` as Sidekiq before 6.5 wrote it. Entries that
   * are not readable are skipped (the hash is rewritten every beat).
   */
  async work(identity: string): Promise<ProcessWork[]> {
    checkNodeId(identity);
    const redis = await connected(this.#redis);
    const [workers, work] = keys.processWorkKeys(identity);
    const [old, current] = replyValues(
      await redis.pipeline().hgetall(workers).hgetall(work).exec(),
    ) as Record<string, string>[];
    const hash = Object.keys(current ?? {}).length > 0 ? current! : old ?? {};
    return Object.keys(hash).sort().flatMap((thread) => {
      const work = workOf(identity, thread, hash[thread]!);
      return work ? [work] : [];
    });
  }

  /** Sidekiq processes in the `processes` set, sorted by identity. */
  async processes(): Promise<SidekiqProcess[]> {
    const redis = await connected(this.#redis);
    const identities = (await redis.smembers(keys.PROCESSES)).sort();
    if (identities.length === 0) return [];
    const pipeline = redis.pipeline();
    for (const identity of identities) pipeline.hmget(identity, "info", "busy", "beat", "quiet");
    const replies = replyValues(await pipeline.exec()) as (string | null)[][];
    return identities.map((identity, i) => processOf(identity, replies[i]!));
  }
}

function checkNodeId(nodeId: string): void {
  if (typeof nodeId !== "string" || nodeId === "" || /\s/.test(nodeId)) {
    throw new AdminError(
      "nodeId",
      `must be a non-empty string without whitespace: got ${JSON.stringify(nodeId)}`,
    );
  }
}

function processOf(identity: string, [info, busy, beat, quiet]: (string | null)[]): SidekiqProcess {
  let fields: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(info ?? "{}");
    if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)) {
      fields = parsed as Record<string, unknown>;
    }
  } catch {
    // an unreadable info field: show the process with what the hash has
  }
  const text = (value: unknown) => typeof value === "string" ? value : undefined;
  const number = (value: unknown) => typeof value === "number" ? value : undefined;
  const strings = (value: unknown) =>
    Array.isArray(value) ? value.filter((item) => typeof item === "string") : [];
  const time = (seconds: number | undefined) =>
    seconds === undefined || !Number.isFinite(seconds) ? undefined : new Date(seconds * 1000);
  return {
    identity,
    alive: info !== null,
    hostname: text(fields.hostname),
    pid: number(fields.pid),
    tag: text(fields.tag),
    concurrency: number(fields.concurrency),
    queues: strings(fields.queues),
    labels: strings(fields.labels),
    startedAt: time(number(fields.started_at)),
    busy: Number(busy ?? 0) || 0,
    beat: time(beat === null ? undefined : Number(beat)),
    quiet: quiet === "true",
    info: fields,
  };
}

function workOf(identity: string, thread: string, value: string): ProcessWork | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return undefined;
  }
  if (typeof parsed !== "object" || parsed === null) return undefined;
  const { queue, payload, run_at: runAt } = parsed as Record<string, unknown>;
  if (payload === undefined || payload === null) return undefined;
  return {
    identity,
    thread,
    queue: typeof queue === "string" ? queue : undefined,
    runAt: typeof runAt === "number" && Number.isFinite(runAt)
      ? new Date(epochMsOf(runAt))
      : undefined,
    job: entryOf(typeof payload === "string" ? payload : JSON.stringify(payload)),
  };
}
