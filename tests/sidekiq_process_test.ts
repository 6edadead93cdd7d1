import assert from "node:assert/strict";
import { Verk } from "../mod.ts";
import { eventually, startRedis, type TestRedis } from "./_helpers/redis.ts";
import { deferred, testVerk } from "./_helpers/verk.ts";

/** This process's Sidekiq identity, once its record is written. */
function identityIn(redis: TestRedis): Promise<string> {
  return eventually(async () => {
    const members = await redis.command("SMEMBERS", "processes") as string[];
    return members.find((member) => member.includes(`:${Deno.pid}:`)) ?? null;
  }, { message: "process record written" });
}

async function recordOf(redis: TestRedis, identity: string): Promise<Record<string, string>> {
  const flat = await redis.command("HGETALL", identity) as string[];
  return Object.fromEntries(Array.from({ length: flat.length / 2 }, (_, i) => [
    flat[2 * i]!,
    flat[2 * i + 1]!,
  ]));
}

Deno.test("a running node keeps a Sidekiq process record with Sidekiq's fields, removed on stop", async () => {
  await using redis = await startRedis();
  const verk = testVerk(redis.url, { nodeId: "web-1", queues: { default: 3, low: 2 } });
  await verk.start();
  const identity = await identityIn(redis);
  assert.match(identity, new RegExp(`^${Deno.hostname()}:${Deno.pid}:[0-9a-f]{12}$`));
  const record = await recordOf(redis, identity);
  assert.equal(record.busy, "0");
  assert.equal(record.quiet, "false");
  assert.match(record.beat!, /^\d+\.\d+$/);
  assert.ok(Number(record.rss) > 0);
  assert.match(record.info!, /"started_at":\d+\.\d+/);
  const info = JSON.parse(record.info!);
  assert.deepEqual(
    { ...info, started_at: undefined },
    {
      hostname: Deno.hostname(),
      started_at: undefined,
      pid: Deno.pid,
      tag: "verk",
      concurrency: 5,
      queues: ["default", "low"],
      labels: ["deno", "node web-1"],
      identity,
    },
  );
  const ttl = await redis.command("TTL", identity) as number;
  assert.ok(ttl > 55 && ttl <= 60, `TTL ${ttl}`);
  await verk.stop();
  assert.deepEqual(await redis.command("SMEMBERS", "processes"), []);
  assert.equal(await redis.command("EXISTS", identity), 0);
});

Deno.test("running jobs are listed in :workers and :work with their queue, exact payload and start", async () => {
  await using redis = await startRedis();
  const gate = deferred();
  const started = deferred();
  await using verk = testVerk(redis.url, {
    queues: { default: 2 },
    workers: {
      Hold: {
        async perform(_text: string) {
          started.resolve();
          await gate.promise;
        },
      },
    },
  });
  await verk.start();
  const before = Math.floor(Date.now() / 1000);
  await verk.enqueue({ queue: "default", class: "Hold", args: ["a/b 😀 \u00e9"] });
  await started.promise;
  const [payload] = await redis.command("LRANGE", "inprogress:default:1", 0, -1) as string[];
  const identity = await identityIn(redis);
  const work = await eventually(async () => {
    const flat = await redis.command("HGETALL", `${identity}:work`) as string[];
    return flat.length === 2 ? flat : null;
  }, { message: "the running job listed" });
  assert.deepEqual(await redis.command("HGETALL", `${identity}:workers`), work);
  assert.equal(work[0], "default:0");
  const entry = JSON.parse(work[1]!);
  assert.equal(entry.queue, "default");
  assert.equal(entry.payload, payload, "the payload as stored, as a JSON string");
  assert.ok(entry.run_at >= before && entry.run_at <= before + 5);
  assert.equal((await recordOf(redis, identity)).busy, "1");
  gate.resolve();
  await eventually(async () => (await redis.command("EXISTS", `${identity}:work`)) === 0);
});

Deno.test("TSTP from Sidekiq quiets the node: running jobs finish, no new job is taken", async () => {
  await using redis = await startRedis();
  const gate = deferred();
  const started = deferred();
  const ran: string[] = [];
  await using verk = testVerk(redis.url, {
    queues: { default: 2 },
    workers: {
      Hold: {
        async perform(name: string) {
          ran.push(name);
          started.resolve();
          await gate.promise;
        },
      },
    },
  });
  await verk.start();
  await verk.enqueue({ queue: "default", class: "Hold", args: ["first"] });
  await started.promise;
  const identity = await identityIn(redis);
  await redis.command("LPUSH", `${identity}-signals`, "TSTP");
  await eventually(async () => (await recordOf(redis, identity)).quiet === "true", {
    message: "the record says quiet",
  });
  await verk.enqueue({ queue: "default", class: "Hold", args: ["second"] });
  await verk.addQueue("late", 1);
  await verk.enqueue({ queue: "late", class: "Hold", args: ["third"] });
  gate.resolve();
  await eventually(async () => (await redis.command("LLEN", "inprogress:default:1")) === 0, {
    message: "the running job acknowledged",
  });
  assert.deepEqual(ran, ["first"]);
  assert.equal(await redis.command("LLEN", "queue:default"), 1);
  assert.equal(await redis.command("LLEN", "queue:late"), 1, "a queue added later is quiet too");
  assert.equal(verk.stats().queues.default!.finished, 1);
});

Deno.test("TERM from Sidekiq stops the node gracefully, and stopOnSignals resolves", async () => {
  await using redis = await startRedis();
  const verk = testVerk(redis.url, { queues: { default: 1 } });
  const stopped = verk.stopOnSignals([]);
  await verk.start();
  const identity = await identityIn(redis);
  await redis.command("LPUSH", `${identity}-signals`, "TERM");
  await stopped;
  assert.deepEqual(await redis.command("SMEMBERS", "processes"), []);
  assert.equal(await redis.command("EXISTS", "verk:node:1"), 0, "the node id is freed");
  await verk.stop(); // a second stop is a no-op
});

Deno.test("a producer-only Verk writes no process record", async () => {
  await using redis = await startRedis();
  await using producer = new Verk({ redisUrl: redis.url, disabled: true, queues: { a: 1 } });
  await producer.start();
  await producer.enqueue({ queue: "a", class: "X", args: [] });
  assert.equal(await redis.command("SCARD", "processes"), 0);
});
