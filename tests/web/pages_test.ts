import assert from "node:assert/strict";
import { createWebHandler } from "../../src/web/mod.ts";
import { failJobs } from "../_helpers/jobs.ts";
import { eventually, startRedis } from "../_helpers/redis.ts";
import { deferred, inspector, testVerk } from "../_helpers/verk.ts";
import { jidsIn, ORIGIN, Session } from "../_helpers/web.ts";

const XSS = `<script>alert("x")</script>`;

Deno.test("web: every page answers 200 with jobs made by the engine, with a strict CSP", async () => {
  await using redis = await startRedis();
  const [retry] = await failJobs(redis.url, [{ args: [1, "a"] }]);
  const [dead] = await failJobs(redis.url, [{ args: [2], maxRetryCount: 0 }]);
  await using verk = testVerk(redis.url);
  const queued = await verk.enqueue({ queue: "mail", class: "Mailer", args: ["x@example.com"] });
  const scheduled = await verk.schedule(
    { queue: "mail", class: "Mailer", args: ["later"] },
    Date.now() + 3_600_000,
  );
  await using web = createWebHandler({ redisUrl: redis.url });
  const session = new Session(web);

  const overview = await session.page("/");
  assert.match(overview, /<b data-stat="retries">1<\/b>/);
  assert.match(overview, /<b data-stat="dead">1<\/b>/);
  assert.match(overview, /id="chart" data-src="\/live"/);
  const queues = await session.page("/queues");
  assert.match(queues, /href="\/queues\/mail">mail<\/a>/);
  assert.match(await session.page("/queues/mail"), new RegExp(`/queues/mail/jobs/${queued}`));
  assert.match(await session.page(`/queues/mail/jobs/${queued}`), /x@example\.com/);
  assert.match(await session.page("/busy"), /No jobs are running/);
  assert.deepEqual(jidsIn(await session.page("/retries")), [retry]);
  assert.deepEqual(jidsIn(await session.page("/scheduled")), [scheduled]);
  assert.deepEqual(jidsIn(await session.page("/dead")), [dead]);

  const job = await session.page(`/retries/${retry}`);
  assert.match(job, /Broken: always fails/);
  assert.match(job, /<h2>Backtrace<\/h2>/, "the backtrace is decoded");
  assert.match(job, /failed_at<\/dt><dd><time datetime="\d{4}-\d\d-\d\dT/);
  assert.match(job, /\(\d+ s ago\)|\(now\)/, "times are relative too");
  assert.match(await session.page(`/dead/${dead}`), /In the dead set/);

  const { response } = await session.get("/queues");
  const csp = response.headers.get("content-security-policy")!;
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, /script-src 'nonce-[0-9a-f]{32}'/);
  assert.match(csp, /frame-ancestors 'none'/);
  assert.equal(response.headers.get("x-content-type-options"), "nosniff");
});

Deno.test("web: empty states say what is missing", async () => {
  await using redis = await startRedis();
  await using web = createWebHandler({ redisUrl: redis.url });
  const session = new Session(web);
  assert.match(await session.page("/queues"), /No queues yet/);
  assert.match(await session.page("/queues/default"), /Queue default is empty/);
  assert.match(await session.page("/retries"), /No retries/);
  assert.match(await session.page("/scheduled"), /No scheduled jobs/);
  assert.match(await session.page("/dead"), /No dead jobs/);
  assert.match(await session.page("/busy"), /No Verk nodes are registered/);
});

Deno.test("web: unknown paths get 404, wrong methods 405, a missing job a 404 page", async () => {
  await using redis = await startRedis();
  await using web = createWebHandler({ redisUrl: redis.url });
  const session = new Session(web);
  assert.equal((await session.get("/nope")).status, 404);
  const missing = await session.get("/retries/0123456789abcdef01234567");
  assert.equal(missing.status, 404);
  assert.match(missing.body, /No such job in the retry set/);
  assert.equal((await session.get("/queues/default/pause")).status, 405);
  await session.page("/");
  const post = await session.post("/queues", {});
  assert.equal(post.status, 405);
  assert.equal(post.headers.get("allow"), "GET, HEAD");
  const put = await web(new Request(`${ORIGIN}/`, { method: "PUT" }));
  assert.equal(put.status, 405);
  await put.body?.cancel();
  const head = await web(new Request(`${ORIGIN}/queues`, { method: "HEAD" }));
  assert.equal(head.status, 200);
  assert.equal(head.body, null);
  const bad = await session.get("/queues/a%20b");
  assert.equal(bad.status, 400, "an invalid queue name is a bad request");
  assert.match(bad.body, /whitespace is not allowed/);
});

Deno.test("web: job fields are HTML-escaped everywhere (args, class, error, payload)", async () => {
  await using redis = await startRedis();
  await using verk = testVerk(redis.url, {
    queues: { default: 1 },
    workers: {
      [`Evil<img src=x onerror=alert(1)>`]: {
        perform(..._args: unknown[]) {
          throw new Error(`bad ${XSS}`);
        },
      },
    },
  });
  await using db = inspector(redis.url);
  await verk.start();
  const failed = await verk.enqueue({
    queue: "default",
    class: `Evil<img src=x onerror=alert(1)>`,
    args: [XSS, { html: `"><svg onload=alert(1)>` }],
  });
  await eventually(async () => await db.zcard("retry") === 1);
  await verk.stop();
  await using producer = testVerk(redis.url);
  const waiting = await producer.enqueue({ queue: "default", class: "X", args: [XSS] });
  await using web = createWebHandler({ redisUrl: redis.url });
  const session = new Session(web);
  for (
    const path of [
      "/queues/default",
      `/queues/default/jobs/${waiting}`,
      "/retries",
      `/retries/${failed}`,
      "/",
    ]
  ) {
    const body = await session.page(path);
    assert.doesNotMatch(body, /<script>alert/, path);
    assert.doesNotMatch(body, /<img src=x/, path);
    assert.doesNotMatch(body, /<svg onload/, path);
    assert.doesNotMatch(body, /"><svg/, path);
    if (path !== "/") {
      assert.match(
        body,
        /&lt;script&gt;alert\(&quot;x&quot;\)&lt;\/script&gt;|&lt;script&gt;alert\(\\&quot;x\\&quot;\)/,
        path,
      );
    }
  }
  assert.match(await session.page(`/retries/${failed}`), /Error: bad &lt;script&gt;/);
});

Deno.test("web: Busy shows nodes, their running jobs with start times, and Sidekiq processes", async () => {
  await using redis = await startRedis();
  const gate = deferred();
  await using verk = testVerk(redis.url, {
    nodeId: "node-a",
    queues: { slow: 1 },
    workers: { Slow: { perform: (_n: number) => gate.promise } },
  });
  await using db = inspector(redis.url);
  try {
    await verk.start();
    const startedAt = Date.now();
    const jid = await verk.enqueue({ queue: "slow", class: "Slow", args: [7] });
    await eventually(async () => await db.llen("inprogress:slow:node-a") === 1);
    // A Ruby Sidekiq process, as Sidekiq 7 writes its record.
    const identity = "ruby-host:4242:0123456789ab";
    await db.sadd("processes", identity);
    await db.hset(identity, {
      info: JSON.stringify({
        hostname: "ruby-host",
        pid: 4242,
        tag: "shop",
        concurrency: 5,
        queues: ["critical"],
        labels: ["blue"],
        started_at: 1_800_000_000,
      }),
      busy: "1",
      beat: String(Date.now() / 1000),
      quiet: "false",
    });
    await db.hset(`${identity}:work`, {
      tid1: JSON.stringify({
        queue: "critical",
        payload: JSON.stringify({ class: "RubyJob", args: [1], jid: "ruby1" }),
        run_at: 1_800_000_100,
      }),
    });

    await using web = createWebHandler({ redisUrl: redis.url });
    const session = new Session(web);
    // The node's own process record (written every beat) gives its job's start time.
    const busy = await eventually(async () => {
      const body = await session.page("/busy");
      return new RegExp(`<tr data-jid="${jid}">(?:(?!</tr>)[^])*<time datetime`).test(body)
        ? body
        : null;
    }, { message: "the node's job shows its start time" });
    const row = new RegExp(`<tr data-jid="${jid}">(?:(?!</tr>)[^])*<time [^>]*data-v="(\\d+)"`)
      .exec(busy);
    const started = Number(row?.[1]);
    assert.ok(Math.abs(started - startedAt) < 5_000, `started ${started}, enqueued ${startedAt}`);
    assert.equal(busy.split(`<tr data-jid="${jid}">`).length, 2, "listed once, not per record");
    assert.match(
      busy,
      /<tr data-jid="ruby1">[^]*?RubyJob[^]*?datetime="2027-01-15T08:01:40\.000Z"/,
    );
    assert.match(busy, /id="node-node-a"/);
    assert.match(busy, /id="process-ruby-host:4242:0123456789ab"/);
    assert.match(
      busy,
      /href="\/busy#node-node-a">node node-a<\/a>/,
      "a Verk node's process record links to the node",
    );
    assert.doesNotMatch(busy, /\/recover"/, "a live node has no recover button");
  } finally {
    gate.resolve();
  }
});

Deno.test("web: a dead node's jobs are shown as such and put back with its button", async () => {
  await using redis = await startRedis();
  await using db = inspector(redis.url);
  // What a node killed with SIGKILL leaves: registered, no liveness key, jobs in progress.
  await db.sadd("verk_nodes", "ghost");
  await db.sadd("verk:node:ghost:queues", "slow");
  await db.lpush(
    "inprogress:slow:ghost",
    '{"class":"Lost","args":[],"jid":"lost1","queue":"slow"}',
  );
  await using web = createWebHandler({ redisUrl: redis.url });
  const session = new Session(web);
  const busy = await session.page("/busy");
  assert.match(busy, /lost1/);
  assert.match(busy, /<span class="tag dead">dead<\/span>/);
  assert.match(busy, /action="\/busy\/nodes\/ghost\/recover"/);
  const location = await session.act("/busy/nodes/ghost/recover", {});
  assert.equal(location, "/busy?done=recovered&n=1");
  assert.equal(await db.llen("queue:slow"), 1);
  const after = await session.page(location);
  assert.match(after, /Put 1 job back on their queues/);
  assert.match(after, /No jobs are running/);
});
