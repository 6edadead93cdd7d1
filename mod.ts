/**
 * Verk for Deno: Sidekiq-compatible, Redis-backed job processing.
 *
 * Jobs are Sidekiq-format JSON in Redis, so Ruby Sidekiq, Elixir Verk and this
 * library can share one Redis. Each queue runs isolated, with its own fetch
 * loop, worker pool and connections; a job is always in Redis (queue,
 * in-progress list, retry, schedule or dead set), never only in memory.
 *
 * @example A worker process
 * ```ts
 * import { Verk } from "@verk/verk";
 * const verk = new Verk({
 *   queues: { default: 25, priority: 10 },
 *   workers: { ExampleWorker: { perform: (a: number, b: number) => console.log(a + b) } },
 * });
 * await verk.start();
 * await verk.enqueue({ queue: "default", class: "ExampleWorker", args: [1, 2] });
 * await verk.stopOnSignals();
 * ```
 * @module
 */
export { type JobFor, Verk, type VerkInit } from "./src/verk.ts";
export type { HealthReport, NodeStats, QueueHealth, QueueStats } from "./src/reports.ts";
export type { QueueStatus } from "./src/queue_loop.ts";
export type {
  EventFilter,
  EventsDropped,
  JobDead,
  JobFailed,
  JobFinished,
  JobStarted,
  NodeRecovered,
  QueueAdded,
  QueueRemoved,
  QueueStateChanged,
  SubscribeOptions,
  VerkEvent,
  VerkEventType,
} from "./src/events.ts";
export type { JobInput } from "./src/client.ts";
export {
  type Config,
  configFromEnv,
  type LogLevel,
  parseQueueSpec,
  type VerkOptions,
} from "./src/config.ts";
export {
  AdminError,
  ConfigError,
  JobTimeoutError,
  JobValidationError,
  NodeIdInUseError,
  RedisUnavailableError,
  VerkError,
} from "./src/errors.ts";
export type { JobPayload } from "./src/job.ts";
export {
  type AnyWorker,
  type ArgsOf,
  type JobContext,
  type TimeInput,
  Worker,
  type WorkerClass,
  type WorkerObject,
  type WorkerRegistry,
  type WorkerThis,
} from "./src/worker.ts";
export { Admin, type AdminOptions } from "./src/admin/admin.ts";
export { AdminQueues, type QueueInfo } from "./src/admin/queues.ts";
export { type DeadSetLimits, JobSet, type JobSetName } from "./src/admin/job_sets.ts";
export {
  AdminNodes,
  type InProgressJobs,
  type NodeInfo,
  type ProcessWork,
  type SidekiqProcess,
} from "./src/admin/nodes.ts";
export {
  AdminStats,
  type DailyStats,
  type QueueCounters,
  type StatsSummary,
} from "./src/admin/stats.ts";
export type { JobEntry, Page, PageOptions, SetEntry } from "./src/admin/entry.ts";
