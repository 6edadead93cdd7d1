import { Buffer } from "node:buffer";
import assert from "node:assert/strict";
import { type JobContext, Worker, type WorkerObject } from "../mod.ts";
import { decodeBacktrace } from "../src/job.ts";
import { eventually, startRedis } from "./_helpers/redis.ts";
import { deferred, inspector, testVerk } from "./_helpers/verk.ts";

Deno.test("a job runs with its args and context, and leaves queue and in-progress empty", async () => {
  await using redis = await startRedis();
  await using db = inspector(redis.url);
  const seen = deferred<{ args: unknown[]; job: JobContext }>();
  const Adder: WorkerObject<[number, number]> = {
    perform(a, b) {
      seen.resolve({ args: [a, b], job: this.job });
    },
  };
  await using verk = testVerk(redis.url, { queues: { default: 2 }, workers: { Adder } });
  await verk.start();
  const jid = await verk.enqueue({ queue: "default", class: "Adder", args: [1, 2] });
  const { args, job } = await seen.promise;
  assert.deepEqual(args, [1, 2]);
  assert.equal(job.jid, jid);
  assert.equal(job.queue, "default");
  assert.equal(job.attempt, 1);
  assert.equal(job.signal.aborted, false);
  assert.equal(job.payload.class, "Adder");
  await eventually(async () => (await db.llen("inprogress:default:1")) === 0);
  assert.equal(await db.llen("queue:default"), 0);
});

Deno.test("jobs of one queue run oldest first", async () => {
  await using redis = await startRedis();
  const order: number[] = [];
  const done = deferred();
  await using verk = testVerk(redis.url, {
    queues: { default: 1 },
    workers: {
      Record: {
        perform(n: number) {
          order.push(n);
          if (order.length === 30) done.resolve();
        },
      },
    },
  });
  await verk.enqueueMany(
    Array.from({ length: 30 }, (_, n) => ({ queue: "default", class: "Record", args: [n] })),
  );
  await verk.start();
  await done.promise;
  assert.deepEqual(order, Array.from({ length: 30 }, (_, n) => n));
});

Deno.test("no more jobs run at once than the queue's concurrency", async () => {
  await using redis = await startRedis();
  let running = 0;
  let most = 0;
  let finished = 0;
  const gate = deferred();
  await using verk = testVerk(redis.url, {
    queues: { default: 3 },
    workers: {
      Slow: {
        async perform() {
          running++;
          most = Math.max(most, running);
          await gate.promise;
          running--;
          finished++;
        },
      },
    },
  });
  await verk.start();
  await verk.enqueueMany(
    Array.from({ length: 12 }, () => ({ queue: "default", class: "Slow", args: [] })),
  );
  await eventually(() => running === 3);
  await using db = inspector(redis.url);
  assert.equal(await db.llen("queue:default"), 9);
  assert.equal(await db.llen("inprogress:default:1"), 3);
  gate.resolve();
  await eventually(() => finished === 12);
  assert.equal(most, 3);
});

class Boom extends Error {
  override name = "Boom";
}

Deno.test("a failed job goes to retry with Sidekiq's error fields and Verk's default delay", async () => {
  await using redis = await startRedis();
  await using db = inspector(redis.url);
  await using verk = testVerk(redis.url, {
    queues: { default: 1 },
    workers: {
      Failing: {
        perform(_arg: string) {
          throw new Boom("it broke");
        },
      },
    },
  });
  await verk.start();
  const before = Date.now() / 1000;
  const jid = await verk.enqueue({
    queue: "default",
    class: "Failing",
    args: ["x"],
    extra: { tags: ["t"] },
  });
  const [member, score] = await eventually(async () => {
    const entries = await db.zrange("retry", 0, -1, "WITHSCORES");
    return entries.length === 2 ? entries : null;
  });
  const job = JSON.parse(member!);
  assert.equal(job.jid, jid);
  assert.equal(job.retry_count, 0);
  assert.equal(job.error_class, "Boom");
  assert.equal(job.error_message, "it broke");
  assert.deepEqual(job.tags, ["t"]);
  assert.ok(job.failed_at >= before - 1);
  assert.match(member!, /"failed_at":\d+\.\d+/);
  assert.equal("retried_at" in job, false);
  const lines = await decodeBacktrace(job.error_backtrace);
  assert.ok(lines.length > 0 && lines.length <= 5, `backtrace lines: ${lines.length}`);
  assert.ok(lines.some((line) => line.includes("verk_test.ts")), lines.join("\n"));
  // First retry: 1^4 + 15 + rand(1..30) * 2 seconds after the failure.
  const delay = Number(score) - job.failed_at;
  assert.ok(delay >= 17 && delay <= 76, `delay ${delay}`);
  assert.equal(await db.llen("inprogress:default:1"), 0);
});

Deno.test("retryAt decides when the retry runs, and counts attempts from 1", async () => {
  await using redis = await startRedis();
  await using db = inspector(redis.url);
  const attempts: number[] = [];
  const retryCounts: number[] = [];
  class Twice extends Worker<[]> {
    perform() {
      attempts.push(this.job.attempt);
      if (attempts.length < 3) throw new Error(`fail ${attempts.length}`);
    }
    override retryAt(failedAt: Date, retryCount: number): Temporal.Instant {
      retryCounts.push(retryCount);
      return Temporal.Instant.fromEpochMilliseconds(failedAt.getTime() + 50);
    }
  }
  await using verk = testVerk(redis.url, { queues: { default: 1 }, workers: { Twice } });
  await verk.start();
  await verk.enqueue({ queue: "default", class: "Twice", args: [] });
  await eventually(() => attempts.length === 3);
  assert.deepEqual(attempts, [1, 2, 3]);
  assert.deepEqual(retryCounts, [1, 2]);
  await eventually(async () => (await db.llen("inprogress:default:1")) === 0);
  assert.equal(await db.zcard("retry"), 0);
});

Deno.test("a retryAt far in the future is honoured, one that throws falls back to the default delay", async () => {
  await using redis = await startRedis();
  await using db = inspector(redis.url);
  const hour = 3_600_000;
  await using verk = testVerk(redis.url, {
    queues: { default: 2 },
    workers: {
      Later: {
        perform() {
          throw new Error("later");
        },
        retryAt: (failedAt: Date) => failedAt.getTime() + hour,
      },
      BrokenRetryAt: {
        perform() {
          throw new Error("broken");
        },
        retryAt: () => {
          throw new Error("no");
        },
      },
    },
  });
  await verk.start();
  await verk.enqueue({ queue: "default", class: "Later", args: [] });
  await verk.enqueue({ queue: "default", class: "BrokenRetryAt", args: [] });
  const entries = await eventually(async () => {
    const all = await db.zrange("retry", 0, -1, "WITHSCORES");
    return all.length === 4 ? all : null;
  });
  for (let i = 0; i < 4; i += 2) {
    const job = JSON.parse(entries[i]!);
    const delay = Number(entries[i + 1]) - job.failed_at;
    if (job.class === "Later") assert.ok(Math.abs(delay - 3600) < 1, `Later delay ${delay}`);
    else assert.ok(delay >= 17 && delay <= 76, `default delay ${delay}`);
  }
});

Deno.test("a job failing every time runs 1 + maxRetryCount times, then goes to dead", async () => {
  await using redis = await startRedis();
  await using db = inspector(redis.url);
  let runs = 0;
  await using verk = testVerk(redis.url, {
    queues: { default: 1 },
    workers: {
      Always: {
        perform() {
          runs++;
          throw new Error(`run ${runs}`);
        },
        retryAt: (failedAt: Date) => failedAt,
      },
    },
  });
  await verk.start();
  await verk.enqueue({ queue: "default", class: "Always", args: [], maxRetryCount: 2 });
  const [member] = await eventually(async () => {
    const dead = await db.zrange("dead", 0, -1);
    return dead.length === 1 ? dead : null;
  });
  const job = JSON.parse(member!);
  assert.equal(runs, 3);
  assert.equal(job.retry_count, 2);
  assert.equal(job.error_message, "run 3");
  assert.ok(job.retried_at >= job.failed_at);
  assert.equal(await db.zcard("retry"), 0);
});

Deno.test("maxRetryCount 0 sends the first failure to dead; retry: false discards it", async () => {
  await using redis = await startRedis();
  await using db = inspector(redis.url);
  let runs = 0;
  await using verk = testVerk(redis.url, {
    queues: { default: 2 },
    workers: {
      Fails: {
        perform(_arg: unknown) {
          runs++;
          throw new Error("no");
        },
      },
    },
  });
  await verk.start();
  await verk.enqueue({ queue: "default", class: "Fails", args: ["dead"], maxRetryCount: 0 });
  await verk.enqueue({ queue: "default", class: "Fails", args: ["dropped"], retry: false });
  await eventually(() => runs === 2);
  await eventually(async () => (await db.llen("inprogress:default:1")) === 0);
  const dead = (await db.zrange("dead", 0, -1)).map((member) => JSON.parse(member).args[0]);
  assert.deepEqual(dead, ["dead"]);
  assert.equal(await db.zcard("retry"), 0);
});

Deno.test("the dead set keeps the newest maxDeadJobs and drops members older than deadTimeout", async () => {
  await using redis = await startRedis();
  await using db = inspector(redis.url);
  const day = 24 * 3600;
  await db.zadd(
    "dead",
    Date.now() / 1000 - 10 * day,
    '{"class":"Old","args":[],"jid":"old","queue":"q"}',
  );
  await using verk = testVerk(redis.url, {
    queues: { default: 1 },
    maxDeadJobs: 2,
    deadTimeout: 7 * day * 1000,
    workers: {
      Fails: {
        perform(_arg: unknown) {
          throw new Error("no");
        },
      },
    },
  });
  await verk.start();
  for (const n of [1, 2, 3]) {
    await verk.enqueue({ queue: "default", class: "Fails", args: [n], maxRetryCount: 0 });
  }
  await eventually(async () =>
    (await db.llen("queue:default")) + (await db.llen("inprogress:default:1")) === 0
  );
  const dead = await eventually(async () => {
    const members = (await db.zrange("dead", 0, -1)).map((member) => JSON.parse(member));
    return members.some((job) => job.args[0] === 3) ? members : null;
  });
  assert.deepEqual(dead.map((job) => job.args[0]), [2, 3]);
});

Deno.test("a scheduled job runs when due and not before, with enqueued_at set when moved", async () => {
  await using redis = await startRedis();
  const ran = deferred<{ at: number; payload: JobContext["payload"] }>();
  await using verk = testVerk(redis.url, {
    queues: { default: 1 },
    workers: {
      Later: {
        perform() {
          ran.resolve({ at: Date.now(), payload: this.job.payload });
        },
      },
    },
  });
  await verk.start();
  const due = Date.now() + 1_200;
  await verk.schedule({ queue: "default", class: "Later", args: [] }, new Date(due));
  const { at, payload } = await ran.promise;
  assert.ok(at >= due - 5, `ran ${due - at} ms early`);
  assert.ok(at < due + 1_000, `ran ${at - due} ms late`);
  assert.ok(payload.enqueued_at! * 1000 >= due - 5);
  assert.ok(payload.created_at! * 1000 < due - 1_000);
});

Deno.test("a Verk 1.x payload with args as a JSON string and nulls runs", async () => {
  await using redis = await startRedis();
  await using db = inspector(redis.url);
  const got = deferred<unknown[]>();
  await using verk = testVerk(redis.url, {
    queues: { default: 1 },
    workers: { ExampleWorker: { perform: (...args: unknown[]) => got.resolve(args) } },
  });
  await db.lpush(
    "queue:default",
    '{"queue":"default","class":"ExampleWorker","args":"[1,2]","jid":"1234567890","enqueued_at":1796300422,' +
      '"retry_count":null,"error_message":null,"max_retry_count":5}',
  );
  await verk.start();
  assert.deepEqual(await got.promise, [1, 2]);
});

Deno.test("malformed payloads go to dead with a reason and the queue goes on", async () => {
  await using redis = await startRedis();
  await using db = inspector(redis.url);
  const ran = deferred();
  await using verk = testVerk(redis.url, {
    queues: { default: 1 },
    workers: { Good: { perform: () => ran.resolve() } },
  });
  await db.lpush("queue:default", "not json", '{"class":"Good"}', Buffer.from([0x7b, 0xff, 0x7d]));
  await verk.enqueue({ queue: "default", class: "Good", args: [] });
  await verk.start();
  await ran.promise;
  const dead = await eventually(async () => {
    const members = await db.zrange("dead", 0, -1);
    return members.length === 3 ? members.map((member) => JSON.parse(member)) : null;
  });
  const reasons = dead.map((job) => job.error_message).sort();
  assert.match(reasons.join("\n"), /not valid JSON/);
  assert.match(reasons.join("\n"), /args/);
  assert.match(reasons.join("\n"), /UTF-8/);
  for (const job of dead) {
    assert.equal(job.class, "Verk::MalformedJob");
    assert.equal(job.queue, "default");
    assert.equal(job.retry, false);
  }
  assert.ok(dead.some((job) => job.args[0] === "not json"));
  await eventually(async () => (await db.llen("inprogress:default:1")) === 0);
});

Deno.test("an unknown class is a normal failure whose message names the class", async () => {
  await using redis = await startRedis();
  await using db = inspector(redis.url);
  await using verk = testVerk(redis.url, { queues: { default: 1 }, workers: {} });
  await verk.start();
  await verk.enqueue({ queue: "default", class: "Nobody", args: [] });
  const [member] = await eventually(async () => {
    const entries = await db.zrange("retry", 0, -1);
    return entries.length === 1 ? entries : null;
  });
  const job = JSON.parse(member!);
  assert.equal(job.error_class, "UnknownWorkerError");
  assert.match(job.error_message, /"Nobody"/);
});

Deno.test("the scheduler sends members with no queue or no JSON to dead instead of spinning", async () => {
  await using redis = await startRedis();
  await using db = inspector(redis.url);
  const ran = deferred();
  await db.zadd("schedule", 1, '{"class":"Good","args":[],"jid":"a"}', 2, "garbage");
  await db.zadd("retry", 3, '{"class":"Good","args":[],"jid":"b","queue":"default"}');
  await using verk = testVerk(redis.url, {
    queues: { default: 1 },
    workers: { Good: { perform: () => ran.resolve() } },
  });
  await verk.start();
  await ran.promise;
  const dead = await eventually(async () => {
    const members = await db.zrange("dead", 0, -1);
    return members.length === 2 ? members.map((member) => JSON.parse(member)) : null;
  });
  assert.deepEqual(
    dead.map((job) => job.error_message).sort(),
    [
      "payload has no queue",
      dead.find((job) => job.args[0] === "garbage")!.error_message,
    ].sort(),
  );
  assert.equal(await db.zcard("schedule"), 0);
});

Deno.test("bad input in retry and schedule and a 10 MB payload end in dead with a reason, and processing goes on", async () => {
  await using redis = await startRedis();
  await using db = inspector(redis.url);
  const ran: string[] = [];
  // 10 MB of args: over the default maxPayloadBytes (8 MB), under the test Redis' bulk limit.
  const huge = (jid: string) =>
    `{"class":"Good","args":["${"x".repeat(10 * 1024 * 1024)}"],"jid":"${jid}","queue":"default"}`;
  await db.lpush("queue:default", huge("huge-queued"));
  await db.zadd("retry", 1, "{not json", 2, '{"class":"Good","args":[],"jid":"r-no-queue"}');
  await db.zadd("retry", 3, '{"class":"Good","jid":"r-no-args","queue":"default"}');
  await db.zadd("schedule", 4, '{"class":"Good","jid":"s-no-args","queue":"default"}');
  await db.zadd("schedule", 5, huge("huge-scheduled"));
  // Good jobs behind each source of bad input.
  await db.zadd(
    "retry",
    6,
    '{"class":"Good","args":["from retry"],"jid":"r-ok","queue":"default"}',
  );
  await db.zadd(
    "schedule",
    7,
    '{"class":"Good","args":["from schedule"],"jid":"s-ok","queue":"default"}',
  );
  await using verk = testVerk(redis.url, {
    queues: { default: 1 },
    workers: { Good: { perform: (what: string) => void ran.push(what) } },
  });
  await verk.enqueue({ queue: "default", class: "Good", args: ["queued"] });
  await verk.start();
  await eventually(() => ran.length === 3, { message: "the good jobs ran" });
  assert.deepEqual(ran.sort(), ["from retry", "from schedule", "queued"]);
  const dead = await eventually(async () => {
    const members = await db.zrange("dead", 0, -1);
    return members.length === 6 ? members.map((member) => JSON.parse(member)) : null;
  }, { message: "six members in dead" });
  // Each member's original text is kept as the dead job's only arg.
  const reasonOf = (marker: string) => {
    const found = dead.filter((job) => String(job.args[0]).includes(marker));
    assert.equal(found.length, 1, marker);
    return String(found[0].error_message);
  };
  assert.match(reasonOf("{not json"), /not valid JSON/);
  assert.equal(reasonOf('"jid":"r-no-queue"'), "payload has no queue");
  assert.match(reasonOf('"jid":"r-no-args"'), /args is not an array/);
  assert.match(reasonOf('"jid":"s-no-args"'), /args is not an array/);
  assert.match(reasonOf('"jid":"huge-queued"'), /over maxPayloadBytes 8388608/);
  assert.match(reasonOf('"jid":"huge-scheduled"'), /over maxPayloadBytes 8388608/);
  for (const job of dead) {
    assert.equal(job.class, "Verk::MalformedJob");
    assert.equal(job.error_class, "MalformedJob");
    assert.equal(job.retry, false);
  }
  // The queued giant keeps its queue name and its whole text.
  const queued = dead.find((job) => String(job.args[0]).includes('"jid":"huge-queued"'));
  assert.equal(queued.queue, "default");
  assert.equal(queued.args[0], huge("huge-queued"));
  assert.equal(await db.zcard("retry") + await db.zcard("schedule"), 0);
  await eventually(async () => (await db.llen("inprogress:default:1")) === 0);
  assert.equal(await db.llen("queue:default"), 0);
});

Deno.test("stop puts a job that outlasts shutdownTimeout back on its queue, byte for byte", async () => {
  await using redis = await startRedis();
  await using db = inspector(redis.url);
  const started = deferred<AbortSignal>();
  const verk = testVerk(redis.url, {
    queues: { default: 1 },
    shutdownTimeout: 200,
    workers: {
      Stubborn: {
        perform() {
          started.resolve(this.job.signal);
          return new Promise(() => {}); // ignores its signal
        },
      },
    },
  });
  await verk.start();
  await verk.enqueue({ queue: "default", class: "Stubborn", args: [12345678901234567890n] });
  const [payload] = await db.lrange("queue:default", 0, -1);
  const signal = await started.promise;
  await verk.stop();
  assert.equal(signal.aborted, true);
  assert.deepEqual(await db.lrange("queue:default", 0, -1), [payload]);
  assert.equal(await db.llen("inprogress:default:1"), 0);
  assert.equal(await db.sismember("verk_nodes", "1"), 0);
  assert.equal(await db.exists("verk:node:1"), 0);
});

Deno.test("stop lets running jobs finish within shutdownTimeout and acknowledges them", async () => {
  await using redis = await startRedis();
  await using db = inspector(redis.url);
  const started = deferred();
  let finished = 0;
  const verk = testVerk(redis.url, {
    queues: { default: 5 },
    shutdownTimeout: 5_000,
    workers: {
      Short: {
        async perform() {
          started.resolve();
          await new Promise((resolve) => setTimeout(resolve, 200));
          finished++;
        },
      },
    },
  });
  await verk.start();
  await verk.enqueueMany(
    Array.from({ length: 5 }, () => ({ queue: "default", class: "Short", args: [] })),
  );
  await started.promise;
  await verk.stop();
  assert.equal(finished, 5);
  assert.equal(await db.llen("queue:default"), 0);
  assert.equal(await db.llen("inprogress:default:1"), 0);
  assert.equal(await db.get("stat:processed"), "5");
});

Deno.test("the counters in Redis equal the jobs run after a graceful stop", async () => {
  await using redis = await startRedis();
  await using db = inspector(redis.url);
  let runs = 0;
  const verk = testVerk(redis.url, {
    queues: { default: 10, other: 3 },
    workers: {
      Mixed: {
        perform(fail: boolean) {
          runs++;
          if (fail) throw new Error("fail");
        },
      },
    },
  });
  await verk.start();
  const jobs = Array.from({ length: 200 }, (_, i) => ({
    queue: i < 150 ? "default" : "other",
    class: "Mixed",
    args: [i % 10 === 0],
    retry: false,
  }));
  await verk.enqueueMany(jobs);
  await eventually(() => runs === 200);
  await verk.stop();
  const day = new Date().toISOString().slice(0, 10);
  const counters = await db.mget(
    "stat:processed",
    "stat:failed",
    "stat:processed:default",
    "stat:failed:default",
    "stat:processed:other",
    `stat:processed:${day}`,
    `stat:failed:${day}`,
  );
  assert.deepEqual(counters, ["200", "20", "150", "15", "50", "200", "20"]);
  assert.ok((await db.ttl(`stat:processed:${day}`)) > 4 * 365 * 24 * 3600);
});

Deno.test("two Verks with the same node id in one process: the second is refused", async () => {
  await using redis = await startRedis();
  await using first = testVerk(redis.url, { queues: { default: 1 } });
  await first.start();
  await using second = testVerk(redis.url, { queues: { default: 1 } });
  await assert.rejects(second.start(), /node id "1" is held by a live process/);
});

Deno.test("start puts this node id's leftover in-progress jobs back and runs them", async () => {
  await using redis = await startRedis();
  await using db = inspector(redis.url);
  const ran = deferred<unknown[]>();
  await db.lpush(
    "inprogress:default:7",
    '{"class":"Left","args":["over"],"jid":"j1","queue":"default"}',
  );
  await db.sadd("verk:node:7:queues", "default");
  await db.sadd("verk_nodes", "7");
  await using verk = testVerk(redis.url, {
    nodeId: "7",
    queues: { default: 1 },
    workers: { Left: { perform: (...args: unknown[]) => ran.resolve(args) } },
  });
  await verk.start();
  assert.deepEqual(await ran.promise, ["over"]);
});

Deno.test("a node whose liveness key expired has its in-progress jobs recovered by another node", async () => {
  await using redis = await startRedis();
  await using db = inspector(redis.url);
  const ran = deferred<unknown[]>();
  await db.lpush(
    "inprogress:default:gone",
    '{"class":"Left","args":["recovered"],"jid":"j2","queue":"default"}',
  );
  await db.sadd("verk:node:gone:queues", "default");
  await db.sadd("verk_nodes", "gone");
  await using verk = testVerk(redis.url, {
    generateNodeId: true,
    queues: { default: 1 },
    workers: { Left: { perform: (...args: unknown[]) => ran.resolve(args) } },
  });
  await verk.start();
  assert.deepEqual(await ran.promise, ["recovered"]);
  await eventually(async () => (await db.sismember("verk_nodes", "gone")) === 0);
  assert.equal(await db.exists("verk:node:gone:queues"), 0);
});

Deno.test("the scheduler moves 150 members that are not UTF-8 to dead and still runs the due job behind them", async () => {
  await using redis = await startRedis();
  await using db = inspector(redis.url);
  const ran = deferred();
  for (let i = 0; i < 150; i++) {
    const bad = Buffer.concat([
      Buffer.from(`{"class":"Good","args":["\xff${i}"],"queue":"default","jid":"`),
      Buffer.from([0xff]),
      Buffer.from('"}'),
    ]);
    await db.zadd(i % 2 ? "schedule" : "retry", 1, bad);
  }
  await db.zadd("schedule", 2, '{"class":"Good","args":[],"jid":"ok","queue":"default"}');
  const verk = testVerk(redis.url, {
    queues: { default: 1 },
    workers: { Good: { perform: () => ran.resolve() } },
  });
  await verk.start();
  await ran.promise;
  await eventually(async () => (await db.zcard("dead")) === 150);
  assert.equal(await db.zcard("schedule") + await db.zcard("retry"), 0);
  const [sample] = await db.zrange("dead", 0, 0);
  assert.match(JSON.parse(sample!).error_message, /UTF-8/);
  const stopping = Date.now();
  await verk.stop();
  assert.ok(Date.now() - stopping < 2_000);
});

Deno.test("after Redis loses its script cache (SCRIPT FLUSH), scripts are loaded again and jobs keep running", async () => {
  await using redis = await startRedis();
  await using db = inspector(redis.url);
  const ran: number[] = [];
  await using verk = testVerk(redis.url, {
    queues: { default: 2 },
    workers: { Note: { perform: (n: number) => void ran.push(n) } },
  });
  await verk.start();
  await verk.enqueue({ queue: "default", class: "Note", args: [1] });
  await eventually(() => ran.length === 1);
  await db.script("FLUSH");
  await verk.enqueueMany([2, 3].map((n) => ({ queue: "default", class: "Note", args: [n] })));
  await verk.schedule({ queue: "default", class: "Note", args: [4] }, Date.now() + 200);
  await eventually(() => ran.length === 4);
  assert.deepEqual(ran.toSorted(), [1, 2, 3, 4]);
  await eventually(async () => (await db.llen("inprogress:default:1")) === 0);
});

Deno.test("a poison job found in a dead node's list goes to dead as Sidekiq can retry it (Verk string args as an array)", async () => {
  await using redis = await startRedis();
  await using db = inspector(redis.url);
  await db.lpush(
    "inprogress:default:gone",
    '{"class":"Crash","args":"[1,{\\"a\\":[]}]","jid":"p1","queue":"default"}',
  );
  await db.sadd("verk:node:gone:queues", "default");
  await db.sadd("verk_nodes", "gone");
  await db.hset("verk:recoveries", "p1", 3); // it already killed three workers
  await using verk = testVerk(redis.url, { generateNodeId: true, queues: { other: 1 } });
  await verk.start();
  const [member] = await eventually(async () => {
    const dead = await db.zrange("dead", 0, -1);
    return dead.length === 1 ? dead : null;
  });
  assert.match(member!, /"args":\[1,\{"a":\[\]\}\]/);
  const job = JSON.parse(member!);
  assert.equal(job.error_class, "PoisonJobError");
  assert.equal(await db.llen("queue:default"), 0);
});
