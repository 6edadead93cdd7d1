/**
 * Real Ruby Sidekiq for interop tests (Debian's `ruby-sidekiq`, Sidekiq 6.4.1).
 *
 * `sidekiqTest()` declares a test that needs Ruby: without `ruby`, `sidekiq` and
 * `rackup` it is skipped with a message saying how to install them, except
 * with `CI=true`, where it fails. Inside, `await using ruby = await rubySide(redis)`
 * gives:
 * - `ruby.run(code)`: runs a Ruby script against the test Redis (Sidekiq loaded,
 *   `require "sidekiq/api"` done) and returns what it passed to `report(value)`;
 * - `ruby.startSidekiq(…)`: a `sidekiq` process with a recording middleware
 *   (every job it runs is pushed to the `ruby:jobs` list, payload and all) and
 *   two workers, `RubyRecord` (does nothing) and `RubyFail` (raises);
 * - `ruby.startWeb()`: Sidekiq's web UI under `rackup -s webrick` on a free port.
 *
 * Scripts live in a temporary directory; every child is stopped (TERM, then
 * KILL) and awaited on dispose, so Deno's sanitizers stay quiet.
 * @module
 */
import { eventually, freePort, type TestRedis } from "./redis.ts";

const INSTALL_HINT = "apt-get install ruby-sidekiq ruby-webrick (Debian 12: Sidekiq 6.4.1)";
const STOP_TIMEOUT_MS = 15_000;

/** Loads Sidekiq the way every script here needs it. */
const PRELUDE = `require "sidekiq"
Redis.silence_deprecations = true
require "sidekiq/api"
require "json"
$stdout.sync = true
def report(value)
  puts "@@report " + JSON.generate(value)
end
# A job of a sorted set (Sidekiq::RetrySet.new …) as Sidekiq's API reads it: its
# payload with error_backtrace decompressed, plus _score and _display_class.
def find_job(set, jid)
  entry = set.find_job(jid)
  return nil unless entry
  item = entry.item.dup
  item["error_backtrace"] = entry.error_backtrace if item.key?("error_backtrace")
  item.merge("_score" => entry.score, "_display_class" => entry.display_class)
end
`;

/** The worker file of `startSidekiq`: recorder middleware, test workers, fast scheduler. */
const SIDEKIQ_PRELUDE = `${PRELUDE}
# Poll schedule/retry every 0.5-1.5 s and skip the 5-15 s wait at boot.
Sidekiq.options[:poll_interval_average] = 1
Sidekiq::Scheduled::Poller.prepend(Module.new { def initial_wait; end })

class VerkTestRecorder
  def call(_worker, job, queue)
    Sidekiq.redis { |c| c.rpush("ruby:jobs", JSON.generate(job.merge("ran_on" => queue))) }
    yield
  end
end
Sidekiq.configure_server do |config|
  config.server_middleware { |chain| chain.add VerkTestRecorder }
end

class RubyRecord
  include Sidekiq::Worker
  def perform(*_args); end
end

class RubyFail
  include Sidekiq::Worker
  def perform(*args)
    raise ArgumentError, "ruby failed with #{args.length} args"
  end
end
`;

const CONFIG_RU = `${PRELUDE}
require "sidekiq/web"
require "securerandom"
use Rack::Session::Cookie, secret: SecureRandom.hex(32), same_site: true, max_age: 86400
run Sidekiq::Web
`;

/** Why Ruby Sidekiq cannot run here, or undefined when it can. */
async function probe(): Promise<string | undefined> {
  const checks: [string, string[]][] = [
    ["ruby", ["-e", 'require "sidekiq"; require "webrick"; require "rack"']],
    ["sidekiq", ["-V"]],
    ["rackup", ["--version"]],
  ];
  for (const [command, args] of checks) {
    try {
      const { success, stderr } = await new Deno.Command(command, {
        args,
        stdin: "null",
        stdout: "null",
        stderr: "piped",
      }).output();
      if (!success) return `${command} failed: ${new TextDecoder().decode(stderr).trim()}`;
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return `${command} is not installed`;
      throw error;
    }
  }
  return undefined;
}

const missing = await probe();
const inCi = Deno.env.get("CI") === "true";
if (missing !== undefined && !inCi) {
  console.warn(`Sidekiq interop tests skipped: ${missing}. Install with: ${INSTALL_HINT}`);
}

/**
 * A test that runs real Ruby Sidekiq: skipped (with a message) where Ruby is
 * missing, failing instead when `CI=true`.
 */
export function sidekiqTest(name: string, fn: (t: Deno.TestContext) => Promise<void>): void {
  Deno.test({
    name,
    ignore: missing !== undefined && !inCi,
    async fn(t) {
      if (missing !== undefined) {
        throw new Error(`Ruby Sidekiq is needed in CI: ${missing}. Install with: ${INSTALL_HINT}`);
      }
      await fn(t);
    },
  });
}

/** A child process with its output collected. */
class Child {
  readonly process: Deno.ChildProcess;
  readonly status: Promise<Deno.CommandStatus>;
  #text = "";
  #exited = false;

  constructor(command: string, args: string[], cwd: string, env: Record<string, string>) {
    this.process = new Deno.Command(command, {
      args,
      cwd,
      env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const pump = async (stream: ReadableStream<Uint8Array>) => {
      for await (const chunk of stream.pipeThrough(new TextDecoderStream())) this.#text += chunk;
    };
    this.status = Promise.all([pump(this.process.stdout), pump(this.process.stderr)])
      .then(() => this.process.status)
      .finally(() => this.#exited = true);
  }

  get pid(): number {
    return this.process.pid;
  }

  get exited(): boolean {
    return this.#exited;
  }

  output(): string {
    return this.#text;
  }

  /** SIGTERM (graceful for sidekiq and rackup), then SIGKILL if it is still there. */
  async stop(): Promise<Deno.CommandStatus> {
    if (!this.#exited) {
      try {
        this.process.kill("SIGTERM");
      } catch { /* already gone */ }
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const overdue = new Promise<"overdue">((resolve) => {
      timer = setTimeout(() => resolve("overdue"), STOP_TIMEOUT_MS);
    });
    try {
      if (await Promise.race([this.status, overdue]) === "overdue" && !this.#exited) {
        this.process.kill("SIGKILL");
      }
      return await this.status;
    } finally {
      clearTimeout(timer);
    }
  }
}

/** A running `sidekiq` process. */
export interface SidekiqProcessHandle {
  /** Its identity in the `processes` set. */
  readonly identity: string;
  /** Its pid. */
  readonly pid: number;
  /** Everything it logged. */
  output(): string;
  /** Graceful stop (TERM); resolves when it exited. */
  stop(): Promise<Deno.CommandStatus>;
}

/** Sidekiq's web UI. */
export interface SidekiqWeb {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** GETs a page without following redirects; returns status and body. */
  get(path: string): Promise<{ status: number; body: string }>;
  /**
   * Submits a form as a browser would: GETs `path` for the session cookie and
   * CSRF token, then POSTs `fields` to it. Returns the POST's status.
   */
  submit(path: string, fields: Record<string, string>): Promise<number>;
}

/** How to start `sidekiq`. */
export interface SidekiqOptions {
  /** Queues it fetches from. */
  queues: string[];
  /** Threads. @default 5 */
  concurrency?: number;
  /** More Ruby (worker classes) loaded with the test workers. */
  code?: string;
  /**
   * Run Sidekiq's scheduler (moving due `schedule`/`retry` jobs). Off, every
   * such move in the test is made by a Deno node. @default true
   */
  scheduler?: boolean;
}

/** Ruby next to a test Redis. */
export interface RubySide extends AsyncDisposable {
  /** Runs a Ruby script (Sidekiq and its API loaded); returns what it `report`ed. */
  run<T = unknown>(code: string): Promise<T>;
  /** Starts `sidekiq` on `queues`; resolves once its heartbeat is in Redis. */
  startSidekiq(options: SidekiqOptions): Promise<SidekiqProcessHandle>;
  /** Starts the web UI; resolves once it answers. */
  startWeb(): Promise<SidekiqWeb>;
}

/** Prepares Ruby scripts against `redis`; dispose stops every child started. */
export async function rubySide(redis: TestRedis): Promise<RubySide> {
  const dir = await Deno.makeTempDir({ prefix: "verk-test-ruby-" });
  const env = { REDIS_URL: redis.url, RACK_ENV: "production" };
  const children: Child[] = [];
  let scripts = 0;

  const write = async (name: string, text: string) => {
    await Deno.writeTextFile(`${dir}/${name}`, text);
    return name;
  };
  const spawn = (command: string, args: string[]) => {
    const child = new Child(command, args, dir, env);
    children.push(child);
    return child;
  };

  return {
    async run<T>(code: string): Promise<T> {
      const file = await write(`script_${scripts++}.rb`, `${PRELUDE}\n${code}\n`);
      const { code: exit, stdout, stderr } = await new Deno.Command("ruby", {
        args: [file],
        cwd: dir,
        env,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
      const out = new TextDecoder().decode(stdout);
      if (exit !== 0) {
        throw new Error(`ruby exited with ${exit}:\n${new TextDecoder().decode(stderr)}\n${out}`);
      }
      const line = out.split("\n").findLast((l) => l.startsWith("@@report "));
      return (line === undefined ? undefined : parseLossless(line.slice(9))) as T;
    },

    async startSidekiq({ queues, concurrency = 5, code = "", scheduler = true }) {
      const noScheduler = scheduler
        ? ""
        : "Sidekiq::Scheduled::Poller.prepend(Module.new { def start; end })\n";
      const file = await write(
        `worker_${scripts++}.rb`,
        `${SIDEKIQ_PRELUDE}\n${noScheduler}${code}\n`,
      );
      const queueArgs = queues.flatMap((queue) => ["-q", queue]);
      const child = spawn("sidekiq", [
        "-r",
        `./${file}`,
        ...queueArgs,
        "-c",
        String(concurrency),
        "-t",
        "3",
      ]);
      const identity = await eventually(async () => {
        if (child.exited) throw new Error(`sidekiq exited:\n${child.output()}`);
        const members = await redis.command("SMEMBERS", "processes") as string[];
        return members.find((member) => member.includes(`:${child.pid}:`)) ?? null;
      }, { timeoutMs: 20_000, message: "sidekiq registered in processes" }).catch((error) => {
        throw new Error(`${error.message}\n${child.output()}`);
      });
      return {
        identity,
        pid: child.pid,
        output: () => child.output(),
        stop: () => child.stop(),
      };
    },

    async startWeb() {
      const file = await write("config.ru", CONFIG_RU);
      const port = freePort();
      const child = spawn("rackup", ["-s", "webrick", "-o", "127.0.0.1", "-p", String(port), file]);
      const url = `http://127.0.0.1:${port}`;
      const get = async (path: string) => {
        const response = await fetch(url + path, { redirect: "manual" });
        return { status: response.status, body: await response.text() };
      };
      await eventually(async () => {
        if (child.exited) throw new Error(`rackup exited:\n${child.output()}`);
        return (await get("/stats")).status === 200;
      }, { timeoutMs: 20_000, message: "Sidekiq web answering" });
      return {
        url,
        get,
        async submit(path, fields) {
          const page = await fetch(url + path, { redirect: "manual" });
          const html = await page.text();
          const cookie = page.headers.get("set-cookie")?.split(";")[0] ?? "";
          const token = /name=['"]authenticity_token['"] value=['"]([^'"]+)/.exec(html)?.[1] ?? "";
          const response = await fetch(url + path, {
            method: "POST",
            redirect: "manual",
            headers: { cookie, "content-type": "application/x-www-form-urlencoded" },
            body: new URLSearchParams({ ...fields, authenticity_token: token }),
          });
          await response.body?.cancel();
          return response.status;
        },
      };
    },

    async [Symbol.asyncDispose]() {
      await Promise.all(children.map((child) => child.stop()));
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/** Args of every JSON kind both sides must agree on; {@link MIXED_ARGS_RUBY} is the same in Ruby. */
export const MIXED_ARGS: readonly unknown[] = [
  "text",
  42,
  -7,
  3.25,
  { nested: { list: [1, null, true, false], "ü": "日本語 🎉" } },
  null,
  true,
  false,
  "unicode ✓ 😀",
];
/** {@link MIXED_ARGS} as a Ruby literal. */
export const MIXED_ARGS_RUBY =
  `["text", 42, -7, 3.25, {"nested" => {"list" => [1, nil, true, false], "ü" => "日本語 🎉"}}, ` +
  `nil, true, false, "unicode ✓ 😀"]`;

/** Ruby's view of a job in a sorted set, as the prelude's `find_job` reports it. */
export type RubyJob = Record<string, unknown> & {
  /** Decompressed by Sidekiq. */
  error_backtrace?: string[];
  _score: number;
  _display_class: string;
};

/** Waits for the member of sorted set `set` holding `jid`; gives it with its score as Redis prints it. */
export function memberOf(
  redis: TestRedis,
  set: string,
  jid: string,
): Promise<{ member: string; score: string }> {
  return eventually(async () => {
    const entries = await redis.command("ZRANGE", set, 0, -1, "WITHSCORES") as string[];
    for (let i = 0; i < entries.length; i += 2) {
      if (entries[i]!.includes(jid)) return { member: entries[i]!, score: entries[i + 1]! };
    }
    return null;
  }, { message: `${jid} in ${set}` });
}

type Reviver = (key: string, value: unknown, context?: { source?: string }) => unknown;

/** JSON.parse that reads integers beyond 2^53 as exact bigints (Ruby writes them exactly). */
export function parseLossless(text: string): unknown {
  const reviver: Reviver = (_key, value, context) =>
    typeof value === "number" && !Number.isSafeInteger(value) &&
      /^-?\d+$/.test(context?.source ?? "")
      ? BigInt(context!.source!)
      : value;
  return (JSON.parse as (text: string, reviver: Reviver) => unknown)(text, reviver);
}
