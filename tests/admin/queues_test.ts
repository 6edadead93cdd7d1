import assert from "node:assert/strict";
import { Admin, AdminError } from "../../mod.ts";
import { startRedis } from "../_helpers/redis.ts";
import { inspector, testVerk } from "../_helpers/verk.ts";

Deno.test("queues.list() shows queues from the queues set and stray queue:* lists, with size, latency and pause state", async () => {
  await using redis = await startRedis();
  await using db = inspector(redis.url);
  await using verk = testVerk(redis.url);
  await verk.enqueueMany([
    { queue: "default", class: "A", args: [1] },
    { queue: "default", class: "A", args: [2] },
    { queue: "mail", class: "B", args: [] },
  ]);
  const tenSecondsAgo = Date.now() - 10_000;
  // A list nobody registered in `queues`, its oldest job stamped in milliseconds.
  await db.lpush(
    "queue:stray",
    `{"class":"C","args":[],"jid":"s1","enqueued_at":${tenSecondsAgo}}`,
  );
  await db.set("queue:not-a-list", "x");
  await db.sadd("verk:paused", "mail");
  await using admin = new Admin({ redisUrl: redis.url });

  assert.deepEqual(await admin.queues.names(), ["default", "mail", "stray"]);
  const list = await admin.queues.list();
  assert.deepEqual(list.map(({ name, size, paused }) => ({ name, size, paused })), [
    { name: "default", size: 2, paused: false },
    { name: "mail", size: 1, paused: true },
    { name: "stray", size: 1, paused: false },
  ]);
  assert.ok(list[0]!.latency >= 0 && list[0]!.latency < 5, `latency ${list[0]!.latency}`);
  assert.ok(Math.abs(list[2]!.latency - 10) < 2, `ms latency ${list[2]!.latency}`);
  assert.equal(await admin.queues.size("default"), 2);
  assert.equal(await admin.queues.size("nothing-here"), 0);
  assert.equal(await admin.queues.latency("nothing-here"), 0);
});

Deno.test("queues.latency() reads enqueued_at in seconds and in milliseconds", async () => {
  await using redis = await startRedis();
  await using db = inspector(redis.url);
  await using admin = new Admin({ redisUrl: redis.url });
  const at = Date.now() - 60_000;
  await db.rpush("queue:s", `{"class":"A","args":[],"enqueued_at":${at / 1000}}`);
  await db.rpush("queue:ms", `{"class":"A","args":[],"enqueued_at":${at}}`);
  await db.rpush("queue:broken", "not json");
  for (const queue of ["s", "ms"]) {
    const latency = await admin.queues.latency(queue);
    assert.ok(Math.abs(latency - 60) < 2, `${queue}: ${latency}`);
  }
  assert.equal(await admin.queues.latency("broken"), 0);
});

Deno.test("queues.page() pages newest first; find() and delete() act on one job; clear() empties and unregisters", async () => {
  await using redis = await startRedis();
  await using db = inspector(redis.url);
  await using verk = testVerk(redis.url);
  const jids = await verk.enqueueMany(
    Array.from({ length: 7 }, (_, n) => ({ queue: "default", class: "A", args: [n] })),
  );
  await db.lpush("queue:default", "{malformed");
  await using admin = new Admin({ redisUrl: redis.url });

  const first = await admin.queues.page("default", { pageSize: 3 });
  assert.equal(first.total, 8);
  assert.equal(first.pages, 3);
  assert.equal(first.items[0]!.job, undefined);
  assert.match(first.items[0]!.problem!, /not valid JSON/);
  assert.deepEqual(first.items.slice(1).map((entry) => entry.jid), [jids[6], jids[5]]);
  const last = await admin.queues.page("default", { page: 3, pageSize: 3 });
  assert.deepEqual(last.items.map((entry) => entry.job?.args), [[1], [0]]);
  assert.deepEqual((await admin.queues.page("default", { page: 9 })).items, []);

  const found = await admin.queues.find("default", jids[3]!);
  assert.deepEqual(found?.job?.args, [3]);
  assert.equal(await admin.queues.find("default", "no-such-jid"), undefined);
  assert.equal(await admin.queues.delete("default", found!), true);
  assert.equal(await admin.queues.delete("default", found!.payload), false, "already gone");
  assert.equal(await admin.queues.delete("default", "{malformed"), true);
  assert.equal(await admin.queues.size("default"), 6);

  assert.equal(await admin.queues.clear("default"), 6);
  assert.equal(await db.exists("queue:default"), 0);
  assert.equal(await db.sismember("queues", "default"), 0);
  assert.deepEqual(await admin.queues.list(), []);
});

Deno.test("queues: bad input is refused with an AdminError naming the field", async () => {
  await using redis = await startRedis();
  await using admin = new Admin({ redisUrl: redis.url });
  const refused = (field: string, pattern: RegExp) => (error: unknown) => {
    assert.ok(error instanceof AdminError, String(error));
    assert.equal(error.field, field);
    assert.match(error.message, pattern);
    return true;
  };
  await assert.rejects(admin.queues.size("my queue"), refused("queue", /whitespace/));
  await assert.rejects(admin.queues.clear(""), refused("queue", /empty/));
  await assert.rejects(admin.queues.page("default", { page: -1 }), refused("page", /got -1/));
  await assert.rejects(admin.queues.page("default", { page: 1.5 }), refused("page", /1\.5/));
  await assert.rejects(
    admin.queues.page("default", { pageSize: 5000 }),
    refused("pageSize", /1 to 1000/),
  );
  await assert.rejects(admin.queues.find("default", ""), refused("jid", /non-empty/));
});

Deno.test("admin calls fail with RedisUnavailableError when Redis is unreachable", async () => {
  // Nothing listens on port 1: the connection is refused at once.
  await using admin = new Admin({ redisUrl: "redis://127.0.0.1:1/0", timeout: 300 });
  await assert.rejects(admin.queues.list(), { name: "RedisUnavailableError" });
});
