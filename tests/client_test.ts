import assert from "node:assert/strict";
import { JobValidationError, RedisUnavailableError, Verk } from "../mod.ts";
import { startRedis } from "./_helpers/redis.ts";
import { inspector } from "./_helpers/verk.ts";

Deno.test("enqueue writes a Sidekiq payload with every field and type, and registers the queue", async () => {
  await using redis = await startRedis();
  await using db = inspector(redis.url);
  const verk = new Verk({ redisUrl: redis.url });
  try {
    const before = Date.now() / 1000;
    const jid = await verk.enqueue({
      queue: "default",
      class: "ExampleWorker",
      args: [1, 2],
      maxRetryCount: 5,
    });
    assert.match(jid, /^[0-9a-f]{24}$/);
    const [text] = await db.lrange("queue:default", 0, -1);
    assert.ok(text);
    assert.match(
      text,
      /^\{"class":"ExampleWorker","args":\[1,2\],"jid":"[0-9a-f]{24}","queue":"default","retry":5,"max_retry_count":5,"created_at":\d+\.\d+,"enqueued_at":\d+\.\d+\}$/,
    );
    const job = JSON.parse(text);
    assert.equal(job.jid, jid);
    assert.ok(job.created_at >= before - 1 && job.created_at <= Date.now() / 1000 + 1);
    assert.equal(job.enqueued_at, job.created_at);
    assert.deepEqual(await db.smembers("queues"), ["default"]);
  } finally {
    await verk.stop();
  }
});

Deno.test("enqueue without a retry limit writes retry: true and no max_retry_count", async () => {
  await using redis = await startRedis();
  await using db = inspector(redis.url);
  const verk = new Verk({ redisUrl: redis.url });
  try {
    await verk.enqueue({ queue: "q", class: "W", args: [] });
    const job = JSON.parse((await db.rpop("queue:q"))!);
    assert.equal(job.retry, true);
    assert.equal("max_retry_count" in job, false);
    await verk.enqueue({
      queue: "q",
      class: "W",
      args: [],
      retry: false,
      retryQueue: "slow",
      backtrace: 3,
    });
    const second = JSON.parse((await db.rpop("queue:q"))!);
    assert.equal(second.retry, false);
    assert.equal(second.retry_queue, "slow");
    assert.equal(second.backtrace, 3);
  } finally {
    await verk.stop();
  }
});

Deno.test("validation errors name the field and nothing is written", async () => {
  await using redis = await startRedis();
  await using db = inspector(redis.url);
  const verk = new Verk({ redisUrl: redis.url });
  const cases: [unknown, string][] = [
    [{ class: "W", args: [] }, "queue"],
    [{ queue: "", class: "W", args: [] }, "queue"],
    [{ queue: "has space", class: "W", args: [] }, "queue"],
    [{ queue: "q", args: [] }, "class"],
    [{ queue: "q", class: "W", args: "1,2" }, "args"],
    [{ queue: "q", class: "W" }, "args"],
    [{ queue: "q", class: "W", args: [], maxRetryCount: -1 }, "maxRetryCount"],
    [{ queue: "q", class: "W", args: [], maxRetryCount: 1.5 }, "maxRetryCount"],
    [{ queue: "q", class: "W", args: [() => 1] }, "args"],
  ];
  try {
    for (const [job, field] of cases) {
      await assert.rejects(
        // deno-lint-ignore no-explicit-any
        verk.enqueue(job as any),
        (error: unknown) => error instanceof JobValidationError && error.field === field,
        `expected a JobValidationError for ${field}: ${JSON.stringify(job)}`,
      );
    }
    await assert.rejects(
      verk.schedule({ queue: "q", class: "W", args: [] }, new Date("nope")),
      (error: unknown) => error instanceof JobValidationError && error.field === "at",
    );
    await assert.rejects(
      verk.enqueueMany([{ queue: "q", class: "W", args: [] }, { queue: "q", class: "", args: [] }]),
      JobValidationError,
    );
    assert.equal(await db.dbsize(), 0);
  } finally {
    await verk.stop();
  }
});

Deno.test("enqueueMany sends one MULTI per 1000 jobs and keeps their order", async () => {
  await using redis = await startRedis();
  await using db = inspector(redis.url);
  const verk = new Verk({ redisUrl: redis.url });
  try {
    await db.config("RESETSTAT");
    const jobs = Array.from(
      { length: 2500 },
      (_, i) => ({ queue: i % 2 ? "a" : "b", class: "W", args: [i] }),
    );
    const jids = await verk.enqueueMany(jobs);
    assert.equal(jids.length, 2500);
    assert.equal(new Set(jids).size, 2500);
    const stats = await db.info("commandstats");
    assert.match(stats, /cmdstat_exec:calls=3,/);
    assert.equal(await db.llen("queue:a"), 1250);
    const oldest = JSON.parse((await db.rpop("queue:b"))!);
    assert.deepEqual(oldest.args, [0]);
    assert.equal(oldest.jid, jids[0]);
  } finally {
    await verk.stop();
  }
});

Deno.test("schedule accepts Date, Temporal.Instant and epoch ms, and a past time enqueues now", async () => {
  await using redis = await startRedis();
  await using db = inspector(redis.url);
  const verk = new Verk({ redisUrl: redis.url });
  try {
    const at = Date.now() + 60_000;
    await verk.schedule({ queue: "q", class: "W", args: [1] }, new Date(at));
    await verk.schedule(
      { queue: "q", class: "W", args: [2] },
      Temporal.Instant.fromEpochMilliseconds(at),
    );
    await verk.schedule({ queue: "q", class: "W", args: [3] }, at);
    const entries = await db.zrange("schedule", 0, -1, "WITHSCORES");
    assert.equal(entries.length, 6);
    for (let i = 1; i < 6; i += 2) assert.ok(Math.abs(Number(entries[i]) - at / 1000) < 0.01);
    const scheduled = JSON.parse(entries[0]!);
    assert.equal("enqueued_at" in scheduled, false);
    await verk.schedule({ queue: "q", class: "W", args: [4] }, Date.now() - 1000);
    assert.equal(await db.llen("queue:q"), 1);
  } finally {
    await verk.stop();
  }
});

Deno.test("enqueue fails fast with RedisUnavailableError when Redis is unreachable", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  const verk = new Verk({ redisUrl: `redis://127.0.0.1:${port}`, enqueueTimeout: 300 });
  try {
    const started = Date.now();
    await assert.rejects(verk.enqueue({ queue: "q", class: "W", args: [] }), RedisUnavailableError);
    assert.ok(Date.now() - started < 2_000, `took ${Date.now() - started} ms`);
  } finally {
    await verk.stop();
  }
});

Deno.test("enqueue reports a Redis error reply (WRONGTYPE) instead of returning a jid", async () => {
  await using redis = await startRedis();
  await using db = inspector(redis.url);
  await db.set("queue:wrong", "not a list");
  await using verk = new Verk({ redisUrl: redis.url });
  await assert.rejects(verk.enqueue({ queue: "wrong", class: "W", args: [] }), /WRONGTYPE/);
  await assert.rejects(verk.enqueueMany([{ queue: "wrong", class: "W", args: [] }]), /WRONGTYPE/);
});

Deno.test("job options are validated, and a batch error names the job's index", async () => {
  await using redis = await startRedis();
  await using verk = new Verk({ redisUrl: redis.url });
  const field = (name: string) => (error: unknown) =>
    error instanceof JobValidationError && error.field === name;
  const job = { queue: "q", class: "W", args: [] };
  await assert.rejects(verk.enqueue({ ...job, retryQueue: "bad q" }), field("retryQueue"));
  await assert.rejects(verk.enqueue({ ...job, maxRetryCount: 1e300 }), field("maxRetryCount"));
  await assert.rejects(verk.enqueue({ ...job, dead: "no" as unknown as boolean }), field("dead"));
  await assert.rejects(verk.enqueue({ ...job, backtrace: -3 }), field("backtrace"));
  await assert.rejects(verk.enqueue({ ...job, extra: { class: "Y" } }), field("extra"));
  await assert.rejects(
    verk.enqueue({ ...job, class: 5 as unknown as string }),
    /job\.class must be a non-empty string/,
  );
  await assert.rejects(verk.enqueue({ ...job, args: [new Date()] }), /a Date at/);
  await assert.rejects(
    verk.enqueueMany([job, job, { ...job, class: "" }]),
    (error: unknown) =>
      error instanceof JobValidationError && /^jobs\[2\]\.class is missing/.test(error.message),
  );
  await assert.rejects(verk.schedule(job, 1_796_300_422), /looks like epoch seconds/);
});

Deno.test("enqueue after stop fails at once, and start twice is a rejected promise", async () => {
  await using redis = await startRedis();
  const verk = new Verk({ redisUrl: redis.url });
  await verk.stop();
  const started = Date.now();
  await assert.rejects(
    verk.enqueue({ queue: "q", class: "W", args: [] }),
    /this Verk has been stopped/,
  );
  assert.ok(Date.now() - started < 500);
  const twice = new Verk({ redisUrl: redis.url, disabled: true });
  await twice.start();
  await assert.rejects(twice.start(), /already running/);
  await twice.stop();
});

Deno.test("pauseQueue works from a producer that never started", async () => {
  await using redis = await startRedis();
  await using db = inspector(redis.url);
  await using verk = new Verk({ redisUrl: redis.url });
  await verk.pauseQueue("mail");
  assert.deepEqual(await db.smembers("verk:paused"), ["mail"]);
  await verk.resumeQueue("mail");
  assert.deepEqual(await db.smembers("verk:paused"), []);
  await assert.rejects(verk.pauseQueue("a b"), /pauseQueue: invalid queue name "a b"/);
});

Deno.test("schedule refuses a time a Date cannot hold, and writes nothing", async () => {
  await using redis = await startRedis();
  await using db = inspector(redis.url);
  await using verk = new Verk({ redisUrl: redis.url });
  await assert.rejects(
    verk.schedule({ queue: "q", class: "W", args: [] }, 9e15),
    (error: unknown) => error instanceof JobValidationError && error.field === "at",
  );
  assert.equal(await db.exists("schedule"), 0);
});
