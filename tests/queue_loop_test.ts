import assert from "node:assert/strict";
import { startRedis } from "./_helpers/redis.ts";
import { testVerk } from "./_helpers/verk.ts";

Deno.test("a queue loop whose node id another process holds waits instead of asking Redis in a tight loop", async () => {
  await using redis = await startRedis();
  await using verk = testVerk(redis.url, {
    queues: { default: 1 },
    heartbeat: 60_000,
    pollInterval: 60_000, // only the queue loop runs scripts
  });
  await verk.start();
  await redis.command("SET", "verk:node:1", "otherhost:1:abcdef", "PX", 60_000);
  await new Promise((resolve) => setTimeout(resolve, 200));
  await redis.command("CONFIG", "RESETSTAT");
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  const stats = await redis.command("INFO", "commandstats") as string;
  const calls = Number(/cmdstat_evalsha:calls=(\d+)/.exec(stats)?.[1] ?? 0);
  assert.ok(calls <= 5, `${calls} script calls in one second`);
});
