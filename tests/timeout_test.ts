import assert from "node:assert/strict";
import { JobTimeoutError, JobValidationError, Worker } from "../mod.ts";
import { eventually, startRedis } from "./_helpers/redis.ts";
import { deferred, inspector, testVerk } from "./_helpers/verk.ts";

Deno.test("a job past its worker's timeout fails with JobTimeoutError, its signal aborts and its slot frees", async () => {
  await using redis = await startRedis();
  await using db = inspector(redis.url);
  const late = deferred();
  const signals: AbortSignal[] = [];
  const ran: string[] = [];
  class Sometimes extends Worker<[string]> {
    override timeout = 100;
    async perform(mode: string) {
      ran.push(mode);
      signals.push(this.job.signal);
      if (mode === "hang") await late.promise; // ignores its signal
    }
  }
  await using verk = testVerk(redis.url, { queues: { default: 1 }, workers: { Sometimes } });
  await verk.start();
  await verk.enqueue({ queue: "default", class: "Sometimes", args: ["hang"] });
  await verk.enqueue({ queue: "default", class: "Sometimes", args: ["quick"] });
  await eventually(() => ran.length === 2); // concurrency 1: the second ran only after the timeout
  const [member] = await eventually(async () => {
    const retries = await db.zrange("retry", 0, -1);
    return retries.length === 1 ? retries : null;
  });
  const failed = JSON.parse(member!);
  assert.equal(failed.error_class, "JobTimeoutError");
  assert.match(failed.error_message, /timeout of 100 ms/);
  assert.equal(signals[0]!.aborted, true);
  assert.ok(signals[0]!.reason instanceof JobTimeoutError);
  assert.equal(signals[1]!.aborted, false);
  late.resolve(); // the late completion is ignored: no second count, no ack of a settled job
  await eventually(() => verk.stats().totals.finished === 1);
  assert.deepEqual(verk.stats().totals, { running: 0, finished: 1, failed: 1 });
  await eventually(async () => (await db.llen("inprogress:default:1")) === 0);
  assert.equal(await db.zcard("retry"), 1);
});

Deno.test("a job's own timeout beats its worker's", async () => {
  await using redis = await startRedis();
  await using db = inspector(redis.url);
  await using verk = testVerk(redis.url, {
    queues: { default: 1 },
    workers: {
      Slow: {
        timeout: 60_000,
        perform() {
          return new Promise((resolve) => this.job.signal.addEventListener("abort", resolve));
        },
      },
    },
  });
  await verk.start();
  await verk.enqueue({ queue: "default", class: "Slow", args: [], timeout: 50 });
  const [member] = await eventually(async () => {
    const retries = await db.zrange("retry", 0, -1);
    return retries.length === 1 ? retries : null;
  });
  assert.equal(JSON.parse(member!).error_class, "JobTimeoutError");
  assert.equal(JSON.parse(member!).timeout, 0.05);
});

Deno.test("an invalid job timeout is refused naming the field", async () => {
  await using redis = await startRedis();
  await using verk = testVerk(redis.url);
  await assert.rejects(
    verk.enqueue({ queue: "q", class: "W", args: [], timeout: -1 }),
    (error: unknown) => error instanceof JobValidationError && error.field === "timeout",
  );
});
