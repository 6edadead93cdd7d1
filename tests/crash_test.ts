import assert from "node:assert/strict";
import { Verk, type WorkerObject } from "../mod.ts";
import { type ChildWorker, spawnChild } from "./_helpers/process.ts";
import { eventually, startRedis } from "./_helpers/redis.ts";
import { startTcpProxy } from "./_helpers/tcp_proxy.ts";
import { FAST, inspector } from "./_helpers/verk.ts";

const childEnv = (url: string, extra: Record<string, string> = {}) => ({
  VERK_REDIS_URL: url,
  VERK_QUEUES: "default:2",
  VERK_HEARTBEAT: "500",
  VERK_POLL_INTERVAL: "100",
  ...extra,
});

/**
 * A started in-process node with a random id that runs only queue "other", so
 * jobs it recovers for queue "default" stay visible on that queue.
 */
async function startSurvivor(url: string, heartbeat: number): Promise<Verk> {
  const survivor = new Verk({
    ...FAST,
    redisUrl: url,
    generateNodeId: true,
    heartbeat,
    queues: { other: 1 },
  });
  await survivor.start();
  return survivor;
}

/** A child worker with a random id on queue "default" (it prints "started <id>"). */
function spawnVictim(url: string, heartbeat: number): ChildWorker {
  return spawnChild(
    "child_worker.ts",
    childEnv(url, { VERK_GENERATE_NODE_ID: "true", VERK_HEARTBEAT: String(heartbeat) }),
  );
}

Deno.test("a worker killed with SIGKILL mid-job loses nothing: restarted with the same node id, the job runs again", async () => {
  await using redis = await startRedis();
  await using db = inspector(redis.url);
  const producer = new Verk({ redisUrl: redis.url });
  const jid = await producer.enqueue({ queue: "default", class: "Record", args: ["hang"] });
  await producer.stop();

  {
    await using first = spawnChild(
      "child_worker.ts",
      childEnv(redis.url, { VERK_NODE_ID: "crashy" }),
    );
    await first.waitFor("started crashy");
    await eventually(async () => (await db.lrange("runs", 0, -1)).includes(jid));
    first.process.kill("SIGKILL");
    await first.status;
  }
  // Killed mid-job: the job is still in Redis, in the node's in-progress list.
  assert.equal(await db.llen("inprogress:default:crashy"), 1);
  assert.equal(await db.llen("queue:default"), 0);

  await using second = spawnChild(
    "child_worker.ts",
    childEnv(redis.url, { VERK_NODE_ID: "crashy" }),
  );
  await second.waitFor("started crashy");
  await eventually(async () =>
    (await db.lrange("runs", 0, -1)).filter((run) => run === jid).length === 2
  );
  second.process.kill("SIGTERM");
  await second.waitFor("stopped");
  assert.equal((await second.status).code, 0);
  // Stopped while the job still hung: it is back on its queue, not stuck in in-progress.
  assert.equal(await db.llen("inprogress:default:crashy"), 0);
  const [queued] = await db.lrange("queue:default", 0, -1);
  assert.equal(JSON.parse(queued!).jid, jid);
});

Deno.test("a second process with the same node id is refused while the first runs", async () => {
  await using redis = await startRedis();
  await using first = spawnChild(
    "child_worker.ts",
    childEnv(redis.url, { VERK_NODE_ID: "shared" }),
  );
  await first.waitFor("started shared");
  await using second = spawnChild(
    "child_worker.ts",
    childEnv(redis.url, { VERK_NODE_ID: "shared" }),
  );
  const status = await second.status;
  assert.equal(status.code, 3);
  assert.match(second.output(), /node id "shared" is held by a live process/);
  first.process.kill("SIGTERM");
  assert.equal((await first.status).code, 0);
});

Deno.test("jobs of a node killed with SIGKILL are put back on their queue by a surviving node within 3 heartbeats", async () => {
  await using redis = await startRedis();
  await using db = inspector(redis.url);
  await using survivor = await startSurvivor(redis.url, 300);
  {
    await using victim = spawnVictim(redis.url, 300);
    await victim.waitFor("started");
    const jid = await survivor.enqueue({ queue: "default", class: "Record", args: ["hang"] });
    await eventually(async () => (await db.lrange("runs", 0, -1)).includes(jid));
    victim.process.kill("SIGKILL");
    await victim.status;
  }
  // The survivor does not run queue "default", so recovery puts the job back on the queue.
  const killedAt = Date.now();
  const [payload] = await eventually(async () => {
    const queued = await db.lrange("queue:default", 0, -1);
    return queued.length === 1 ? queued : null;
  }, { timeoutMs: 5_000 });
  assert.ok(Date.now() - killedAt < 3 * 300 + 1_000, `recovered after ${Date.now() - killedAt} ms`);
  assert.equal(JSON.parse(payload!).args[0], "hang");
  assert.deepEqual(await db.keys("inprogress:*"), []);
});

Deno.test("the queue loops resume after Redis restarts, and nothing stays in progress", async () => {
  await using redis = await startRedis({ appendOnly: true });
  if (redis.external) return; // needs a server of its own to restart
  await using db = inspector(redis.url);
  const runs: unknown[] = [];
  await using verk = new Verk({
    ...FAST,
    redisUrl: redis.url,
    queues: { default: 2 },
    workers: { Note: { perform: (n: number) => void runs.push(n) } },
  });
  await verk.start();
  await verk.enqueue({ queue: "default", class: "Note", args: [1] });
  await eventually(() => runs.length === 1);
  await redis.restart();
  await eventually(async () => {
    await verk.enqueue({ queue: "default", class: "Note", args: [2] });
    return true;
  });
  await eventually(() => runs.includes(2), { message: "job after restart ran" });
  await eventually(async () =>
    (await db.llen("inprogress:default:1")) === 0 && (await db.llen("queue:default")) === 0
  );
});

Deno.test("a job that kills its worker every time is recovered 3 times, then goes to dead with the reason", async () => {
  await using redis = await startRedis();
  await using db = inspector(redis.url);
  const producer = new Verk({ redisUrl: redis.url });
  const jid = await producer.enqueue({ queue: "default", class: "Record", args: ["die"] });
  await producer.stop();
  for (let run = 1; run <= 4; run++) {
    await using child = spawnChild(
      "child_worker.ts",
      childEnv(redis.url, { VERK_NODE_ID: "poisoned" }),
    );
    const status = await child.status; // the job kills it
    assert.equal(status.signal, "SIGKILL", child.output());
    assert.equal((await db.lrange("runs", 0, -1)).length, run);
  }
  // The 4th restart finds the job recovered 3 times already: dead, not run a 5th time.
  await using last = spawnChild(
    "child_worker.ts",
    childEnv(redis.url, { VERK_NODE_ID: "poisoned" }),
  );
  await last.waitFor("started poisoned");
  const [member] = await eventually(async () => {
    const dead = await db.zrange("dead", 0, -1);
    return dead.length === 1 ? dead : null;
  });
  const job = JSON.parse(member!);
  assert.equal(job.jid, jid);
  assert.equal(job.error_class, "PoisonJobError");
  assert.match(job.error_message, /recovered 3 times/);
  assert.equal((await db.lrange("runs", 0, -1)).length, 4);
  assert.equal(await db.llen("queue:default"), 0);
  assert.equal(await db.llen("inprogress:default:poisoned"), 0);
  last.process.kill("SIGTERM");
  await last.status;
});

Deno.test("a worker stalled past its TTL whose id was taken over does not ack the new holder's jobs", async () => {
  await using redis = await startRedis();
  await using db = inspector(redis.url);
  const producer = new Verk({ redisUrl: redis.url });
  const jid = await producer.enqueue({ queue: "default", class: "Record", args: ["slow"] });
  await producer.stop();
  const env = childEnv(redis.url, { VERK_NODE_ID: "stalled", VERK_HEARTBEAT: "200" });
  await using stalled = spawnChild("child_worker.ts", env);
  await stalled.waitFor("started stalled");
  await eventually(async () => (await db.lrange("runs", 0, -1)).includes(jid));
  // Stop the process just before its 1.5 s job ends (a GC pause, a frozen VM …), after its
  // last heartbeat: on SIGCONT the job's timer is due before the next heartbeat, so the
  // process acks before it can learn that its id is gone. Only Redis can refuse that ack.
  await new Promise((resolve) => setTimeout(resolve, 1_300));
  stalled.process.kill("SIGSTOP");
  await eventually(async () => (await db.exists("verk:node:stalled")) === 0);
  // A new process takes the id, recovers the job and runs it again.
  await using successor = spawnChild("child_worker.ts", env);
  await successor.waitFor("started stalled");
  await eventually(async () => (await db.lrange("runs", 0, -1)).length === 2);
  const [payload] = await db.lrange("inprogress:default:stalled", 0, -1);
  stalled.process.kill("SIGCONT");
  // The stalled process finishes its copy, but must not ack: the entry is the successor's.
  await eventually(async () =>
    (await db.lrange("done", 0, -1)).includes(`${jid}:${stalled.process.pid}`)
  );
  // Its ack would follow within milliseconds; a negative check needs a short window.
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.deepEqual(await db.lrange("inprogress:default:stalled", 0, -1), [payload]);
  // The successor's own run then finishes and acks it.
  await eventually(async () => (await db.llen("inprogress:default:stalled")) === 0);
  assert.equal(await db.llen("queue:default"), 0);
  successor.process.kill("SIGTERM");
  stalled.process.kill("SIGTERM");
  assert.equal((await successor.status).code, 0);
  await stalled.status;
});

Deno.test("a Redis outage longer than the liveness TTL does not make live nodes re-run each other's jobs", async () => {
  await using redis = await startRedis({ appendOnly: true });
  if (redis.external) return; // needs a server of its own to stop
  await using db = inspector(redis.url);
  const starts = new Map<string, number>();
  const release = Promise.withResolvers<void>();
  const Long: WorkerObject<[]> = {
    async perform() {
      starts.set(this.job.jid, (starts.get(this.job.jid) ?? 0) + 1);
      await release.promise;
    },
  };
  const workers = { Long };
  const options = {
    ...FAST,
    redisUrl: redis.url,
    generateNodeId: true,
    heartbeat: 200,
    queues: { default: 5 },
    workers,
  };
  await using a = new Verk(options);
  await using b = new Verk(options);
  await a.start();
  await b.start();
  await a.enqueueMany(
    Array.from({ length: 10 }, () => ({ queue: "default", class: "Long", args: [] })),
  );
  await eventually(() => starts.size === 10);
  await redis.kill();
  await new Promise((resolve) => setTimeout(resolve, 1_000)); // the outage: 2.5 × the 400 ms TTL
  await redis.restart();
  // Give every heartbeat time to come back and look for dead nodes (several TTLs).
  await eventually(() => a.health().healthy && b.health().healthy);
  await new Promise((resolve) => setTimeout(resolve, 1_500));
  release.resolve();
  await eventually(async () =>
    (await db.keys("inprogress:*")).length === 0 && (await db.llen("queue:default")) === 0
  );
  assert.equal(starts.size, 10);
  assert.deepEqual([...starts.values()].filter((count) => count > 1), []);
});

Deno.test("a failed heartbeat is retried within a fraction of the heartbeat, so a short outage does not let the key lapse", async () => {
  await using redis = await startRedis();
  await using proxy = startTcpProxy(redis.port);
  await using db = inspector(redis.url);
  await using verk = new Verk({
    ...FAST,
    redisUrl: proxy.url(redis.db),
    nodeId: "steady",
    heartbeat: 1_000,
    queues: { default: 1 },
  });
  await verk.start();
  // Just after a renewal (TTL back at 2 s), Redis is unreachable from 0.8 s to 1.3 s: the
  // beat due at about 1 s fails. Trying again only a heartbeat later (about 2 s) would let
  // the key expire; a prompt retry renews it by about 1.4 s.
  await eventually(async () => await db.pttl("verk:node:steady") > 1_950, { intervalMs: 5 });
  const renewedAt = Date.now();
  await new Promise((resolve) => setTimeout(resolve, 800));
  proxy.setDown(true);
  await new Promise((resolve) => setTimeout(resolve, 500));
  proxy.setDown(false);
  while (Date.now() - renewedAt < 2_500) {
    assert.equal(
      await db.exists("verk:node:steady"),
      1,
      `lapsed ${Date.now() - renewedAt} ms after its renewal`,
    );
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
});

Deno.test("a job that a dead node's last blocking fetch takes after its key expired is still put back", async () => {
  await using redis = await startRedis();
  await using db = inspector(redis.url);
  await using survivor = await startSurvivor(redis.url, 100);
  await using victim = spawnVictim(redis.url, 100);
  await victim.waitFor("started");
  const id = /started (\S+)/.exec(victim.output())![1]!;
  // Freeze the victim just after its idle loop sent BLMOVE: Redis keeps serving that wait
  // for a second, into the victim's in-progress list, after the victim stops renewing its key.
  await eventually(async () => {
    const clients = (await db.client("LIST")) as string;
    const line = clients.split("\n").find((entry) =>
      entry.includes(`name=verk:${id}:default:blocking`)
    );
    return line !== undefined && / idle=0 /.test(line) && / cmd=blmove /.test(line);
  }, { intervalMs: 1 });
  victim.process.kill("SIGSTOP");
  const stoppedAt = Date.now();
  // Its key (200 ms TTL) expires, and a sweep of the survivor (every 100 ms) finds it dead,
  // all well within the second that the frozen BLMOVE still waits.
  await eventually(async () => (await db.exists(`verk:node:${id}`)) === 0, { intervalMs: 5 });
  await new Promise((resolve) => setTimeout(resolve, 130));
  const jid = await survivor.enqueue({ queue: "default", class: "Record", args: ["late"] });
  await eventually(async () => (await db.llen(`inprogress:default:${id}`)) === 1, {
    timeoutMs: 1_000 - (Date.now() - stoppedAt),
    message: "the frozen node's blocking fetch took the job",
  });
  victim.process.kill("SIGKILL");
  await victim.status;
  // The survivor does not run "default": the job must end up back on its queue.
  const [payload] = await eventually(async () => {
    const queued = await db.lrange("queue:default", 0, -1);
    return queued.length === 1 ? queued : null;
  }, { timeoutMs: 5_000, message: "the job is back on its queue" });
  assert.equal(JSON.parse(payload!).jid, jid);
  assert.deepEqual(await db.keys("inprogress:*"), []);
  await eventually(async () => (await db.sismember("verk_nodes", id)) === 0, {
    message: "the dead node is forgotten in the end",
  });
});

Deno.test({
  name: "stop() while Redis is down returns in bounded time, leaving unfinished jobs for recovery",
  // Worker-role connections queue commands while Redis is down; stop() bounds the steps
  // that wait on them (scheduler pass, final acks and put-back) and then closes them.
  async fn() {
    await using redis = await startRedis({ appendOnly: true });
    if (redis.external) return; // needs a server of its own to stop
    await using db = inspector(redis.url);
    const verk = new Verk({
      ...FAST,
      redisUrl: redis.url,
      shutdownTimeout: 500,
      enqueueTimeout: 1_000,
      queues: { default: 1 },
      workers: { Hang: { perform: () => new Promise(() => {}) } },
    });
    await verk.start();
    await verk.enqueue({ queue: "default", class: "Hang", args: [] });
    await eventually(async () => (await db.llen("inprogress:default:1")) === 1);
    await redis.kill();
    const began = Date.now();
    const stopped = verk.stop();
    const outcome = await Promise.race([
      stopped.then(() => "stopped"),
      new Promise((resolve) => setTimeout(() => resolve("still stopping"), 5_000)),
    ]);
    await redis.restart(); // lets a hung stop() finish, so the test cleans up either way
    await stopped;
    assert.equal(outcome, "stopped", `stop() took over ${Date.now() - began} ms`);
    // The unfinished job was not lost: it waits in progress for recovery.
    assert.equal(await db.llen("inprogress:default:1") + await db.llen("queue:default"), 1);
  },
});

Deno.test("a node id held on another host is waited out until its key expires, and refused while it is renewed", async () => {
  await using redis = await startRedis();
  await using db = inspector(redis.url);
  const options = {
    ...FAST,
    redisUrl: redis.url,
    heartbeat: 300,
    nodeId: "shared",
    queues: { default: 1 },
  };
  // A holder on another host whose key lapses (it died there): taken once the key expires.
  await db.set("verk:node:shared", "elsewhere:4242:abc", "PX", 700);
  const began = Date.now();
  {
    await using verk = new Verk(options);
    await verk.start();
    assert.ok(Date.now() - began >= 600, `took the id after ${Date.now() - began} ms`);
    assert.match((await db.get("verk:node:shared"))!, /:\d+:[0-9a-f]+$/);
    assert.notEqual(await db.get("verk:node:shared"), "elsewhere:4242:abc");
  }
  // A live holder on another host (it keeps renewing): refused after waiting 2 × heartbeat.
  await db.set("verk:node:shared", "elsewhere:4242:abc", "PX", 700);
  const renew = setInterval(() => db.set("verk:node:shared", "elsewhere:4242:abc", "PX", 700), 100);
  try {
    await using verk = new Verk(options);
    await assert.rejects(
      verk.start(),
      /node id "shared" is held by a live process \(elsewhere:4242:abc\)/,
    );
  } finally {
    clearInterval(renew);
  }
});
