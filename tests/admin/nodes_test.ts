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
      assert.equal(error.field, "nodeId");
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
