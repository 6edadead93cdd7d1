import assert from "node:assert/strict";
import {
  configFromEnv,
  parseQueueSpec,
  resolveConfig,
  validateQueueName,
  type VerkOptions,
} from "../src/config.ts";
import { ConfigError } from "../src/errors.ts";

const URL_REASON =
  "must be a redis:// or rediss:// URL, optionally ending in a database number, such as redis://127.0.0.1:6379/0: got";

/** Asserts that `fn` throws a ConfigError for `option` whose message is exactly `message`. */
function assertConfigError(fn: () => unknown, option: string, message: string): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${error}`);
    assert.equal(error.option, option);
    assert.equal(error.message, message);
    return true;
  });
}

/** Calls resolveConfig with a value the types forbid, as untyped callers (JS, JSON) can. */
function resolveUntyped(options: Record<string, unknown>) {
  return resolveConfig(options as VerkOptions);
}

Deno.test("resolveConfig() fills every option with its documented default", () => {
  assert.deepEqual(
    { ...resolveConfig({}) },
    {
      queues: {},
      redisUrl: "redis://127.0.0.1:6379",
      nodeId: "1",
      generateNodeId: false,
      heartbeat: 30_000,
      pollInterval: 5_000,
      maxRetryCount: 25,
      maxDeadJobs: 10_000,
      deadTimeout: 180 * 24 * 60 * 60 * 1000,
      shutdownTimeout: 25_000,
      maxPayloadBytes: 8 * 1024 * 1024,
      failedJobStacktraceSize: 5,
      startJobLogLevel: "info",
      doneJobLogLevel: "info",
      failJobLogLevel: "info",
      disabled: false,
      enqueueTimeout: 5_000,
    },
  );
  assert.deepEqual({ ...resolveConfig() }, { ...resolveConfig({}) });
});

Deno.test("resolveConfig() lets explicit options win over defaults", () => {
  const options: Required<VerkOptions> = {
    queues: { default: 25, priority: 10 },
    redisUrl: "rediss://user:secret@redis.example:6380/2",
    nodeId: "worker-7",
    generateNodeId: true,
    heartbeat: 1_000,
    pollInterval: 250,
    maxRetryCount: 0,
    maxDeadJobs: 0,
    deadTimeout: 0,
    shutdownTimeout: 0,
    maxPayloadBytes: 1,
    failedJobStacktraceSize: 0,
    startJobLogLevel: "debug",
    doneJobLogLevel: "trace",
    failJobLogLevel: "error",
    disabled: true,
    enqueueTimeout: 1,
  };
  assert.deepEqual({ ...resolveConfig(options) }, options);
});

Deno.test("resolveConfig() ignores keys whose value is undefined", () => {
  const config = resolveConfig({ heartbeat: undefined, queues: undefined, nodeId: undefined });
  assert.equal(config.heartbeat, 30_000);
  assert.deepEqual(config.queues, {});
  assert.equal(config.nodeId, "1");
});

Deno.test("resolveConfig() leaves keys that are not Verk options out of the result", () => {
  const config = resolveUntyped({ pollIntervall: 10, pollInterval: 20 });
  assert.equal(config.pollInterval, 20);
  assert.equal("pollIntervall" in config, false);
});

Deno.test("resolveConfig() returns a frozen config whose queues are frozen copies", () => {
  const queues = { default: 5 };
  const config = resolveConfig({ queues });
  assert.ok(Object.isFrozen(config));
  assert.ok(Object.isFrozen(config.queues));
  assert.throws(() => {
    (config as { heartbeat: number }).heartbeat = 1;
  }, TypeError);
  queues.default = 99;
  assert.equal(config.queues.default, 5);
});

Deno.test("resolveConfig() accepts queue names with colons, dots and unicode", () => {
  const queues = { "mail:high": 1, "eu.billing": 2, "files-ü": 3, "2024-01": 4 };
  assert.deepEqual(resolveConfig({ queues }).queues, queues);
});

Deno.test("resolveConfig() refuses a queue concurrency below 1 or not an integer", () => {
  assertConfigError(
    () => resolveConfig({ queues: { default: 0 } }),
    "queues",
    'option queues has an invalid concurrency for queue "default": must be a positive integer: got 0',
  );
  assertConfigError(
    () => resolveConfig({ queues: { default: -3 } }),
    "queues",
    'option queues has an invalid concurrency for queue "default": must be a positive integer: got -3',
  );
  assertConfigError(
    () => resolveConfig({ queues: { a: 1, b: 2.5 } }),
    "queues",
    'option queues has an invalid concurrency for queue "b": must be a positive integer: got 2.5',
  );
  assertConfigError(
    () => resolveUntyped({ queues: { default: "25" } }),
    "queues",
    'option queues has an invalid concurrency for queue "default": must be a positive integer: got "25"',
  );
});

Deno.test("resolveConfig() refuses queues that are not an object of names", () => {
  assertConfigError(
    () => resolveUntyped({ queues: ["default"] }),
    "queues",
    'option queues must be an object of queue name → concurrency: got ["default"]',
  );
  assertConfigError(
    () => resolveUntyped({ queues: null }),
    "queues",
    "option queues must be an object of queue name → concurrency: got null",
  );
});

Deno.test("resolveConfig() refuses an invalid queue name and names the queue", () => {
  assertConfigError(
    () => resolveConfig({ queues: { "my queue": 1 } }),
    "queues",
    'option queues has an invalid queue name "my queue": whitespace is not allowed',
  );
  assertConfigError(
    () => resolveConfig({ queues: { "2024-05-01": 1 } }),
    "queues",
    'option queues has an invalid queue name "2024-05-01": it is shaped like a date (YYYY-MM-DD) ' +
      "and would collide with Sidekiq's daily stat keys",
  );
});

Deno.test("resolveConfig() refuses integer options out of range and names the value", () => {
  const cases: [keyof VerkOptions, unknown, string][] = [
    ["heartbeat", 0, "must be a positive integer (ms): got 0"],
    ["heartbeat", -1, "must be a positive integer (ms): got -1"],
    ["pollInterval", 0, "must be a positive integer (ms): got 0"],
    ["pollInterval", 1.5, "must be a positive integer (ms): got 1.5"],
    ["shutdownTimeout", -1, "must be a non-negative integer (ms): got -1"],
    ["maxRetryCount", -1, "must be a non-negative integer: got -1"],
    ["maxRetryCount", "3", 'must be a non-negative integer: got "3"'],
    ["maxDeadJobs", -5, "must be a non-negative integer: got -5"],
    ["maxPayloadBytes", 0, "must be a positive integer: got 0"],
    ["failedJobStacktraceSize", -1, "must be a non-negative integer: got -1"],
    ["deadTimeout", Number.NaN, "must be a non-negative integer (ms): got NaN"],
    ["deadTimeout", Infinity, "must be a non-negative integer (ms): got Infinity"],
    ["enqueueTimeout", 0, "must be a positive integer (ms): got 0"],
    ["enqueueTimeout", null, "must be a positive integer (ms): got null"],
  ];
  for (const [option, value, reason] of cases) {
    assertConfigError(
      () => resolveUntyped({ [option]: value }),
      option,
      `option ${option} ${reason}`,
    );
  }
});

Deno.test("resolveConfig() accepts the lowest value of each integer option", () => {
  const config = resolveConfig({
    heartbeat: 1,
    pollInterval: 1,
    shutdownTimeout: 0,
    maxRetryCount: 0,
    maxDeadJobs: 0,
    maxPayloadBytes: 1,
    failedJobStacktraceSize: 0,
    deadTimeout: 0,
    enqueueTimeout: 1,
    queues: { q: 1 },
  });
  assert.equal(config.heartbeat, 1);
  assert.equal(config.shutdownTimeout, 0);
  assert.equal(config.queues.q, 1);
});

Deno.test("resolveConfig() refuses a redisUrl that is not a redis:// or rediss:// URL", () => {
  assertConfigError(
    () => resolveConfig({ redisUrl: "http://127.0.0.1:6379" }),
    "redisUrl",
    `option redisUrl ${URL_REASON} "http://127.0.0.1:6379"`,
  );
  assertConfigError(
    () => resolveConfig({ redisUrl: "127.0.0.1:6379" }),
    "redisUrl",
    `option redisUrl ${URL_REASON} "127.0.0.1:6379"`,
  );
  assertConfigError(
    () => resolveConfig({ redisUrl: "not a url" }),
    "redisUrl",
    `option redisUrl ${URL_REASON} "not a url"`,
  );
  assertConfigError(
    () => resolveUntyped({ redisUrl: 6379 }),
    "redisUrl",
    `option redisUrl ${URL_REASON} 6379`,
  );
});

Deno.test("resolveConfig() hides the password of a refused redisUrl", () => {
  assertConfigError(
    () => resolveConfig({ redisUrl: "http://user:hunter2@host:6379" }),
    "redisUrl",
    `option redisUrl ${URL_REASON} "http://user:***@host:6379"`,
  );
  assertConfigError(
    () => resolveConfig({ redisUrl: "redis://user:hunter2@host:port" }),
    "redisUrl",
    `option redisUrl ${URL_REASON} "redis://user:***@host:port"`,
  );
});

Deno.test("resolveConfig() refuses log levels outside the list", () => {
  assertConfigError(
    () => resolveUntyped({ doneJobLogLevel: "warn" }),
    "doneJobLogLevel",
    'option doneJobLogLevel must be one of "trace", "debug", "info", "warning", "error", "fatal": ' +
      'got "warn"',
  );
  assert.equal(resolveConfig({ failJobLogLevel: "warning" }).failJobLogLevel, "warning");
});

Deno.test("resolveConfig() refuses an empty nodeId or one with whitespace", () => {
  assertConfigError(
    () => resolveConfig({ nodeId: "" }),
    "nodeId",
    'option nodeId must not be empty: got ""',
  );
  assertConfigError(
    () => resolveConfig({ nodeId: "node 1" }),
    "nodeId",
    'option nodeId must not contain whitespace or control characters: got "node 1"',
  );
  assertConfigError(
    () => resolveUntyped({ nodeId: 1 }),
    "nodeId",
    "option nodeId must be a string: got 1",
  );
});

Deno.test("resolveConfig() refuses booleans given as other types", () => {
  assertConfigError(
    () => resolveUntyped({ disabled: "false" }),
    "disabled",
    'option disabled must be true or false: got "false"',
  );
  assertConfigError(
    () => resolveUntyped({ generateNodeId: 1 }),
    "generateNodeId",
    "option generateNodeId must be true or false: got 1",
  );
});

Deno.test("validateQueueName() returns a valid name unchanged", () => {
  assert.equal(validateQueueName("default"), "default");
  assert.equal(validateQueueName("a".repeat(200)), "a".repeat(200));
});

Deno.test("validateQueueName() refuses empty, whitespace, control and date-shaped names", () => {
  assertConfigError(
    () => validateQueueName(""),
    "queues",
    'option queues has an invalid queue name "": it is empty',
  );
  assertConfigError(
    () => validateQueueName("tab\there"),
    "queues",
    'option queues has an invalid queue name "tab\\there": whitespace is not allowed',
  );
  assertConfigError(
    () => validateQueueName("no\u00a0break"),
    "queues",
    'option queues has an invalid queue name "no\u00a0break": whitespace is not allowed',
  );
  assertConfigError(
    () => validateQueueName("bell\u0007"),
    "queues",
    'option queues has an invalid queue name "bell\\u0007": control characters are not allowed',
  );
  assertConfigError(
    () => validateQueueName("2026-01-31"),
    "queues",
    'option queues has an invalid queue name "2026-01-31": it is shaped like a date (YYYY-MM-DD) ' +
      "and would collide with Sidekiq's daily stat keys",
  );
});

Deno.test("validateQueueName() refuses names longer than 200 characters, quoting a prefix", () => {
  assertConfigError(
    () => validateQueueName("q".repeat(201)),
    "queues",
    `option queues has an invalid queue name "${"q".repeat(60)}"…: ` +
      "it is 201 characters long, the limit is 200",
  );
});

Deno.test("parseQueueSpec() parses name:concurrency pairs separated by commas", () => {
  assert.deepEqual(parseQueueSpec("default:25,priority:10"), { default: 25, priority: 10 });
  assert.deepEqual(parseQueueSpec(" default : 25 , priority:10 "), { default: 25, priority: 10 });
  assert.deepEqual(parseQueueSpec("mail:high:3"), { "mail:high": 3 });
  assert.deepEqual(parseQueueSpec("  "), {});
});

Deno.test("parseQueueSpec() refuses entries that do not parse, naming the option", () => {
  assertConfigError(
    () => parseQueueSpec("default"),
    "queues",
    'option queues has an entry that is not <queue>:<concurrency>: got "default" in "default"',
  );
  assertConfigError(
    () => parseQueueSpec("default:25,", "VERK_QUEUES"),
    "VERK_QUEUES",
    'option VERK_QUEUES has an entry that is not <queue>:<concurrency>: got "" in "default:25,"',
  );
  assertConfigError(
    () => parseQueueSpec("default:ten", "VERK_QUEUES"),
    "VERK_QUEUES",
    'option VERK_QUEUES has an invalid concurrency for queue "default": ' +
      'must be a positive integer: got "ten"',
  );
  assertConfigError(
    () => parseQueueSpec("default:-1"),
    "queues",
    'option queues has an invalid concurrency for queue "default": must be a positive integer: got "-1"',
  );
  assertConfigError(
    () => parseQueueSpec("default:0"),
    "queues",
    'option queues has an invalid concurrency for queue "default": must be a positive integer: got 0',
  );
  assertConfigError(
    () => parseQueueSpec(":5", "VERK_QUEUES"),
    "VERK_QUEUES",
    'option VERK_QUEUES has an invalid queue name "": it is empty',
  );
  assertConfigError(
    () => parseQueueSpec("a:1,b:2,a:3"),
    "queues",
    'option queues lists queue "a" more than once',
  );
});

Deno.test("configFromEnv() returns only the variables that are set and not empty", () => {
  assert.deepEqual(configFromEnv({}), {});
  assert.deepEqual(
    configFromEnv({
      VERK_QUEUES: "",
      VERK_HEARTBEAT: "  ",
      VERK_NODE_ID: undefined,
      HOME: "/root",
    }),
    {},
  );
});

Deno.test("configFromEnv() reads every VERK_* variable", () => {
  assert.deepEqual(
    configFromEnv({
      VERK_QUEUES: "default:25,priority:10",
      VERK_REDIS_URL: "redis://redis:6379/3",
      VERK_NODE_ID: "web-1",
      VERK_GENERATE_NODE_ID: "true",
      VERK_HEARTBEAT: "10000",
      VERK_POLL_INTERVAL: "1000",
      VERK_MAX_RETRY_COUNT: "0",
      VERK_MAX_DEAD_JOBS: "500",
      VERK_SHUTDOWN_TIMEOUT: " 8000 ",
      VERK_DISABLED: "true",
    }),
    {
      queues: { default: 25, priority: 10 },
      redisUrl: "redis://redis:6379/3",
      nodeId: "web-1",
      generateNodeId: true,
      heartbeat: 10_000,
      pollInterval: 1_000,
      maxRetryCount: 0,
      maxDeadJobs: 500,
      shutdownTimeout: 8_000,
      disabled: true,
    },
  );
});

Deno.test("configFromEnv() reads booleans as true/false/1/0 in any case", () => {
  assert.deepEqual(configFromEnv({ VERK_GENERATE_NODE_ID: "1", VERK_DISABLED: "TRUE" }), {
    generateNodeId: true,
    disabled: true,
  });
  assert.deepEqual(configFromEnv({ VERK_GENERATE_NODE_ID: "0", VERK_DISABLED: "False" }), {
    generateNodeId: false,
    disabled: false,
  });
  assertConfigError(
    () => configFromEnv({ VERK_DISABLED: "yes" }),
    "VERK_DISABLED",
    'option VERK_DISABLED must be true, false, 1 or 0: got "yes"',
  );
});

Deno.test("configFromEnv() refuses non-numeric integers, naming the variable", () => {
  assertConfigError(
    () => configFromEnv({ VERK_POLL_INTERVAL: "5s" }),
    "VERK_POLL_INTERVAL",
    'option VERK_POLL_INTERVAL must be a positive integer (ms): got "5s"',
  );
  assertConfigError(
    () => configFromEnv({ VERK_MAX_RETRY_COUNT: "1e3" }),
    "VERK_MAX_RETRY_COUNT",
    'option VERK_MAX_RETRY_COUNT must be a non-negative integer: got "1e3"',
  );
  assertConfigError(
    () => configFromEnv({ VERK_HEARTBEAT: "-5" }),
    "VERK_HEARTBEAT",
    "option VERK_HEARTBEAT must be a positive integer (ms): got -5",
  );
  assertConfigError(
    () => configFromEnv({ VERK_MAX_DEAD_JOBS: "99999999999999999999" }),
    "VERK_MAX_DEAD_JOBS",
    "option VERK_MAX_DEAD_JOBS must be a non-negative integer: got 100000000000000000000",
  );
});

Deno.test("configFromEnv() refuses a bad queue spec, URL or node id, naming the variable", () => {
  assertConfigError(
    () => configFromEnv({ VERK_QUEUES: "default:0" }),
    "VERK_QUEUES",
    'option VERK_QUEUES has an invalid concurrency for queue "default": ' +
      "must be a positive integer: got 0",
  );
  assertConfigError(
    () => configFromEnv({ VERK_REDIS_URL: "localhost:6379" }),
    "VERK_REDIS_URL",
    `option VERK_REDIS_URL ${URL_REASON} "localhost:6379"`,
  );
  assertConfigError(
    () => configFromEnv({ VERK_NODE_ID: "a\u0000b" }),
    "VERK_NODE_ID",
    'option VERK_NODE_ID must not contain whitespace or control characters: got "a\\u0000b"',
  );
});

Deno.test("configFromEnv() lets the environment win only where it is set when merged last", () => {
  const app: VerkOptions = { queues: { default: 5 }, heartbeat: 2_000, nodeId: "app" };
  const config = resolveConfig({
    ...app,
    ...configFromEnv({ VERK_QUEUES: "critical:2", VERK_NODE_ID: "" }),
  });
  assert.deepEqual(config.queues, { critical: 2 });
  assert.equal(config.heartbeat, 2_000);
  assert.equal(config.nodeId, "app");
});

Deno.test("configFromEnv() reads Deno.env when no variables are given", async () => {
  // A child process, so the variable never leaks into test modules running in parallel.
  const script = `import { configFromEnv } from ${
    JSON.stringify(import.meta.resolve("../src/config.ts"))
  };
console.log(JSON.stringify(configFromEnv()));`;
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--no-config", script],
    env: { VERK_MAX_DEAD_JOBS: "123", VERK_QUEUES: "a:1", NO_COLOR: "1" },
    stdin: "null",
  }).output();
  const decoder = new TextDecoder();
  assert.equal(code, 0, decoder.decode(stderr));
  assert.deepEqual(JSON.parse(decoder.decode(stdout)), { maxDeadJobs: 123, queues: { a: 1 } });
});

Deno.test("resolveConfig refuses a URL path that is not a database number", () => {
  for (const url of ["redis://127.0.0.1:6379/abc", "redis://127.0.0.1:6379/3x", "redis://h/1/2"]) {
    assert.throws(
      () => resolveConfig({ redisUrl: url }),
      (error: unknown) => error instanceof ConfigError && error.option === "redisUrl",
      url,
    );
  }
  assert.equal(
    resolveConfig({ redisUrl: "redis://127.0.0.1:6379/12" }).redisUrl,
    "redis://127.0.0.1:6379/12",
  );
  assert.equal(resolveConfig({ redisUrl: "rediss://u:p@h:6380" }).redisUrl, "rediss://u:p@h:6380");
});

Deno.test("resolveConfig refuses timer durations a timer cannot wait (over 2^31 - 1 ms)", () => {
  for (
    const option of ["heartbeat", "pollInterval", "shutdownTimeout", "enqueueTimeout"] as const
  ) {
    assert.throws(
      () => resolveConfig({ [option]: 3_000_000_000 }),
      (error: unknown) =>
        error instanceof ConfigError && error.option === option &&
        /at most 2147483647/.test(error.message),
    );
  }
  assert.equal(resolveConfig({ deadTimeout: 3_000_000_000 * 10 }).deadTimeout, 30_000_000_000);
});
