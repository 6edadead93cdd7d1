import assert from "node:assert/strict";
import { createWebHandler } from "../../src/web/mod.ts";
import { failJobs } from "../_helpers/jobs.ts";
import { eventually, startRedis } from "../_helpers/redis.ts";
import { inspector, testVerk } from "../_helpers/verk.ts";
import { jidsIn, Session } from "../_helpers/web.ts";

Deno.test("web: selected retries run now, get deleted or killed; a job moved meanwhile counts as missed", async () => {
  await using redis = await startRedis();
  const jids = await failJobs(redis.url, [{ args: [1] }, { args: [2] }, { args: [3] }, {
    args: [4],
  }]);
  const [a, b, c, d] = jids as [string, string, string, string];
  await using db = inspector(redis.url);
  await using web = createWebHandler({ redisUrl: redis.url });
  const session = new Session(web);
  assert.deepEqual(new Set(jidsIn(await session.page("/retries"))), new Set(jids));

  assert.equal(
    await session.act("/retries", [["action", "run"], ["jid", a], ["page", "1"]]),
    "/retries?done=run&n=1",
  );
  assert.equal(await db.llen("queue:default"), 1);
  assert.equal(
    await session.act("/retries", [["action", "delete"], ["jid", b], ["jid", a], ["page", "2"]]),
    "/retries?page=2&done=deleted&n=1&missed=1",
  );
  assert.match(
    await session.page("/retries?done=deleted&n=1&missed=1"),
    /Deleted 1 job\. 1 job had already moved on\./,
  );
  assert.equal(await session.act(`/retries/${c}`, { action: "kill" }), "/retries?done=killed&n=1");
  assert.equal(await db.zcard("dead"), 1);
  assert.deepEqual(jidsIn(await session.page("/retries")), [d]);
  assert.equal(await session.act("/retries", { action: "run" }), "/retries?done=none&n=0");
  assert.match(await session.page("/retries?done=none&n=0"), /Nothing was selected/);
  const unknown = await session.post("/retries", { action: "explode", jid: d });
  assert.equal(unknown.status, 400);
  await unknown.body?.cancel();
  const killDead = await session.post("/dead", { action: "kill", jid: c });
  assert.equal(killDead.status, 400, "the dead set has no kill");
  await killDead.body?.cancel();
});

Deno.test("web: retry all and delete all need the confirmation field", async () => {
  await using redis = await startRedis();
  await failJobs(redis.url, [{ maxRetryCount: 0 }, { maxRetryCount: 0 }, { maxRetryCount: 0 }]);
  await using db = inspector(redis.url);
  await using web = createWebHandler({ redisUrl: redis.url });
  const session = new Session(web);
  const body = await session.page("/dead");
  assert.match(body, /<summary class="btn">Retry all…<\/summary>/);
  assert.match(body, /Delete all 3 jobs of the dead set\? This cannot be undone\./);
  const unconfirmed = await session.post("/dead", { action: "clear" });
  assert.equal(unconfirmed.status, 400);
  await unconfirmed.body?.cancel();
  assert.equal(await db.zcard("dead"), 3);
  assert.equal(
    await session.act("/dead", { action: "run-all", confirm: "yes" }),
    "/dead?done=run-all&n=3",
  );
  assert.equal(await db.llen("queue:default"), 3);
  assert.equal(
    await session.act("/queues/default/clear", { confirm: "yes" }),
    "/queues/default?done=cleared&n=3",
  );
  assert.equal(await db.exists("queue:default"), 0);
});

Deno.test("web: pause and resume change the queue's status on every node", async () => {
  await using redis = await startRedis();
  let runs = 0;
  await using verk = testVerk(redis.url, {
    queues: { default: 1 },
    workers: { Count: { perform: () => void runs++ } },
  });
  await verk.start();
  await verk.enqueue({ queue: "default", class: "Count", args: [] });
  await eventually(() => runs === 1);
  await using web = createWebHandler({ redisUrl: redis.url });
  const session = new Session(web);
  assert.match(await session.page("/queues"), /data-status="idle"[\s\S]*?>Pause</);
  assert.equal(await session.act("/queues/default/pause", {}), "/queues/default?done=paused&n=0");
  const paused = await session.page("/queues/default?done=paused&n=0");
  assert.match(paused, /data-status="paused"/);
  assert.match(paused, /Paused on every node/);
  assert.match(paused, />Resume</);
  // Other nodes follow the pause in Redis within about a second.
  await eventually(() => verk.stats().queues.default?.status === "paused");
  await verk.enqueue({ queue: "default", class: "Count", args: [] });
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.equal(runs, 1, "the node stopped taking jobs");
  assert.equal(await session.act("/queues/default/resume", {}), "/queues/default?done=resumed&n=0");
  await eventually(() => runs === 2, { message: "the node runs the queue again" });
  assert.match(await session.page("/queues"), /data-status="(idle|running)"/);
});

Deno.test("web: a queue's job page deletes that job", async () => {
  await using redis = await startRedis();
  await using producer = testVerk(redis.url);
  const jid = await producer.enqueue({ queue: "mail", class: "Mailer", args: ["a@b.c"] });
  await using web = createWebHandler({ redisUrl: redis.url });
  const session = new Session(web);
  const job = await session.page(`/queues/mail/jobs/${jid}`);
  assert.match(job, new RegExp(`action="/queues/mail/jobs/${jid}/delete"`));
  assert.equal(
    await session.act(`/queues/mail/jobs/${jid}/delete`, {}),
    "/queues/mail?done=deleted&n=1",
  );
  assert.match(await session.page("/queues/mail?done=deleted&n=1"), /Queue mail is empty/);
  assert.equal(
    await session.act(`/queues/mail/jobs/${jid}/delete`, {}),
    "/queues/mail?done=deleted&n=0&missed=1",
  );
});

Deno.test("web: a Redis that does not answer gives a 503 page, not a hang", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  await using web = createWebHandler({ redisUrl: `redis://127.0.0.1:${port}`, timeout: 300 });
  const started = Date.now();
  const { status, body } = await new Session(web).get("/queues");
  assert.equal(status, 503);
  assert.match(body, /Redis unavailable/);
  assert.ok(Date.now() - started < 3_000);
});
