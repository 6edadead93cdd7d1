import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { eventually, startRedis } from "./redis.ts";
import { startTcpProxy } from "./tcp_proxy.ts";

Deno.test("the proxy forwards to Redis, cut() drops every connection, and clients reconnect", async () => {
  await using redis = await startRedis();
  await using proxy = startTcpProxy(redis.port);
  const client = new Redis(proxy.url(redis.db), {
    protocol: 2,
    retryStrategy: () => 20,
    maxRetriesPerRequest: null,
  });
  client.on("error", () => {});
  try {
    await client.set("through", "proxy");
    assert.equal(await redis.command("GET", "through"), "proxy");
    assert.equal(proxy.open, 1);
    const closed = new Promise((resolve) => client.once("close", resolve));
    assert.equal(proxy.cut(), 1);
    await closed;
    assert.equal(proxy.open, 0);
    // ioredis reconnects through the proxy and the next command goes through.
    assert.equal(await client.get("through"), "proxy");
    await eventually(() => proxy.open === 1);
    // Down: connections are cut and refused until it is up again.
    proxy.setDown(true);
    const pending = client.get("through");
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(proxy.open, 0);
    proxy.setDown(false);
    assert.equal(await pending, "proxy");
  } finally {
    client.disconnect();
  }
});

Deno.test("the proxy closes a client whose target is down, and stop() leaves nothing open", async () => {
  await using redis = await startRedis();
  if (redis.external) return; // needs a server of its own to stop
  await using proxy = startTcpProxy(redis.port);
  await redis.kill();
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: proxy.port });
  assert.equal(await conn.read(new Uint8Array(16)), null);
  conn.close();
  await redis.restart();
  const open = await Deno.connect({ hostname: "127.0.0.1", port: proxy.port });
  await eventually(() => proxy.open === 1);
  await proxy.stop();
  assert.equal(proxy.open, 0);
  assert.equal(await open.read(new Uint8Array(16)), null);
  open.close();
  await assert.rejects(Deno.connect({ hostname: "127.0.0.1", port: proxy.port }));
});
