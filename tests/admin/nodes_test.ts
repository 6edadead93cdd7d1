import assert from "node:assert/strict";
import { Admin, AdminError } from "../../mod.ts";
import { eventually, startRedis } from "../_helpers/redis.ts";
import { deferred, inspector, testVerk } from "../_helpers/verk.ts";

Deno.test("nodes: a live node is listed with its holder, TTL and in-progress jobs, and cannot be recovered", async () => {
  await using redis = await startRedis();
  const gate = deferred();
  await using verk = testVerk(redis.url, {
    nodeId: "worker-a",
    queues: { default: 2, other: 1 },
    workers: { Slow: { perform: () => gate.promise } },
  });
  await verk.start();
  const jid = await verk.enqueue({ queue: "default", class: "Slow", args: [] });
  await using admin = new Admin({ redisUrl: redis.url });
  try {
    const [node] = await eventually(async () => {
      const nodes = await admin.nodes.list();
      return nodes[0]?.inProgress.default === 1 ? nodes : null;
    });
    assert.equal(node!.id, "worker-a");
    assert.equal(node!.alive, true);
    assert.match(node!.holder!, /:\d+:[0-9a-f]+$/);
    assert.ok(node!.ttlMs! > 0 && node!.ttlMs! <= 1_000, `ttl ${node!.ttlMs}`);
    assert.deepEqual(node!.inProgress, { default: 1, other: 0 });

    const lists = await admin.nodes.inProgress("worker-a");
    assert.deepEqual(lists.map((list) => [list.queue, list.jobs.map((job) => job.jid)]), [
      ["default", [jid]],
      ["other", []],
    ]);
    assert.deepEqual(
      (await admin.nodes.inProgress("worker-a", "default"))[0]!.jobs.map((job) => job.jid),
      [jid],
    );
    await assert.rejects(admin.nodes.recover("worker-a"), (error: unknown) => {
      assert.ok(error instanceof AdminError);
      assert.equal(error.field, "node");
      assert.match(error.message, /is alive/);
      return true;
    });
  } finally {
    gate.resolve();
  }
});

Deno.test("nodes: a dead node's in-progress jobs go back to their queue and the node is forgotten", async () => {
  await using redis = await startRedis();
  await using db = inspector(redis.url);
  // What a node killed with SIGKILL leaves: registered, no liveness key, jobs in progress.
  await db.sadd("verk_nodes", "ghost");
  await db.sadd("verk:node:ghost:queues", "default", "mail");
  await db.lpush("inprogress:default:ghost", '{"class":"A","args":[1],"jid":"j1"}');
  await db.lpush("inprogress:mail:ghost", '{"class":"B","args":[2],"jid":"j2"}');
  await db.lpush("queue:default", '{"class":"A","args":[0],"jid":"j0"}');
  await using admin = new Admin({ redisUrl: redis.url });

  assert.deepEqual(await admin.nodes.list(), [
    { id: "ghost", alive: false, inProgress: { default: 1, mail: 1 } },
  ]);
  assert.equal(await admin.nodes.recover("ghost", "mail"), 1, "one queue");
  assert.equal(await admin.nodes.recover("ghost"), 1, "the rest");
  assert.deepEqual(await admin.nodes.list(), []);
  // Put back on the right end: recovered jobs run next.
  assert.deepEqual(await db.lrange("queue:default", 0, -1), [
    '{"class":"A","args":[0],"jid":"j0"}',
    '{"class":"A","args":[1],"jid":"j1"}',
  ]);
  assert.equal(await db.llen("queue:mail"), 1);
  assert.equal(await admin.nodes.recover("never-was"), 0);
  await assert.rejects(admin.nodes.recover("two words"), AdminError);
  await assert.rejects(admin.nodes.inProgress("ghost", "bad queue"), AdminError);
});

Deno.test("nodes: Sidekiq processes are read from the processes set and their hashes", async () => {
  await using redis = await startRedis();
  await using db = inspector(redis.url);
  const identity = "web-1:4242:0123456789ab";
  const info = {
    hostname: "web-1",
    started_at: 1796300000.5,
    pid: 4242,
    tag: "shop",
    concurrency: 10,
    queues: ["default", "mail"],
    labels: ["blue"],
    identity,
  };
  await db.sadd("processes", identity, "gone:1:ffffffffffff");
  await db.hset(identity, {
    info: JSON.stringify(info),
    busy: "3",
    beat: "1796300422.25",
    quiet: "false",
  });
  await using admin = new Admin({ redisUrl: redis.url });
  const [gone, live] = await admin.nodes.processes();
  assert.deepEqual(live, {
    identity,
    alive: true,
    hostname: "web-1",
    pid: 4242,
    tag: "shop",
    concurrency: 10,
    queues: ["default", "mail"],
    labels: ["blue"],
    startedAt: new Date(1796300000500),
    busy: 3,
    beat: new Date(1796300422250),
    quiet: false,
    info,
  });
  assert.equal(gone!.alive, false);
  assert.equal(gone!.busy, 0);
  assert.deepEqual(gone!.queues, []);
});

Deno.test("nodes: work() reads a process's running jobs from :work (Sidekiq 7) or :workers (older)", async () => {
  await using redis = await startRedis();
  await using db = inspector(redis.url);
  const payload = '{"class":"Big","args":[12345678901234567890],"jid":"j7","queue":"default"}';
  await db.hset("web-1:1:aaaaaaaaaaaa:work", {
    tid2: `{"queue":"default","payload":${JSON.stringify(payload)},"run_at":1796300000}`,
    tid1: '{"queue":"mail","payload":{"class":"Old","args":[],"jid":"j6"},"run_at":1796300001}',
    tid3: "not json",
  });
  await db.hset("web-2:2:bbbbbbbbbbbb:workers", {
    t: '{"queue":"x","payload":{"class":"Legacy","args":[1],"jid":"j5"},"run_at":1796300002}',
  });
  await using admin = new Admin({ redisUrl: redis.url });
  const work = await admin.nodes.work("web-1:1:aaaaaaaaaaaa");
  assert.deepEqual(work.map((w) => [w.thread, w.queue, w.job.jid, w.runAt?.getTime()]), [
    ["tid1", "mail", "j6", 1796300001000],
    ["tid2", "default", "j7", 1796300000000],
  ]);
  assert.equal(work[1]!.job.payload, payload, "Sidekiq 7's payload text is kept exactly");
  const legacy = await admin.nodes.work("web-2:2:bbbbbbbbbbbb");
  assert.deepEqual(legacy.map((w) => [w.job.job?.class, w.queue]), [["Legacy", "x"]]);
  assert.deepEqual(await admin.nodes.work("nobody:1:cccccccccccc"), []);
  await assert.rejects(admin.nodes.work("has space"), AdminError);
});

Deno.test("nodes: a holder on this machine whose process is gone is recovered at once, before its key expires", async () => {
  await using redis = await startRedis();
  await using db = inspector(redis.url);
  const exited = new Deno.Command("true").spawn();
  await exited.status; // a pid that no longer runs
  await db.set("verk:node:crashed", `${Deno.hostname()}:${exited.pid}:abc`, "PX", 60_000);
  await db.sadd("verk_nodes", "crashed");
  await db.sadd("verk:node:crashed:queues", "default");
  await db.lpush(
    "inprogress:default:crashed",
    '{"class":"W","args":[],"jid":"j","queue":"default"}',
  );
  await using admin = new Admin({ redisUrl: redis.url });
  assert.equal(await admin.nodes.recover("crashed"), 1);
  assert.equal(await db.llen("queue:default"), 1);
  assert.equal(await db.exists("verk:node:crashed"), 0);
  assert.equal(await db.sismember("verk_nodes", "crashed"), 0);
});
