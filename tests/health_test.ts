import assert from "node:assert/strict";
import { spawnChild } from "./_helpers/process.ts";
import { eventually, startRedis } from "./_helpers/redis.ts";
import { inspector, testVerk } from "./_helpers/verk.ts";

Deno.test("health() turns unhealthy while Redis is down and healthy again once it is back", async () => {
  await using redis = await startRedis({ appendOnly: true });
  if (redis.external) return; // needs a server of its own to stop
  await using verk = testVerk(redis.url, { queues: { default: 2, other: 1 } });
  assert.equal(verk.health().healthy, false); // not started
  await verk.start();
  await eventually(() => verk.health().healthy);
  assert.deepEqual(Object.keys(verk.health().queues).sort(), ["default", "other"]);
  await redis.kill();
  await eventually(() => !verk.health().healthy && !verk.health().queues.default?.connected);
  await redis.restart();
  await eventually(() => verk.health().healthy, { message: "healthy after Redis came back" });
});

Deno.test("deno task worker answers health probes on VERK_HEALTH_PORT", async () => {
  await using redis = await startRedis();
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  await using worker = spawnChild(new URL("../examples/worker.ts", import.meta.url), {
    VERK_REDIS_URL: redis.url,
    VERK_HEALTH_PORT: String(port),
    VERK_HEALTH_HOST: "127.0.0.1",
    VERK_LOG_LEVEL: "warning",
  });
  const report = await eventually(async () => {
    const response = await fetch(`http://127.0.0.1:${port}/`);
    const body = await response.json();
    return response.status === 200 ? body : null;
  }, { timeoutMs: 20_000 });
  assert.equal(report.healthy, true);
  assert.deepEqual(Object.keys(report.queues).sort(), ["default", "priority"]);
  worker.process.kill("SIGTERM");
  assert.equal((await worker.status).code, 0);
});

Deno.test("a node whose id another process took reports unhealthy, and healthy again once it rejoins", async () => {
  await using redis = await startRedis();
  await using db = inspector(redis.url);
  await using verk = testVerk(redis.url, {
    nodeId: "contested",
    heartbeat: 200,
    queues: { default: 1 },
  });
  await verk.start();
  await eventually(() => verk.health().healthy);
  const takeover = setInterval(
    () => db.set("verk:node:contested", "elsewhere:1:x", "PX", 400),
    100,
  );
  try {
    await eventually(() =>
      !verk.health().healthy && verk.health().queues.default?.ownsNodeId === false
    );
  } finally {
    clearInterval(takeover);
  }
  await db.del("verk:node:contested");
  await eventually(() => verk.health().healthy, { message: "rejoined once the id was free" });
});
