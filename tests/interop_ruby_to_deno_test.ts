/**
 * Ruby enqueues, Deno runs: jobs pushed by real Sidekiq 6.4 (client API and a
 * failing `sidekiq` process) run in a Deno node with the same args, keys and
 * options. Sidekiq's scheduler is off here, so every move from `schedule` or
 * `retry` to a queue is made by the Deno scheduler.
 */
import assert from "node:assert/strict";
import type { JobFailed, JobPayload, WorkerObject } from "../mod.ts";
import { setTopLevelFields } from "../src/job.ts";
import { eventually, startRedis } from "./_helpers/redis.ts";
import {
  memberOf,
  MIXED_ARGS,
  MIXED_ARGS_RUBY,
  type RubyJob,
  rubySide,
  sidekiqTest,
} from "./_helpers/ruby.ts";
import { deferred, testVerk } from "./_helpers/verk.ts";

interface Run {
  class: string;
  args: unknown[];
  attempt: number;
  queue: string;
  payload: JobPayload;
  at: number;
}

class DenoError extends Error {
  override name = "DenoError";
}

/** `text` without the given top-level keys. */
const without = (text: string, ...names: string[]) =>
  setTopLevelFields(text, Object.fromEntries(names.map((name) => [name, undefined])));

const ERROR_FIELDS = ["retry_count", "failed_at", "retried_at", "error_message", "error_class"];

sidekiqTest(
  "Ruby Sidekiq enqueues, Deno runs: args, retries, ActiveJob, options, lossless",
  async (t) => {
    await using redis = await startRedis();
    await using ruby = await rubySide(redis);
    await ruby.startSidekiq({
      queues: ["ruby"],
      scheduler: false,
      code: `class Shared
  include Sidekiq::Worker
  def perform(*_args)
    raise "ruby broke it"
  end
end`,
    });

    const runs: Run[] = [];
    const recorder = (name: string): WorkerObject => ({
      perform(...args: unknown[]) {
        const { attempt, queue, payload } = this.job;
        runs.push({ class: name, args, attempt, queue, payload, at: Date.now() });
      },
    });
    const runsOf = (jid: string, count = 1) =>
      eventually(() => {
        const found = runs.filter((run) => run.payload.jid === jid);
        return found.length >= count ? found : null;
      }, { message: `${count} runs of ${jid}` });
    const failing = (retryAt: (failedAt: Date) => number): WorkerObject => ({
      perform(...args: unknown[]) {
        const { attempt, queue, payload } = this.job;
        runs.push({ class: payload.class, args, attempt, queue, payload, at: Date.now() });
        throw new DenoError(`deno says no to ${args.length} args`);
      },
      retryAt,
    });
    const now = (failedAt: Date) => failedAt.getTime();
    const inAnHour = (failedAt: Date) => failedAt.getTime() + 3_600_000;

    const verk = testVerk(redis.url, {
      queues: { deno: 5, "deno-low": 2 },
      workers: {
        DenoRecord: recorder("DenoRecord"),
        SignupMailerJob: recorder("SignupMailerJob"),
        Shared: failing(inAnHour),
        DenoFail: failing(now),
      },
    });
    const failures: JobFailed[] = [];
    const reading = (async () => {
      for await (const event of verk.events(["JobFailed"])) failures.push(event as JobFailed);
    })();
    await verk.start();

    try {
      await t.step("push, push_bulk and at: the Deno worker gets the same args", async () => {
        const pushed = await ruby.run<{ push: string; bulk: string[]; at: string; atTime: number }>(
          `
args = ${MIXED_ARGS_RUBY}
push = Sidekiq::Client.push("class" => "DenoRecord", "queue" => "deno", "args" => args)
bulk = Sidekiq::Client.push_bulk("class" => "DenoRecord", "queue" => "deno",
                                 "args" => [[1], [2, "two"], [{"three" => 3.0}]])
at_time = Time.now.to_f + 1
at = Sidekiq::Client.push("class" => "DenoRecord", "queue" => "deno", "args" => ["later"],
                          "at" => at_time)
report({ "push" => push, "bulk" => bulk, "at" => at, "atTime" => at_time })`,
        );
        const [single] = await runsOf(pushed.push);
        assert.deepEqual(single!.args, MIXED_ARGS);
        const bulkArgs = [];
        for (const jid of pushed.bulk) bulkArgs.push((await runsOf(jid))[0]!.args);
        assert.deepEqual(bulkArgs, [[1], [2, "two"], [{ three: 3 }]]);
        const [later] = await runsOf(pushed.at);
        assert.deepEqual(later!.args, ["later"]);
        assert.ok(later!.at >= pushed.atTime * 1000 - 50, "the scheduled job did not run early");
        assert.equal(typeof later!.payload.enqueued_at, "number", "enqueued_at set when moved");
      });

      await t.step(
        "a job failing in Ruby is retried by the Deno scheduler with its count and unknown keys",
        async () => {
          const jid = await ruby.run<string>(`
report(Sidekiq::Client.push("class" => "Shared", "queue" => "ruby", "retry_queue" => "deno",
  "retry" => 5, "args" => [1, "two"], "tags" => ["billing"], "bid" => "batch-7",
  "cattr" => {"user_id" => 12}, "custom" => {"empty" => [], "obj" => {}}))`);
          const rubyMember = (await memberOf(redis, "retry", jid)).member;
          assert.equal(JSON.parse(rubyMember).retry_count, 0);
          // Due now: the Deno scheduler (Ruby's is off) moves it to its retry_queue.
          await redis.command("ZADD", "retry", "XX", 0, rubyMember);
          const [run] = await runsOf(jid);
          assert.equal(run!.queue, "deno");
          assert.equal(run!.attempt, 2);
          assert.equal(run!.payload.retry_count, 0);
          assert.equal(run!.payload.error_class, "RuntimeError");
          assert.deepEqual(run!.args, [1, "two"]);
          const denoMember = (await memberOf(redis, "retry", jid)).member;
          // Only the error fields and enqueued_at changed; every other byte is Ruby's.
          const changed = [...ERROR_FIELDS, "enqueued_at", "error_backtrace"];
          assert.equal(without(denoMember, ...changed), without(rubyMember, ...changed));
          const seen = await ruby.run<RubyJob>(`report(find_job(Sidekiq::RetrySet.new, "${jid}"))`);
          assert.equal(seen.retry_count, 1);
          assert.equal(seen.error_class, "DenoError");
          assert.equal(seen.error_message, "deno says no to 2 args");
          assert.equal(seen.failed_at, JSON.parse(rubyMember).failed_at);
          assert.equal(typeof seen.retried_at, "number");
          assert.deepEqual(
            [seen.tags, seen.bid, seen.cattr, seen.custom, seen.retry, seen.queue],
            [["billing"], "batch-7", { user_id: 12 }, { empty: [], obj: {} }, 5, "deno"],
          );
        },
      );

      await t.step(
        "an ActiveJob job (Rails' and Sidekiq 7's wrapper) runs the worker of its wrapped class",
        async () => {
          const jids = await ruby.run<string[]>(`
def active_job(wrapper, job_id)
  data = {
    "job_class" => "SignupMailerJob", "job_id" => job_id, "provider_job_id" => nil,
    "queue_name" => "deno", "priority" => nil,
    "arguments" => [
      42, "pro",
      {"plan" => "pro", "seats" => 3, "_aj_symbol_keys" => ["plan", "seats"]},
      {"user" => {"_aj_globalid" => "gid://app/User/1"}, "_aj_symbol_keys" => []},
      {"_aj_serialized" => "ActiveJob::Serializers::SymbolSerializer", "value" => "welcome"},
      {"notify" => true, "_aj_ruby2_keywords" => ["notify"]},
      {"deep" => [{"x" => 1, "_aj_hash_with_indifferent_access" => true}], "_aj_symbol_keys" => []}
    ],
    "executions" => 0, "exception_executions" => {}, "locale" => "en", "timezone" => "UTC",
    "enqueued_at" => "2026-12-03T12:00:00.123456789Z", "scheduled_at" => nil
  }
  # What ActiveJob's adapter does: JobWrapper.set(wrapped: job.class, queue: …).perform_async(job.serialize)
  Sidekiq::Client.push("class" => wrapper, "wrapped" => "SignupMailerJob", "queue" => "deno",
                       "args" => [data])
end
report([active_job("ActiveJob::QueueAdapters::SidekiqAdapter::JobWrapper", "aj-1"),
        active_job("Sidekiq::ActiveJob::Wrapper", "aj-2")])`);
          for (const [index, jid] of jids.entries()) {
            const [run] = await runsOf(jid);
            assert.equal(run!.class, "SignupMailerJob");
            assert.deepEqual(run!.args, [
              42,
              "pro",
              { plan: "pro", seats: 3 },
              { user: { _aj_globalid: "gid://app/User/1" } },
              { _aj_serialized: "ActiveJob::Serializers::SymbolSerializer", value: "welcome" },
              { notify: true },
              { deep: [{ x: 1 }] },
            ]);
            const data = run!.payload.args[0] as Record<string, unknown>;
            assert.equal(data.job_id, `aj-${index + 1}`);
            assert.equal(run!.payload.wrapped, "SignupMailerJob");
          }
        },
      );

      await t.step(
        "an ActiveJob job with no Deno worker fails naming its wrapped class",
        async () => {
          const jid = await ruby.run<string>(`
report(Sidekiq::Client.push("class" => "ActiveJob::QueueAdapters::SidekiqAdapter::JobWrapper",
  "wrapped" => "NoSuchJob", "queue" => "deno", "retry" => 3,
  "args" => [{"job_class" => "NoSuchJob", "job_id" => "aj-3", "queue_name" => "deno",
              "arguments" => [], "executions" => 0}]))`);
          const seen = await eventually(
            () => ruby.run<RubyJob | null>(`report(find_job(Sidekiq::RetrySet.new, "${jid}"))`),
          );
          assert.match(seen.error_message as string, /"NoSuchJob".*ActiveJob/);
          assert.equal(seen._display_class, "NoSuchJob");
        },
      );

      await t.step(
        "Sidekiq options set from Ruby: retry false/N, retry_queue, dead false, backtrace N",
        async () => {
          const jids = await ruby.run<Record<string, string>>(`
push = ->(opts) { Sidekiq::Client.push({"class" => "DenoFail", "queue" => "deno", "args" => ["x"]}.merge(opts)) }
report({
  "noRetry" => push.({"retry" => false}),
  "twoRetries" => push.({"retry" => 2}),
  "retryQueue" => push.({"retry" => 1, "retry_queue" => "deno-low"}),
  "noDead" => push.({"retry" => 0, "dead" => false}),
  "threeLines" => push.({"retry" => 0, "backtrace" => 3}),
  "noLines" => push.({"retry" => 0, "backtrace" => false}),
})`);
          const outcomes = await eventually(() => {
            const byJid = new Map<string, string[]>();
            for (const event of failures) {
              byJid.set(event.job.jid, [...byJid.get(event.job.jid) ?? [], event.outcome]);
            }
            const all = Object.values(jids).map((jid) => byJid.get(jid) ?? []);
            return all.every((list) => list.at(-1) === "drop" || list.at(-1) === "dead")
              ? byJid
              : null;
          }, { message: "every job ended in dead or dropped" });
          assert.deepEqual(outcomes.get(jids.noRetry!), ["drop"]);
          assert.deepEqual(outcomes.get(jids.twoRetries!), ["retry", "retry", "dead"]);
          assert.deepEqual(outcomes.get(jids.retryQueue!), ["retry", "dead"]);
          assert.deepEqual(outcomes.get(jids.noDead!), ["drop"]);
          assert.deepEqual((await runsOf(jids.retryQueue!, 2)).map((run) => run.queue), [
            "deno",
            "deno-low",
          ]);
          const seen = await ruby.run<Record<string, RubyJob | null>>(`
dead = Sidekiq::DeadSet.new
retries = Sidekiq::RetrySet.new
report(${
            JSON.stringify(jids)
          }.to_h { |name, jid| [name, find_job(dead, jid) || find_job(retries, jid)] })`);
          assert.equal(seen.noRetry, null);
          assert.equal(seen.noDead, null);
          assert.equal(seen.twoRetries!.retry_count, 2);
          assert.equal(seen.twoRetries!.error_class, "DenoError");
          assert.equal(seen.retryQueue!.retry_count, 1);
          assert.equal(seen.retryQueue!.queue, "deno-low");
          assert.equal(seen.threeLines!.error_backtrace!.length, 3);
          assert.match(seen.threeLines!.error_backtrace![0]!, /interop_ruby_to_deno_test\.ts/);
          assert.equal("error_backtrace" in seen.noLines!, false);
        },
      );

      await t.step(
        "lossless: big integers, a/b, [], {}, emoji and 1 MB survive failure, retry and success",
        async () => {
          const attempts: unknown[][] = [];
          const second = deferred();
          const release = deferred();
          verk.register("Lossless", {
            async perform(...args: unknown[]) {
              attempts.push(args);
              if (attempts.length === 1) throw new DenoError("first attempt fails");
              second.resolve();
              await release.promise;
            },
            retryAt: inAnHour,
          });
          const jid = await ruby.run<string>(`
long = "é/😀x" * 262_144
report(Sidekiq::Client.push("class" => "Lossless", "queue" => "lossless", "args" =>
  [2**64 + 1, -(2**70), "a/b", [], {}, {"k" => []}, "emoji 😀👍🏽", long, 1.5e300]))`);
          const [original] = await redis.command("LRANGE", "queue:lossless", 0, -1) as string[];
          assert.ok(
            original!.includes('"a/b"') && original!.includes("[],{}"),
            "Ruby wrote it plainly",
          );
          await verk.addQueue("lossless", 1);
          const retryMember = (await memberOf(redis, "retry", jid)).member;
          assert.equal(without(retryMember, ...ERROR_FIELDS, "error_backtrace"), original);

          await redis.command("ZADD", "retry", "XX", 0, retryMember);
          await second.promise;
          const [running] = await redis.command(
            "LRANGE",
            "inprogress:lossless:1",
            0,
            -1,
          ) as string[];
          assert.equal(without(running!, "enqueued_at"), without(retryMember, "enqueued_at"));
          const long = "é/😀x".repeat(262_144);
          const expected = [
            18446744073709551617n,
            -1180591620717411303424n,
            "a/b",
            [],
            {},
            { k: [] },
            "emoji 😀👍🏽",
            long,
            1.5e300,
          ];
          assert.deepEqual(attempts, [expected, expected]);
          const rubyView = await ruby.run<unknown[]>(`
job = JSON.parse(Sidekiq.redis { |c| c.lrange("inprogress:lossless:1", 0, -1) }.first)
a = job["args"]
report([a[0] == 2**64 + 1, a[1] == -(2**70), a[2..6], a[7] == "é/😀x" * 262_144])`);
          assert.deepEqual(rubyView, [true, true, ["a/b", [], {}, { k: [] }, "emoji 😀👍🏽"], true]);
          release.resolve();
          await eventually(async () =>
            (await redis.command("LLEN", "inprogress:lossless:1")) === 0
          );
          for (const set of ["retry", "dead"]) {
            const members = await redis.command("ZRANGE", set, 0, -1) as string[];
            assert.ok(!members.some((member) => member.includes(jid)), `not in ${set}`);
          }
        },
      );
    } finally {
      await verk.stop();
      await reading;
    }
  },
);
