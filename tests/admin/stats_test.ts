import assert from "node:assert/strict";
import { Admin, AdminError } from "../../mod.ts";
import { eventually, startRedis } from "../_helpers/redis.ts";
import { inspector, testVerk } from "../_helpers/verk.ts";

Deno.test("stats: totals, sizes, per-queue counters and today's history after real work", async () => {
  await using redis = await startRedis();
  await using db = inspector(redis.url);
  let runs = 0;
  {
    await using verk = testVerk(redis.url, {
      queues: { default: 2, mail: 1 },
      workers: {
        Ok: { perform: () => void runs++ },
        Fails: {
          perform() {
            runs++;
            throw new Error("no");
          },
        },
      },
    });
    await verk.start();
    await verk.enqueueMany([
      { queue: "default", class: "Ok", args: [] },
      { queue: "default", class: "Ok", args: [] },
      { queue: "mail", class: "Fails", args: [] },
    ]);
    await eventually(() => runs === 3);
    await eventually(async () => await db.zcard("retry") === 1);
    await verk.schedule({ queue: "later", class: "Ok", args: [] }, Date.now() + 3_600_000);
  } // stop() flushes the counters
  await db.lpush("queue:waiting", '{"class":"A","args":[]}', '{"class":"A","args":[]}');
  await db.zadd("dead", 1, '{"class":"A","args":[]}');
  await using admin = new Admin({ redisUrl: redis.url });

  assert.deepEqual(await admin.stats.totals(), { processed: 3, failed: 1 });
  const summary = await admin.stats.summary();
  assert.deepEqual(summary, {
    processed: 3,
    failed: 1,
    enqueued: 2,
    scheduled: 1,
    retries: 1,
    dead: 1,
    nodes: 0,
    processes: 0,
    queues: { default: 0, mail: 0, waiting: 2 },
  });
  assert.deepEqual(await admin.stats.queues(), {
    default: { processed: 2, failed: 0 },
    mail: { processed: 1, failed: 1 },
    waiting: { processed: 0, failed: 0 },
  });
  const today = new Date().toISOString().slice(0, 10);
  const history = await admin.stats.history(3);
  assert.equal(history.length, 3);
  assert.deepEqual(history[0], { date: today, processed: 3, failed: 1 });
  assert.deepEqual(history.slice(1).map((day) => [day.processed, day.failed]), [[0, 0], [0, 0]]);
});

Deno.test("stats: history() reads past days, counters of cleared queues stay listed, bad days are refused", async () => {
  await using redis = await startRedis();
  await using db = inspector(redis.url);
  await db.mset({
    "stat:processed:2026-01-30": "7",
    "stat:failed:2026-01-30": "2",
    "stat:processed:2026-02-01": "5",
    "stat:processed:old-queue": "11",
  });
  await using admin = new Admin({ redisUrl: redis.url });
  assert.deepEqual(await admin.stats.history(3, new Date("2026-02-01T23:00:00Z")), [
    { date: "2026-02-01", processed: 5, failed: 0 },
    { date: "2026-01-31", processed: 0, failed: 0 },
    { date: "2026-01-30", processed: 7, failed: 2 },
  ]);
  assert.deepEqual(await admin.stats.queues(), { "old-queue": { processed: 11, failed: 0 } });
  for (const days of [0, -3, 2.5, 100_000]) {
    await assert.rejects(admin.stats.history(days), (error: unknown) => {
      assert.ok(error instanceof AdminError);
      assert.equal(error.field, "days");
      return true;
    });
  }
});
