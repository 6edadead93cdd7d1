/**
 * What a node reports about itself: `verk.stats()` (counts since start) and
 * `verk.health()` (for container probes).
 * @module
 */
import type { QueueStatus } from "./queue_loop.ts";

/** One queue's numbers on this node since it started. */
export interface QueueStats {
  /** running, idle (running with no job), pausing or paused. */
  status: QueueStatus;
  /** How many jobs may run at once. */
  concurrency: number;
  /** Jobs running now. */
  running: number;
  /** Jobs that finished without error. */
  finished: number;
  /** Jobs that failed. */
  failed: number;
}

/**
 * What `verk.stats()` returns: per queue and in total, since this node started.
 *
 * @example
 * ```ts
 * import type { NodeStats } from "@verk/verk";
 * function report(stats: NodeStats) {
 *   for (const [queue, q] of Object.entries(stats.queues)) console.log(queue, q.status, q.finished);
 * }
 * ```
 */
export interface NodeStats {
  /** Per queue this node runs. */
  queues: Record<string, QueueStats>;
  /** Sums over those queues. */
  totals: { running: number; finished: number; failed: number };
}

/** One queue loop's health. */
export interface QueueHealth {
  /** The loop's command connection is up. */
  connected: boolean;
  /** When Redis last answered the loop (it asks at least once a second while running). */
  lastContactAt: Date | undefined;
  /** Every slot is taken: the loop has no reason to talk to Redis until a job ends. */
  saturated: boolean;
  /** Redis says the node id is ours; when not, the loop takes no job (see Node ids). */
  ownsNodeId: boolean;
  /** running, idle, pausing or paused. */
  status: QueueStatus;
}

/**
 * What `verk.health()` returns, for container probes.
 *
 * @example
 * ```ts
 * import type { HealthReport } from "@verk/verk";
 * const toResponse = (report: HealthReport) => Response.json(report, { status: report.healthy ? 200 : 503 });
 * ```
 */
export interface HealthReport {
  /**
   * Running, and every queue loop is connected and heard from Redis within the
   * last 10 s (or is saturated: all its slots busy).
   */
  healthy: boolean;
  /** The node's lifecycle state. */
  state: "idle" | "starting" | "running" | "stopping" | "stopped";
  /** The general connection (enqueue, heartbeat, stats) is up. */
  redis: boolean;
  /** Per queue loop. */
  queues: Record<string, QueueHealth>;
}
