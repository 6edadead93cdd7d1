/**
 * Soak: 200,000 no-op jobs through one node in a process of its own. Its RSS
 * once 50,000 jobs have run (warm) and after the last one may differ by at most
 * 10%, and its live heap by less than 1.5 MB: nothing per job may stay in
 * memory. Both are measured after a full GC (see the fixture).
 */
import assert from "node:assert/strict";
import { spawnProcess } from "./_helpers/process.ts";
import { startRedis } from "./_helpers/redis.ts";
import { inspector } from "./_helpers/verk.ts";

const TOTAL = 200_000;

Deno.test("soak: 200,000 jobs through one node; after warm-up its RSS grows by at most 10% and its heap stays flat", async () => {
  await using redis = await startRedis();
  await using db = inspector(redis.url);
  const fixture = new URL("./fixtures/soak_worker.ts", import.meta.url).pathname;
  await using child = spawnProcess(
    Deno.execPath(),
    ["run", "-A", "--v8-flags=--expose-gc", fixture],
    {
      VERK_REDIS_URL: redis.url,
      SOAK_TOTAL: String(TOTAL),
      SOAK_WARMUP: "50000",
      SOAK_BATCH: "5000",
      SOAK_SAMPLE: "10000",
    },
  );
  await child.waitFor("soak {", 90_000);
  const status = await child.status;
  assert.equal(status.code, 0, child.output());
  const { warm, end, ran, ms } = JSON.parse(/soak (\{.*\})/.exec(child.output())![1]!);
  const growth = (end.rss - warm.rss) / warm.rss;
  console.log(
    `${ran} jobs in ${ms} ms (${Math.round(ran / ms * 1000)}/s); after ${warm.ran} jobs: ` +
      `RSS ${mb(warm.rss)} MB, heap ${mb(warm.heapUsed)} MB; at the end: RSS ${mb(end.rss)} MB ` +
      `(${(growth * 100).toFixed(1)}%), heap ${mb(end.heapUsed)} MB`,
  );
  assert.equal(ran, TOTAL);
  assert.ok(growth <= 0.1, `RSS grew by ${(growth * 100).toFixed(1)}%`);
  // The live heap is the sharper sign of a leak: 150,000 jobs that each kept 10 bytes
  // would show here.
  assert.ok(end.heapUsed - warm.heapUsed < 1.5e6, `heap grew by ${end.heapUsed - warm.heapUsed} B`);
  assert.deepEqual(await db.keys("inprogress:*"), []);
  assert.equal(await db.llen("queue:soak"), 0);
  assert.equal(await db.get("stat:processed"), String(TOTAL));
});

function mb(bytes: number): string {
  return (bytes / 1024 / 1024).toFixed(1);
}
