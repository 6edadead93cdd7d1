import assert from "node:assert/strict";
import { Admin, AdminError } from "../../mod.ts";
import { failJobs } from "../_helpers/jobs.ts";
import { eventually, startRedis } from "../_helpers/redis.ts";
import { deferred, inspector, testVerk } from "../_helpers/verk.ts";

Deno.test("retries: page() lists real failures with their scores, soonest first, and float scores", async () => {
  await using redis = await startRedis();
  await using db = inspector(redis.url);
  const jids = await failJobs(redis.url, [{ args: [1] }, { args: [2] }, { args: [3] }]);
  // Verk crashed on a score with a fraction; Sidekiq writes them all the time.
  const floatPayload = '{"class":"Ruby","args":[],"jid":"float","queue":"default","retry_count":0}';
  await db.zadd("retry", "1.5", floatPayload);
  await using admin = new Admin({ redisUrl: redis.url });

  assert.equal(await admin.retries.size(), 4);
  const page = await admin.retries.page({ pageSize: 2 });
  assert.equal(page.total, 4);
  assert.equal(page.pages, 2);
  assert.equal(page.items[0]!.jid, "float");
  assert.equal(page.items[0]!.score, 1.5);
  assert.equal(page.items[0]!.at?.getTime(), 1500);
  const all = [...page.items, ...(await admin.retries.page({ page: 2, pageSize: 2 })).items];
  assert.deepEqual(all.slice(1).map((entry) => entry.jid).sort(), [...jids].sort());
  for (const entry of all.slice(1)) {
    assert.equal(entry.job?.error_class, "Broken");
    assert.ok(entry.at!.getTime() > Date.now(), "retry time is in the future");
  }
  assert.ok(all[1]!.score <= all[2]!.score && all[2]!.score <= all[3]!.score, "soonest first");
});

Deno.test("retries: find() by jid, and actions on a jid that does not exist return false", async () => {
  await using redis = await startRedis();
  await using db = inspector(redis.url);
  const [jid] = await failJobs(redis.url, [{ args: ["x"] }]);
  // A jid with glob characters must match itself only.
  await db.zadd("retry", 5, '{"class":"A","args":[],"jid":"a*[b]?","queue":"default"}');
  await db.zadd("retry", 6, '{"class":"A","args":[],"jid":"aXbY","queue":"default"}');
  await using admin = new Admin({ redisUrl: redis.url });

  assert.equal((await admin.retries.find(jid!))?.job?.args[0], "x");
  assert.equal((await admin.retries.find("a*[b]?"))?.score, 5);
  assert.equal(await admin.retries.find("a*"), undefined);
  assert.equal(await admin.retries.find("missing"), undefined);
  assert.equal(await admin.retries.runNow("missing"), false);
  assert.equal(await admin.retries.kill("missing"), false);
  assert.equal(await admin.retries.delete("missing"), false);
  await assert.rejects(admin.retries.find(""), AdminError);
  assert.equal(await admin.retries.delete(jid!), true);
  assert.equal(await admin.retries.find(jid!), undefined);
});

Deno.test("retries: runNow() moves the job to its queue with enqueued_at set and retry_count - 1, leaving every other byte", async () => {
  await using redis = await startRedis();
  await using db = inspector(redis.url);
  const [jid] = await failJobs(redis.url, [{ args: [12345678901234567890n, "a/b", [], {}] }]);
  const [before] = await db.zrange("retry", 0, -1);
  await using admin = new Admin({ redisUrl: redis.url });
  const startedAt = Date.now() / 1000;

  assert.equal(await admin.retries.runNow(jid!), true);
  assert.equal(await db.zcard("retry"), 0);
  const [after] = await db.lrange("queue:default", 0, -1);
  assert.match(after!, /"retry_count":-1/);
  assert.match(after!, /"args":\[12345678901234567890,"a\/b",\[\],\{\}\]/);
  const enqueuedAt = Number(/"enqueued_at":([\d.]+)/.exec(after!)![1]);
  assert.ok(enqueuedAt >= startedAt - 1, `enqueued_at ${enqueuedAt}`);
  const strip = (text: string) =>
    text.replace(/"enqueued_at":[\d.]+/, "").replace(/"retry_count":-?\d+/, "");
  assert.equal(strip(after!), strip(before!));
  assert.equal(await db.sismember("queues", "default"), 1);
});

Deno.test("a manual retry does not use up an attempt: the next failure has the same retry_count", async () => {
  await using redis = await startRedis();
  await using db = inspector(redis.url);
  await failJobs(redis.url, [{ maxRetryCount: 1 }]);
  await using admin = new Admin({ redisUrl: redis.url });
  const [entry] = (await admin.retries.page()).items;
  assert.equal(entry!.job?.retry_count, 0);
  assert.equal(await admin.retries.runNow(entry!), true);

  const ran = deferred();
  await using verk = testVerk(redis.url, {
    queues: { default: 1 },
    workers: {
      Failing: {
        perform() {
          ran.resolve();
          throw new Error("again");
        },
      },
    },
  });
  await verk.start();
  await ran.promise;
  // With maxRetryCount 1, a used-up attempt would have sent it to dead.
  const [member] = await eventually(async () => {
    const members = await db.zrange("retry", 0, -1);
    return members.length === 1 ? members : null;
  });
  assert.equal(JSON.parse(member!).retry_count, 0);
  assert.equal(await db.zcard("dead"), 0);
});

Deno.test("two concurrent runNow() calls on one job enqueue it exactly once", async () => {
  await using redis = await startRedis();
  await using db = inspector(redis.url);
  const jids = await failJobs(redis.url, [{ args: [1] }, { args: [2] }]);
  await using first = new Admin({ redisUrl: redis.url });
  await using second = new Admin({ redisUrl: redis.url });
  // By jid (each call looks the job up), and by entry (every call goes straight to the move).
  const entry = (await first.retries.find(jids[1]!))!;
  for (const target of [jids[0]!, entry]) {
    const results = await Promise.all([
      ...Array.from({ length: 5 }, () => first.retries.runNow(target)),
      ...Array.from({ length: 5 }, () => second.retries.runNow(target)),
    ]);
    assert.equal(results.filter(Boolean).length, 1, `${results}`);
  }
  assert.equal(await db.llen("queue:default"), 2);
  assert.equal(await db.zcard("retry"), 0);
});

Deno.test("dead: runNow() is a manual retry too; kill() is refused on the dead set", async () => {
  await using redis = await startRedis();
  await using db = inspector(redis.url);
  const [jid] = await failJobs(redis.url, [{ maxRetryCount: 0 }]);
  await using admin = new Admin({ redisUrl: redis.url });
  const entry = await admin.dead.find(jid!);
  assert.equal(entry?.job?.retry_count, 0);
  await assert.rejects(admin.dead.kill(entry!), (error: unknown) => {
    assert.ok(error instanceof AdminError);
    assert.match(error.message, /already in the dead set/);
    return true;
  });
  assert.equal(await admin.dead.runNow(entry!), true);
  assert.equal(await admin.dead.runNow(entry!), false, "already moved");
  const [queued] = await db.lrange("queue:default", 0, -1);
  assert.equal(JSON.parse(queued!).retry_count, -1);
});

Deno.test("kill() moves a retry or scheduled job to dead and trims dead as a final failure does", async () => {
  await using redis = await startRedis();
  await using db = inspector(redis.url);
  const day = 24 * 3600;
  const [a, b] = await failJobs(redis.url, [{ args: ["a"] }, { args: ["b"] }]);
  await db.zadd("dead", Date.now() / 1000 - 10 * day, '{"class":"Old","args":[],"jid":"old"}');
  await db.zadd("dead", Date.now() / 1000 - 60, '{"class":"Recent","args":[],"jid":"recent"}');
  await using verk = testVerk(redis.url);
  const scheduled = await verk.schedule(
    { queue: "default", class: "Later", args: [] },
    Date.now() + 3_600_000,
  );
  await using admin = new Admin({
    redisUrl: redis.url,
    maxDeadJobs: 2,
    deadTimeout: 7 * day * 1000,
  });

  const payload = (await admin.retries.find(a!))!.payload;
  assert.equal(await admin.retries.kill(a!), true);
  assert.equal(await admin.retries.kill(a!), false);
  // The old member is past deadTimeout; the rest is cut to the newest two.
  assert.deepEqual((await admin.dead.page()).items.map((entry) => entry.jid), [a, "recent"]);
  assert.equal((await admin.dead.find(a!))?.payload, payload, "killed unchanged");
  assert.ok(Math.abs((await admin.dead.find(a!))!.at!.getTime() - Date.now()) < 5_000);

  assert.equal(await admin.scheduled.kill(scheduled), true);
  assert.deepEqual((await admin.dead.page()).items.map((entry) => entry.jid), [scheduled, a]);
  assert.equal(await admin.retries.size(), 1);
  assert.equal((await admin.retries.page()).items[0]!.jid, b);
});

Deno.test("scheduled: runNow() enqueues without touching retry_count; retryAll() and clear()", async () => {
  await using redis = await startRedis();
  await using db = inspector(redis.url);
  await using verk = testVerk(redis.url);
  const hour = 3_600_000;
  const jids: string[] = [];
  for (let n = 0; n < 5; n++) {
    jids.push(
      await verk.schedule({ queue: `q${n % 2}`, class: "Later", args: [n] }, Date.now() + hour),
    );
  }
  await db.zadd(
    "schedule",
    Date.now() / 1000 + 10,
    '{"class":"Ruby","args":[],"jid":"rc","queue":"q0","retry_count":3}',
  );
  await db.zadd("schedule", Date.now() / 1000 + 20, '{"class":"NoQueue","args":[],"jid":"nq"}');
  await db.zadd("schedule", Date.now() / 1000 + 30, "not json");
  await using admin = new Admin({ redisUrl: redis.url });

  assert.equal(await admin.scheduled.runNow("rc"), true);
  assert.match((await db.lrange("queue:q0", 0, -1))[0]!, /"retry_count":3/);
  await assert.rejects(admin.scheduled.runNow("nq"), /has no queue/);

  assert.equal(await admin.scheduled.retryAll(), 5);
  assert.equal(await db.llen("queue:q0"), 4);
  assert.equal(await db.llen("queue:q1"), 2);
  const left = (await admin.scheduled.page()).items;
  assert.deepEqual(left.map((entry) => entry.jid), ["nq", ""]);
  assert.match(left[1]!.problem!, /not valid JSON/);
  assert.equal(await admin.scheduled.clear(), 2);
  assert.equal(await admin.scheduled.size(), 0);
  assert.equal(await admin.scheduled.clear(), 0);
});

Deno.test("dead: page() is newest first and retryAll() runs every dead job as a manual retry", async () => {
  await using redis = await startRedis();
  await using db = inspector(redis.url);
  const jids = await failJobs(redis.url, [{ maxRetryCount: 0, args: [1] }]);
  jids.push(...await failJobs(redis.url, [{ maxRetryCount: 0, args: [2] }]));
  await using admin = new Admin({ redisUrl: redis.url });
  assert.deepEqual((await admin.dead.page()).items.map((entry) => entry.jid), jids.reverse());
  assert.equal(await admin.dead.retryAll(), 2);
  assert.equal(await admin.dead.size(), 0);
  const queued = (await db.lrange("queue:default", 0, -1)).map((text) => JSON.parse(text));
  assert.deepEqual(queued.map((job) => job.retry_count), [-1, -1]);
});
