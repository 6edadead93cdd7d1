/**
 * Options a Verk node accepts, their defaults, and their validation.
 *
 * `resolveConfig` turns the partial {@link VerkOptions} an application passes into
 * a frozen {@link Config}: every option present, every value checked. Invalid
 * values fail at start with a {@linkcode ConfigError} that names the option and
 * quotes the value, so a typo in a deployment is caught before any job runs.
 * `configFromEnv` reads the `VERK_*` environment variables into a partial options
 * object that the application merges where it wants (Verk's
 * `{:system, "ENV", default}` convention).
 * @module
 */

import { ConfigError } from "./errors.ts";

/**
 * A log level, as LogTape names them.
 *
 * @example Logging finished jobs at debug level
 * ```ts
 * import type { LogLevel } from "@verk/verk";
 * const doneJobLogLevel: LogLevel = "debug";
 * ```
 */
export type LogLevel = "trace" | "debug" | "info" | "warning" | "error" | "fatal";

/**
 * Options of a Verk node. Every option is optional; a key whose value is
 * `undefined` counts as absent, so the default applies. Durations are in
 * milliseconds.
 *
 * @example Two queues and a short shutdown window
 * ```ts
 * import type { VerkOptions } from "@verk/verk";
 * const options: VerkOptions = {
 *   queues: { default: 25, priority: 10 },
 *   redisUrl: "redis://127.0.0.1:6379/0",
 *   shutdownTimeout: 8_000,
 * };
 * ```
 */
export interface VerkOptions {
  /**
   * Queues this node runs, each with its concurrency (a positive integer).
   * @default {}
   */
  queues?: Record<string, number>;
  /**
   * Redis to connect to: `redis://` or `rediss://` (TLS), with optional
   * `user:password@` and `/db`.
   * @default "redis://127.0.0.1:6379"
   */
  redisUrl?: string;
  /**
   * This node's id; its in-progress lists are `inprogress:<queue>:<nodeId>`.
   * Non-empty, without whitespace.
   * @default "1"
   */
  nodeId?: string;
  /**
   * Give this process a random node id instead of `nodeId`.
   * @default false
   */
  generateNodeId?: boolean;
  /**
   * How often (ms) the node refreshes its liveness key and looks for dead nodes.
   * @default 30_000
   */
  heartbeat?: number;
  /**
   * How often (ms) the scheduler looks for due scheduled and retry jobs.
   * @default 5_000
   */
  pollInterval?: number;
  /**
   * Retries before a failing job goes to the dead set (a non-negative integer;
   * a job's own `retry` count wins).
   * @default 25
   */
  maxRetryCount?: number;
  /**
   * How many jobs the dead set keeps (newest first). Sidekiq's default, so a
   * Redis shared with Sidekiq does not lose Ruby's dead jobs.
   * @default 10_000
   */
  maxDeadJobs?: number;
  /**
   * How long (ms) a job stays in the dead set.
   * @default 15_552_000_000 (180 days)
   */
  deadTimeout?: number;
  /**
   * How long (ms) a graceful stop lets running jobs finish before it aborts
   * them and puts them back on their queue.
   * @default 25_000
   */
  shutdownTimeout?: number;
  /**
   * Largest job payload (bytes of JSON) that enqueue accepts.
   * @default 8_388_608 (8 MiB)
   */
  maxPayloadBytes?: number;
  /**
   * How many stack trace lines a failed job keeps (Sidekiq's `backtrace`).
   * @default 5
   */
  failedJobStacktraceSize?: number;
  /**
   * Level of the "job started" log line.
   * @default "info"
   */
  startJobLogLevel?: LogLevel;
  /**
   * Level of the "job done" log line.
   * @default "info"
   */
  doneJobLogLevel?: LogLevel;
  /**
   * Level of the "job failed" log line.
   * @default "info"
   */
  failJobLogLevel?: LogLevel;
  /**
   * Run no queues: the node only enqueues.
   * @default false
   */
  disabled?: boolean;
  /**
   * How long (ms) enqueue waits for Redis before it fails with
   * `RedisUnavailableError`, instead of hanging while Redis is away.
   * @default 5_000
   */
  enqueueTimeout?: number;
}

/**
 * Every option of {@link VerkOptions}, resolved and validated. Frozen, as is
 * `queues`.
 *
 * @example A function that reads the resolved configuration
 * ```ts
 * import type { Config } from "@verk/verk";
 * function summary(config: Config): string {
 *   return `node ${config.nodeId} polls every ${config.pollInterval} ms`;
 * }
 * ```
 */
export interface Config {
  /** Queue name → concurrency. */
  readonly queues: Readonly<Record<string, number>>;
  /** Redis URL (`redis:` or `rediss:`). */
  readonly redisUrl: string;
  /** This node's id. */
  readonly nodeId: string;
  /** Whether each process gets a random node id. */
  readonly generateNodeId: boolean;
  /** Heartbeat period, ms. */
  readonly heartbeat: number;
  /** Scheduler poll period, ms. */
  readonly pollInterval: number;
  /** Default retries before the dead set. */
  readonly maxRetryCount: number;
  /** Dead set size limit. */
  readonly maxDeadJobs: number;
  /** Dead set age limit, ms. */
  readonly deadTimeout: number;
  /** Graceful stop window, ms. */
  readonly shutdownTimeout: number;
  /** Largest accepted payload, bytes. */
  readonly maxPayloadBytes: number;
  /** Stack trace lines kept on failure. */
  readonly failedJobStacktraceSize: number;
  /** Level of "job started" lines. */
  readonly startJobLogLevel: LogLevel;
  /** Level of "job done" lines. */
  readonly doneJobLogLevel: LogLevel;
  /** Level of "job failed" lines. */
  readonly failJobLogLevel: LogLevel;
  /** Whether the node runs no queues. */
  readonly disabled: boolean;
  /** Enqueue's give-up time when Redis does not answer, ms. */
  readonly enqueueTimeout: number;
}

const LOG_LEVELS: readonly LogLevel[] = ["trace", "debug", "info", "warning", "error", "fatal"];
const MAX_QUEUE_NAME_LENGTH = 200;
const DAY_MS = 24 * 60 * 60 * 1000;

const DEFAULTS: Config = {
  queues: {},
  redisUrl: "redis://127.0.0.1:6379",
  nodeId: "1",
  generateNodeId: false,
  heartbeat: 30_000,
  pollInterval: 5_000,
  maxRetryCount: 25,
  maxDeadJobs: 10_000,
  deadTimeout: 180 * DAY_MS,
  shutdownTimeout: 25_000,
  maxPayloadBytes: 8 * 1024 * 1024,
  failedJobStacktraceSize: 5,
  startJobLogLevel: "info",
  doneJobLogLevel: "info",
  failJobLogLevel: "info",
  disabled: false,
  enqueueTimeout: 5_000,
};

interface IntegerSpec {
  min: 0 | 1;
  ms: boolean;
  max?: number;
}

type IntegerOption =
  | "heartbeat"
  | "pollInterval"
  | "maxRetryCount"
  | "maxDeadJobs"
  | "deadTimeout"
  | "shutdownTimeout"
  | "maxPayloadBytes"
  | "failedJobStacktraceSize"
  | "enqueueTimeout";

/** Timers cannot wait longer (setTimeout fires at once past 2^31 - 1 ms). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Accepted range of each integer option; `ms` marks durations. */
const INTEGER_OPTIONS: Readonly<Record<IntegerOption, IntegerSpec>> = {
  heartbeat: { min: 1, ms: true, max: MAX_TIMER_MS },
  pollInterval: { min: 1, ms: true, max: MAX_TIMER_MS },
  maxRetryCount: { min: 0, ms: false },
  maxDeadJobs: { min: 0, ms: false },
  deadTimeout: { min: 0, ms: true },
  shutdownTimeout: { min: 0, ms: true, max: MAX_TIMER_MS },
  maxPayloadBytes: { min: 1, ms: false },
  failedJobStacktraceSize: { min: 0, ms: false },
  enqueueTimeout: { min: 1, ms: true, max: MAX_TIMER_MS },
};

const LOG_LEVEL_OPTIONS = ["startJobLogLevel", "doneJobLogLevel", "failJobLogLevel"] as const;
const BOOLEAN_OPTIONS = ["generateNodeId", "disabled"] as const;

/**
 * Resolves application options into a frozen {@link Config}: explicit options
 * win over defaults, keys whose value is `undefined` are ignored, and every value
 * is validated. Keys that are not Verk options are left out of the result.
 *
 * @param options The application's options.
 * @returns The frozen configuration.
 * @throws {ConfigError} When a value is invalid; the message names the option
 * and quotes the value, e.g. `option heartbeat must be a positive integer (ms): got -1`.
 *
 * @example Defaults fill in what the application leaves out
 * ```ts
 * import { resolveConfig } from "./config.ts";
 * const config = resolveConfig({ queues: { default: 25 }, maxRetryCount: 3 });
 * console.log(config.maxRetryCount, config.shutdownTimeout); // 3 25000
 * ```
 *
 * @example Environment variables win where they are set
 * ```ts
 * import { configFromEnv, resolveConfig } from "./config.ts";
 * const config = resolveConfig({ queues: { default: 5 }, ...configFromEnv({}) });
 * console.log(config.queues); // { default: 5 }
 * ```
 */
export function resolveConfig(options: VerkOptions = {}): Config {
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    throw new ConfigError("options", `must be an object: got ${describe(options)}`);
  }
  const given = options as Readonly<Record<string, unknown>>;
  const pick = (key: keyof Config): unknown =>
    given[key] === undefined ? DEFAULTS[key] : given[key];

  const integers = {} as Record<IntegerOption, number>;
  for (const [key, spec] of Object.entries(INTEGER_OPTIONS)) {
    integers[key as IntegerOption] = checkInteger(key, pick(key as IntegerOption), spec);
  }
  const logLevels = {} as Record<(typeof LOG_LEVEL_OPTIONS)[number], LogLevel>;
  for (const key of LOG_LEVEL_OPTIONS) logLevels[key] = checkLogLevel(key, pick(key));
  const booleans = {} as Record<(typeof BOOLEAN_OPTIONS)[number], boolean>;
  for (const key of BOOLEAN_OPTIONS) booleans[key] = checkBoolean(key, pick(key));

  return Object.freeze({
    queues: checkQueues(pick("queues")),
    redisUrl: checkRedisUrl("redisUrl", pick("redisUrl")),
    nodeId: checkNodeId("nodeId", pick("nodeId")),
    ...booleans,
    ...integers,
    ...logLevels,
  });
}

/**
 * Environment variables `configFromEnv` reads, the option each one sets, and how
 * it is parsed. Integer options are validated with the same bounds as
 * `resolveConfig`, but the error names the variable.
 */
const ENV_INTEGERS: ReadonlyArray<readonly [string, IntegerOption]> = [
  ["VERK_HEARTBEAT", "heartbeat"],
  ["VERK_POLL_INTERVAL", "pollInterval"],
  ["VERK_MAX_RETRY_COUNT", "maxRetryCount"],
  ["VERK_MAX_DEAD_JOBS", "maxDeadJobs"],
  ["VERK_SHUTDOWN_TIMEOUT", "shutdownTimeout"],
];

/**
 * Reads the `VERK_*` environment variables into a partial options object. Only
 * variables that are set (and not empty) appear in the result, so
 * `{ ...appOptions, ...configFromEnv() }` lets the environment win only where it
 * says something.
 *
 * Variables: `VERK_QUEUES` (`default:25,priority:10`), `VERK_REDIS_URL`,
 * `VERK_NODE_ID`, `VERK_GENERATE_NODE_ID` and `VERK_DISABLED` (`true`/`false`/`1`/`0`),
 * `VERK_HEARTBEAT`, `VERK_POLL_INTERVAL`, `VERK_MAX_RETRY_COUNT`,
 * `VERK_MAX_DEAD_JOBS`, `VERK_SHUTDOWN_TIMEOUT` (decimal integers). Surrounding
 * whitespace is ignored.
 *
 * @param env The variables to read; defaults to `Deno.env.toObject()` (needs
 * `--allow-env`).
 * @returns The options the environment sets.
 * @throws {ConfigError} When a variable does not parse or is out of range; the
 * error's `option` is the variable's name.
 *
 * @example Overriding the queues from the environment
 * ```ts
 * import { configFromEnv } from "@verk/verk";
 * const options = configFromEnv({ VERK_QUEUES: "default:25,priority:10", VERK_HEARTBEAT: "" });
 * console.log(options); // { queues: { default: 25, priority: 10 } }
 * ```
 */
export function configFromEnv(
  env: Record<string, string | undefined> = Deno.env.toObject(),
): VerkOptions {
  const read = (name: string): string | undefined => {
    const value = env[name]?.trim();
    return value === undefined || value === "" ? undefined : value;
  };
  const options: VerkOptions = {};

  const queues = read("VERK_QUEUES");
  if (queues !== undefined) options.queues = parseQueueSpec(queues, "VERK_QUEUES");
  const redisUrl = read("VERK_REDIS_URL");
  if (redisUrl !== undefined) options.redisUrl = checkRedisUrl("VERK_REDIS_URL", redisUrl);
  const nodeId = read("VERK_NODE_ID");
  if (nodeId !== undefined) options.nodeId = checkNodeId("VERK_NODE_ID", nodeId);
  const generateNodeId = read("VERK_GENERATE_NODE_ID");
  if (generateNodeId !== undefined) {
    options.generateNodeId = parseBoolean("VERK_GENERATE_NODE_ID", generateNodeId);
  }
  const disabled = read("VERK_DISABLED");
  if (disabled !== undefined) options.disabled = parseBoolean("VERK_DISABLED", disabled);

  for (const [name, key] of ENV_INTEGERS) {
    const text = read(name);
    if (text === undefined) continue;
    const spec = INTEGER_OPTIONS[key];
    if (!/^[+-]?\d+$/.test(text)) {
      throw new ConfigError(
        name,
        `must be ${integerPhrase(spec.min, spec.ms)}: got ${describe(text)}`,
      );
    }
    options[key] = checkInteger(name, Number(text), spec);
  }
  return options;
}

/**
 * Parses a queue spec such as `default:25,priority:10` into queue name →
 * concurrency. Whitespace around names and numbers is ignored, and a name may
 * itself contain `:` (the last `:` separates the concurrency). An empty spec
 * gives no queues.
 *
 * @param spec The spec to parse.
 * @param option The option or variable named in errors (`"queues"` unless given).
 * @returns Queue name → concurrency.
 * @throws {ConfigError} When an entry has no `:<concurrency>`, the concurrency is
 * not a positive integer, a queue name is invalid, or a queue is listed twice.
 *
 * @example Parsing a spec from a command-line flag
 * ```ts
 * import { parseQueueSpec } from "@verk/verk";
 * console.log(parseQueueSpec("default:25, priority:10")); // { default: 25, priority: 10 }
 * ```
 */
export function parseQueueSpec(spec: string, option = "queues"): Record<string, number> {
  const entries: [string, number][] = [];
  if (spec.trim() === "") return {};
  for (const rawEntry of spec.split(",")) {
    const entry = rawEntry.trim();
    const colon = entry.lastIndexOf(":");
    if (colon === -1) {
      throw new ConfigError(
        option,
        `has an entry that is not <queue>:<concurrency>: got ${describe(entry)} in ${
          describe(spec)
        }`,
      );
    }
    const name = checkQueueName(option, entry.slice(0, colon).trim());
    const count = entry.slice(colon + 1).trim();
    if (!/^\d+$/.test(count)) {
      throw new ConfigError(
        option,
        `has an invalid concurrency for queue ${describe(name)}: ` +
          `must be a positive integer: got ${describe(count)}`,
      );
    }
    if (entries.some(([seen]) => seen === name)) {
      throw new ConfigError(option, `lists queue ${describe(name)} more than once`);
    }
    entries.push([name, checkConcurrency(option, name, Number(count))]);
  }
  return Object.fromEntries(entries);
}

/**
 * Checks that `name` can be a queue name: non-empty, at most 200 characters,
 * without whitespace or control characters, and not shaped like a date
 * (`YYYY-MM-DD`, which would collide with Sidekiq's daily stat keys).
 *
 * @param name The queue name.
 * @returns The name, unchanged.
 * @throws {ConfigError} For option `queues`, naming the queue and the reason,
 * e.g. `option queues has an invalid queue name "my queue": whitespace is not allowed`.
 *
 * @example Validating a name given at run time
 * ```ts
 * import { validateQueueName } from "./config.ts";
 * const queue = validateQueueName("mailers");
 * ```
 */
export function validateQueueName(name: string): string {
  return checkQueueName("queues", name);
}

function checkQueueName(option: string, name: unknown): string {
  const problem = queueNameError(name);
  if (problem === undefined) return name as string;
  throw new ConfigError(option, `has an ${problem}`);
}

/**
 * Why `name` cannot be a queue name (`invalid queue name "a b": whitespace is
 * not allowed`), or undefined when it can. For errors raised outside the
 * configuration (enqueue, addQueue …), which name their own field.
 *
 * @example
 * ```ts
 * import { queueNameError } from "./config.ts";
 * queueNameError("mailers"); // undefined
 * queueNameError("my queue"); // 'invalid queue name "my queue": whitespace is not allowed'
 * ```
 */
export function queueNameError(name: unknown): string | undefined {
  const problem = queueNameProblem(name);
  return problem === undefined ? undefined : `invalid queue name ${quoteName(name)}: ${problem}`;
}

function queueNameProblem(name: unknown): string | undefined {
  if (typeof name !== "string") return "must be a string";
  if (name === "") return "it is empty";
  if (/\s/u.test(name)) return "whitespace is not allowed";
  if (/\p{Cc}/u.test(name)) return "control characters are not allowed";
  if (/^\d{4}-\d{2}-\d{2}$/.test(name)) {
    return "it is shaped like a date (YYYY-MM-DD) and would collide with Sidekiq's daily stat keys";
  }
  if (name.length > MAX_QUEUE_NAME_LENGTH) {
    return `it is ${name.length} characters long, the limit is ${MAX_QUEUE_NAME_LENGTH}`;
  }
  return undefined;
}

/** Quotes a queue name for an error, shortening very long ones. */
function quoteName(name: unknown): string {
  if (typeof name === "string" && name.length > 60) return `${describe(name.slice(0, 60))}…`;
  return describe(name);
}

function checkQueues(value: unknown): Readonly<Record<string, number>> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ConfigError(
      "queues",
      `must be an object of queue name → concurrency: got ${describe(value)}`,
    );
  }
  const entries = Object.entries(value).map(([name, count]): [string, number] => [
    checkQueueName("queues", name),
    checkConcurrency("queues", name, count),
  ]);
  return Object.freeze(Object.fromEntries(entries));
}

function checkConcurrency(option: string, queue: string, value: unknown): number {
  if (isIntegerAtLeast(value, 1)) return value;
  throw new ConfigError(
    option,
    `has an invalid concurrency for queue ${describe(queue)}: ` +
      `must be a positive integer: got ${describe(value)}`,
  );
}

function checkInteger(option: string, value: unknown, { min, ms, max }: IntegerSpec): number {
  if (!isIntegerAtLeast(value, min)) {
    throw new ConfigError(option, `must be ${integerPhrase(min, ms)}: got ${describe(value)}`);
  }
  if (max !== undefined && value > max) {
    throw new ConfigError(option, `must be at most ${max}${ms ? " ms" : ""}: got ${value}`);
  }
  return value;
}

function integerPhrase(min: 0 | 1, ms: boolean): string {
  return `${min === 1 ? "a positive" : "a non-negative"} integer${ms ? " (ms)" : ""}`;
}

function isIntegerAtLeast(value: unknown, min: number): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= min;
}

function checkBoolean(option: string, value: unknown): boolean {
  if (typeof value === "boolean") return value;
  throw new ConfigError(option, `must be true or false: got ${describe(value)}`);
}

function parseBoolean(option: string, text: string): boolean {
  switch (text.toLowerCase()) {
    case "true":
    case "1":
      return true;
    case "false":
    case "0":
      return false;
    default:
      throw new ConfigError(option, `must be true, false, 1 or 0: got ${describe(text)}`);
  }
}

function checkLogLevel(option: string, value: unknown): LogLevel {
  if (LOG_LEVELS.includes(value as LogLevel)) return value as LogLevel;
  throw new ConfigError(
    option,
    `must be one of ${LOG_LEVELS.map((level) => `"${level}"`).join(", ")}: got ${describe(value)}`,
  );
}

function checkNodeId(option: string, value: unknown): string {
  if (typeof value !== "string") {
    throw new ConfigError(option, `must be a string: got ${describe(value)}`);
  }
  if (value === "") throw new ConfigError(option, `must not be empty: got ""`);
  if (/[\s\p{Cc}]/u.test(value)) {
    throw new ConfigError(
      option,
      `must not contain whitespace or control characters: got ${describe(value)}`,
    );
  }
  return value;
}

function checkRedisUrl(option: string, value: unknown): string {
  if (typeof value === "string" && isRedisUrl(value)) return value;
  const shown = typeof value === "string" ? redactUrl(value) : value;
  throw new ConfigError(
    option,
    "must be a redis:// or rediss:// URL, optionally ending in a database number, " +
      `such as redis://127.0.0.1:6379/0: got ${describe(shown)}`,
  );
}

function isRedisUrl(text: string): boolean {
  try {
    const { protocol, pathname } = new URL(text);
    // The path, if any, is a database number: anything else would silently use db 0.
    return (protocol === "redis:" || protocol === "rediss:") && /^(\/(\d{1,5})?)?$/.test(pathname);
  } catch {
    return false;
  }
}

/** Hides the password of a URL (or URL-like text) so errors never leak it. */
function redactUrl(text: string): string {
  return text.replace(/^([^:/?#]*:\/\/[^:@/?#]*:)[^@/?#]*@/, "$1***@");
}

/** Quotes a value for an error message: strings as JSON, the rest as written. */
function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "bigint") return `${value}n`;
  if (typeof value !== "object" || value === null) return String(value);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}
