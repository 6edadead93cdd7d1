/**
 * Errors thrown by Verk. Callers catch these by class; every message names the
 * field, option or key it is about and the value that was refused.
 * @module
 */

/**
 * Base class of every error Verk throws on purpose.
 *
 * @example Catching any Verk error
 * ```ts
 * import { VerkError } from "@verk/verk";
 * try {
 *   throw new VerkError("example");
 * } catch (error) {
 *   if (error instanceof VerkError) console.log(error.message);
 * }
 * ```
 */
export class VerkError extends Error {
  /** Creates an error with the given message and optional cause. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * A job given to `enqueue`, `enqueueMany` or `schedule` is invalid. `field` names
 * the job field at fault (`queue`, `class`, `args`, `maxRetryCount`, `at` …).
 *
 * @example
 * ```ts
 * import { JobValidationError } from "@verk/verk";
 * const error = new JobValidationError("queue", "is missing");
 * console.log(error.field, error.message); // queue "job.queue is missing"
 * ```
 */
export class JobValidationError extends VerkError {
  /** The job field at fault. */
  readonly field: string;
  /** Creates the error for `field` with the reason it was refused. */
  constructor(field: string, reason: string) {
    super(`job.${field} ${reason}`);
    this.field = field;
  }
}

/**
 * A configuration option (or the `VERK_*` environment variable it came from) is
 * invalid. `option` names it.
 *
 * @example
 * ```ts
 * import { ConfigError } from "@verk/verk";
 * const error = new ConfigError("heartbeat", "must be a positive integer (ms): got -1");
 * console.log(error.option); // "heartbeat"
 * ```
 */
export class ConfigError extends VerkError {
  /** The option at fault. */
  readonly option: string;
  /** Creates the error for `option` with the reason it was refused. */
  constructor(option: string, reason: string) {
    super(`option ${option} ${reason}`);
    this.option = option;
  }
}

/**
 * Another live process holds this node id, so starting would run its jobs twice.
 *
 * @example
 * ```ts
 * import { NodeIdInUseError } from "@verk/verk";
 * const error = new NodeIdInUseError("1", "host-a:42:abcd");
 * console.log(error.holder); // "host-a:42:abcd"
 * ```
 */
export class NodeIdInUseError extends VerkError {
  /** The node id that was refused. */
  readonly nodeId: string;
  /** The holder's `<hostname>:<pid>:<token>` as stored in `verk:node:<id>`. */
  readonly holder: string;
  /** Creates the error for `nodeId`, held by `holder`. */
  constructor(nodeId: string, holder: string) {
    super(
      `node id "${nodeId}" is held by a live process (${holder}); ` +
        `give this process another nodeId or set generateNodeId: true`,
    );
    this.nodeId = nodeId;
    this.holder = holder;
  }
}

/**
 * Redis could not be reached (or did not answer) in time for a command that must
 * not hang, such as `enqueue`. Nothing was written when this is thrown before
 * the command was sent; see the README's reliability notes for the rest.
 *
 * @example
 * ```ts
 * import { RedisUnavailableError } from "@verk/verk";
 * const error = new RedisUnavailableError("enqueue", 5000);
 * console.log(error.message);
 * ```
 */
export class RedisUnavailableError extends VerkError {
  /** Creates the error for the operation that gave up after `timeoutMs`. */
  constructor(operation: string, timeoutMs: number, options?: ErrorOptions) {
    super(`${operation}: Redis did not answer within ${timeoutMs} ms`, options);
  }
}

/**
 * A job ran longer than its timeout (the worker's `timeout`, or the job's).
 * Its signal was aborted with this error, and the job failed with it.
 *
 * @example
 * ```ts
 * import { JobTimeoutError } from "@verk/verk";
 * const error = new JobTimeoutError(5000);
 * console.log(error.timeoutMs, error.message); // 5000 "job ran longer than its timeout of 5000 ms"
 * ```
 */
export class JobTimeoutError extends VerkError {
  /** The limit that was passed, ms. */
  readonly timeoutMs: number;
  /** Creates the error for a limit of `timeoutMs`. */
  constructor(timeoutMs: number) {
    super(`job ran longer than its timeout of ${timeoutMs} ms`);
    this.timeoutMs = timeoutMs;
  }
}

/**
 * The admin API refused a request: an argument is invalid (a queue name with
 * spaces, a negative page, an empty jid) or names something it cannot act on
 * (a live node, a job with no queue). `field` names the argument at fault.
 *
 * @example
 * ```ts
 * import { AdminError } from "@verk/verk";
 * const error = new AdminError("page", "must be a positive integer: got -1");
 * console.log(error.field, error.message); // page "page must be a positive integer: got -1"
 * ```
 */
export class AdminError extends VerkError {
  /** The argument at fault (`queue`, `jid`, `page`, `pageSize`, `nodeId`, `days` …). */
  readonly field: string;
  /** Creates the error for `field` with the reason it was refused. */
  constructor(field: string, reason: string) {
    super(`${field} ${reason}`);
    this.field = field;
  }
}
