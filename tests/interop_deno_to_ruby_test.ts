/**
 * Deno enqueues, Ruby runs; Deno fails, Sidekiq's tools cope: jobs enqueued
 * and scheduled by this library run in a real `sidekiq` 6.4 process, and the
 * retry and dead entries Deno writes are read, retried and deleted by
 * Sidekiq's API and shown by its web UI.
 */
import assert from "node:assert/strict";
import { Verk, type WorkerObject } from "../mod.ts";
import { eventually, startRedis, type TestRedis } from "./_helpers/redis.ts";
import {
  memberOf,
  MIXED_ARGS,
  parseLossless,
  type RubyJob,
  rubySide,
  sidekiqTest,
} from "./_helpers/ruby.ts";
import { testVerk } from "./_helpers/verk.ts";

class PaymentError extends Error {
  override name = "PaymentError";
}

/** The jobs the sidekiq process ran, as its middleware saw them. */
async function rubyRan(redis: TestRedis): Promise<Map<string, Record<string, unknown>>> {
  const list = await redis.command("LRANGE", "ruby:jobs", 0, -1) as string[];
  return new Map(list.map((text) => {
    const job = parseLossless(text) as Record<string, unknown>;
    return [job.jid as string, job];
  }));
}

const ranInRuby = (redis: TestRedis, jids: string[]) =>
  eventually(async () => {
    const ran = await rubyRan(redis);
    return jids.every((jid) => ran.has(jid)) ? ran : null;
  }, { message: `sidekiq ran ${jids.join(", ")}` });

sidekiqTest(
  "Deno enqueues, Ruby Sidekiq runs; Deno's failures work with Sidekiq's API and web UI",
  async (t) => {
    await using redis = await startRedis();
    await using ruby = await rubySide(redis);
    const sidekiq = await ruby.startSidekiq({ queues: ["ruby"] });
    const web = await ruby.startWeb();
    await using producer = new Verk({ redisUrl: redis.url });

    await t.step(
      "enqueued and scheduled jobs run in sidekiq with the same args and keys",
      async () => {
        const args = [...MIXED_ARGS, 18446744073709551617n, "a/b", [], {}];
        const single = await producer.enqueue({
          queue: "ruby",
          class: "RubyRecord",
          args,
          extra: { tags: ["deno"], bid: "b-1" },
        });
        const many = await producer.enqueueMany([
          { queue: "ruby", class: "RubyRecord", args: [1] },
          { queue: "ruby", class: "RubyRecord", args: [{ two: 2 }] },
        ]);
        const at = Date.now() + 1_000;
        const later = await producer.schedule(
          { queue: "ruby", class: "RubyRecord", args: ["later"] },
          at,
        );
        const ran = await ranInRuby(redis, [single, ...many, later]);
        assert.deepEqual(ran.get(single)!.args, args);
        assert.deepEqual(ran.get(single)!.tags, ["deno"]);
        assert.equal(ran.get(single)!.bid, "b-1");
        assert.deepEqual(many.map((jid) => ran.get(jid)!.args), [[1], [{ two: 2 }]]);
        const scheduled = ran.get(later)!;
        assert.deepEqual(scheduled.args, ["later"]);
        assert.ok(
          (scheduled.enqueued_at as number) * 1000 >= at - 50,
          "moved when due, not before",
        );
        assert.equal(scheduled.ran_on, "ruby");
      },
    );

    await t.step(
      "Queue#latency and Stats read sane values for Deno's jobs and counters",
      async () => {
        await producer.enqueueMany(
          Array.from({ length: 3 }, (_, n) => ({ queue: "parked", class: "Parked", args: [n] })),
        );
        const read = () =>
          ruby.run<
            {
              latency: number;
              size: number;
              enqueued: number;
              processed: number;
              failed: number;
              today: number;
            }
          >(`
q = Sidekiq::Queue.new("parked")
stats = Sidekiq::Stats.new
stats.fetch_stats_slow!
today = Sidekiq::Stats::History.new(1).processed.values.first
report({ "latency" => q.latency, "size" => q.size, "enqueued" => stats.enqueued,
         "processed" => stats.processed, "failed" => stats.failed, "today" => today })`);
        const before = await read();
        assert.ok(before.latency >= 0 && before.latency < 30, `latency ${before.latency}`);
        assert.equal(before.size, 3);
        assert.equal(before.enqueued, 3);
        {
          await using node = testVerk(redis.url, {
            nodeId: "parked",
            queues: { parked: 2 },
            workers: {
              Parked: {
                perform(n: number) {
                  if (n === 0) throw new Error("zero");
                },
                retryAt: () => Date.now() + 3_600_000,
              },
            },
          });
          await node.start();
          await eventually(async () => (await redis.command("LLEN", "queue:parked")) === 0);
          await eventually(() => node.stats().totals.finished + node.stats().totals.failed === 3);
        } // stop flushes the counters
        const after = await read();
        assert.equal(after.size, 0);
        assert.equal(after.latency, 0);
        assert.ok(after.processed - before.processed >= 3, `processed ${JSON.stringify(after)}`);
        assert.ok(after.failed - before.failed >= 1);
        assert.ok(after.today >= 3, "Sidekiq's daily history counts Deno's jobs");
      },
    );

    let failing = true;
    const DenoBoom: WorkerObject = {
      perform(..._args: unknown[]) {
        if (failing) throw new PaymentError(`card declined for job ${this.job.jid}`);
      },
    };
    const runs: { jid: string; attempt: number }[] = [];
    const Recorded: WorkerObject = {
      perform() {
        runs.push({ jid: this.job.jid, attempt: this.job.attempt });
      },
    };
    const verk = testVerk(redis.url, { queues: { deno: 5 }, workers: { DenoBoom, Recorded } });
    await verk.start();
    try {
      const boom = (maxRetryCount: number, args: unknown[] = ["x"]) =>
        verk.enqueue({ queue: "deno", class: "DenoBoom", args, maxRetryCount });
      const retried = await boom(3, [1, { a: "b" }]);
      const killed = await boom(0);
      const deleted = await boom(0);
      const shown = await boom(3);

      await t.step(
        "RetrySet and DeadSet list Deno's failures with Sidekiq's fields and backtrace",
        async () => {
          await memberOf(redis, "dead", deleted);
          await memberOf(redis, "retry", shown);
          const seen = await ruby.run<Record<string, RubyJob>>(`
retries = Sidekiq::RetrySet.new
dead = Sidekiq::DeadSet.new
report({ "retried" => find_job(retries, "${retried}"), "killed" => find_job(dead, "${killed}") })`);
          for (const [name, jid] of [["retried", retried], ["killed", killed]] as const) {
            const job = seen[name]!;
            assert.equal(job.jid, jid);
            assert.equal(job.retry_count, 0);
            assert.equal(job.error_class, "PaymentError");
            assert.equal(job.error_message, `card declined for job ${jid}`);
            assert.equal(typeof job.failed_at, "number");
            const lines = job.error_backtrace!;
            assert.ok(lines.length > 0 && lines.length <= 5, `${lines.length} lines`);
            assert.match(lines[0]!, /interop_deno_to_ruby_test\.ts:\d+:\d+/);
          }
          assert.deepEqual(seen.retried!.args, [1, { a: "b" }]);
          assert.equal(seen.retried!.retry, 3);
        },
      );

      await t.step(
        "the web UI answers 200 for queue, retry, morgue and scheduled pages",
        async () => {
          await producer.schedule(
            { queue: "deno", class: "DenoBoom", args: ["far"] },
            Date.now() + 3_600_000,
          );
          await producer.enqueue({ queue: "parked", class: "Parked", args: ["shown"] });
          await redis.command("LPUSH", "queue:deno", "not a job");
          const malformed = await eventually(async () => {
            const dead = await redis.command("ZRANGE", "dead", 0, -1) as string[];
            const member = dead.find((text) => text.includes("Verk::MalformedJob"));
            return member === undefined ? null : JSON.parse(member).jid as string;
          });
          const retry = await memberOf(redis, "retry", shown);
          const dead = await memberOf(redis, "dead", killed);
          const malformedDead = await memberOf(redis, "dead", malformed);
          const pages: [string, string[]][] = [
            ["/", []],
            ["/queues", ["parked"]],
            ["/queues/parked", ["shown", "Parked"]],
            [`/retries/${retry.score}-${shown}`, [shown, "PaymentError", "card declined"]],
            ["/retries", [shown]],
            [`/morgue/${dead.score}-${killed}`, [killed, "PaymentError"]],
            [`/morgue/${malformedDead.score}-${malformed}`, ["MalformedJob", "not a job"]],
            ["/morgue", [killed]],
            ["/scheduled", ["far"]],
            ["/busy", []],
          ];
          for (const [path, texts] of pages) {
            const page = await web.get(path);
            assert.equal(page.status, 200, `${path} answered ${page.status}:\n${page.body}`);
            for (const text of texts) assert.ok(page.body.includes(text), `${path} shows ${text}`);
          }
          const retryPage = (await web.get(`/retries/${retry.score}-${shown}`)).body;
          assert.match(retryPage, /interop_deno_to_ruby_test\.ts/, "the backtrace is shown");
        },
      );

      await t.step("retrying and deleting from Ruby works on Deno's entries", async () => {
        failing = false;
        verk.register("DenoBoom", { perform: Recorded.perform });
        await ruby.run(`
Sidekiq::RetrySet.new.find_job("${retried}").retry
Sidekiq::DeadSet.new.find_job("${killed}").retry
Sidekiq::DeadSet.new.find_job("${deleted}").delete
report(true)`);
        await eventually(() =>
          [retried, killed].every((jid) => runs.some((run) => run.jid === jid))
        );
        // Sidekiq's "retry now" takes one off retry_count (0 → -1): the run counts as attempt 1.
        assert.deepEqual(
          runs.filter((run) => run.jid === retried || run.jid === killed).map((run) => run.attempt),
          [1, 1],
        );
        const left = await ruby.run<number[]>(`
report([Sidekiq::RetrySet.new.find_job("${retried}"), Sidekiq::DeadSet.new.find_job("${killed}"),
        Sidekiq::DeadSet.new.find_job("${deleted}")].compact.size)`);
        assert.equal(left, 0);
        await eventually(async () => (await redis.command("LLEN", "inprogress:deno:1")) === 0);
      });
    } finally {
      await verk.stop();
    }

    await t.step(
      "a job failing in Deno is retried by Ruby's scheduler, keeping its count and unknown keys",
      async () => {
        let denoFailure = "";
        let verkJob = "";
        {
          await using node = testVerk(redis.url, {
            nodeId: "two",
            queues: { deno2: 2 },
            workers: {
              RubyFail: {
                perform(_n: number, _name: string) {
                  throw new PaymentError("deno failed first");
                },
              },
              VerkJob: {
                perform() {
                  throw new Error("verk job failed in deno");
                },
              },
            },
          });
          denoFailure = await node.enqueue({
            queue: "deno2",
            class: "RubyFail",
            args: [7, "seven"],
            maxRetryCount: 5,
            retryQueue: "ruby",
            extra: { tags: ["t1"], bid: "batch-9", cattr: { locale: "fr" }, custom: { empty: [] } },
          });
          // A Verk 1.x payload: string args, integer times, nulls, plain backtrace.
          verkJob = "90210";
          await redis.command(
            "LPUSH",
            "queue:deno2",
            `{"queue":"deno2","class":"VerkJob","args":"[1,\\"a/b\\",{\\"k\\":[]}]","jid":"90210",` +
              `"enqueued_at":1796300422,"retry_count":null,"failed_at":null,"error_message":null,` +
              `"max_retry_count":4,"error_backtrace":"lib/verk/worker.ex:12\\nlib/x.ex:3"}`,
          );
          await node.start();
          await memberOf(redis, "retry", denoFailure);
          await memberOf(redis, "retry", verkJob);
        } // stopped: from here only Ruby's scheduler moves retries
        const verkSeen = await ruby.run<RubyJob>(
          `report(find_job(Sidekiq::RetrySet.new, "90210"))`,
        );
        assert.deepEqual(verkSeen.args, [1, "a/b", { k: [] }]);
        assert.equal(verkSeen.retry, 4);
        assert.equal(verkSeen.retry_count, 0);
        assert.ok(verkSeen.error_backtrace!.length > 0);
        for (const jid of [denoFailure, verkJob]) {
          const { member } = await memberOf(redis, "retry", jid);
          await redis.command("ZADD", "retry", "XX", 0, member);
        }
        const ran = await ranInRuby(redis, [denoFailure]);
        const seenByRuby = ran.get(denoFailure)!;
        assert.equal(seenByRuby.retry_count, 0);
        assert.equal(seenByRuby.error_class, "PaymentError");
        assert.deepEqual(seenByRuby.args, [7, "seven"]);
        const again = await eventually(() =>
          ruby.run<RubyJob | null>(`
job = find_job(Sidekiq::RetrySet.new, "${denoFailure}")
report(job && job["error_class"] == "ArgumentError" ? job : nil)`)
        );
        assert.equal(again.retry_count, 1);
        assert.equal(again.error_message, "ruby failed with 2 args");
        assert.deepEqual(
          [again.tags, again.bid, again.cattr, again.custom, again.retry, again.queue],
          [["t1"], "batch-9", { locale: "fr" }, { empty: [] }, 5, "ruby"],
        );
        // Ruby's scheduler moved the Verk job too (it drops jobs whose args are a string).
        const [moved] = await eventually(async () => {
          const list = await redis.command("LRANGE", "queue:deno2", 0, -1) as string[];
          return list.length === 1 ? list : null;
        }, { message: "the Verk job back on queue:deno2" });
        assert.deepEqual(JSON.parse(moved!).args, [1, "a/b", { k: [] }]);
      },
    );

    assert.match(sidekiq.output(), /Booting Sidekiq 6\.4\.1/);
  },
);
