import assert from "node:assert/strict";
import { configure, type LogRecord, reset } from "@logtape/logtape";
import { eventually, startRedis } from "./_helpers/redis.ts";
import { deferred, inspector, testVerk } from "./_helpers/verk.ts";

Deno.test("start waits while Redis is down and runs jobs once it comes up", async () => {
  await using redis = await startRedis({ appendOnly: true });
  if (redis.external) return; // needs a server of its own to stop
  await using db = inspector(redis.url);
  await db.lpush("queue:default", '{"class":"Job","args":[1],"jid":"early","queue":"default"}');
  await redis.kill();
  const ran = deferred<unknown[]>();
  await using verk = testVerk(redis.url, {
    queues: { default: 1 },
    enqueueTimeout: 200,
    workers: { Job: { perform: (...args: unknown[]) => ran.resolve(args) } },
  });
  let started = false;
  const starting = verk.start().then(() => started = true);
  await new Promise((resolve) => setTimeout(resolve, 500)); // a window in which start cannot finish
  assert.equal(started, false);
  await redis.restart();
  await starting;
  assert.deepEqual(await ran.promise, [1]);
});

Deno.test("start warns once when Redis may evict keys (maxmemory-policy is not noeviction)", async () => {
  await using redis = await startRedis();
  if (redis.external) return; // changes server configuration
  await using db = inspector(redis.url);
  await db.config("SET", "maxmemory-policy", "allkeys-lru");
  const records: LogRecord[] = [];
  await configure({
    sinks: { capture: (record) => records.push(record) },
    loggers: [
      { category: ["verk"], lowestLevel: "warning", sinks: ["capture"] },
      { category: ["logtape", "meta"], lowestLevel: "error", sinks: [] },
    ],
  });
  try {
    await using verk = testVerk(redis.url, { queues: { default: 1 } });
    await verk.start();
    const warnings = await eventually(() => {
      const found = records.filter((record) =>
        record.rawMessage.toString().includes("maxmemory-policy")
      );
      return found.length > 0 ? found : null;
    });
    assert.equal(warnings.length, 1);
    assert.equal(warnings[0]!.level, "warning");
    assert.equal(warnings[0]!.properties.policy, "allkeys-lru");
  } finally {
    await reset();
  }
});
