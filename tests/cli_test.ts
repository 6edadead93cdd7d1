import assert from "node:assert/strict";
import { failJobs } from "./_helpers/jobs.ts";
import { startRedis } from "./_helpers/redis.ts";
import { inspector, testVerk } from "./_helpers/verk.ts";

const CLI = new URL("../src/cli.ts", import.meta.url).pathname;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `verk <args>` as a child process against `url`, stdin not a terminal. */
async function verk(
  url: string,
  args: string[],
  permissions: string[] = ["-A"],
): Promise<Run> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...permissions, CLI, ...args],
    env: { VERK_REDIS_URL: url, NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

Deno.test("verk: no command, an unknown command or a bad flag exit 2 with usage; help exits 0", async () => {
  const url = "redis://127.0.0.1:1/0";
  const [none, unknown, badFlag, badPage, help] = await Promise.all([
    verk(url, []),
    verk(url, ["frobnicate"]),
    verk(url, ["queues", "--colour"]),
    verk(url, ["retries", "--page", "-1"]),
    verk(url, ["help"]),
  ]);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /^Usage: verk/);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown command "frobnicate"\nRun "verk help" for usage/);
  assert.equal(badFlag.code, 2);
  assert.match(badFlag.stderr, /unknown option --colour/);
  assert.equal(badPage.code, 2);
  assert.match(badPage.stderr, /--page must be a positive integer: got "-1"/);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /retries\|scheduled\|dead retry-all/);
});

Deno.test("verk: stats, queues, queue and the sets print tables; --json prints what the API returns", async () => {
  await using redis = await startRedis();
  const [retryJid] = await failJobs(redis.url, [{ args: [12345678901234567890n] }]);
  const [deadJid] = await failJobs(redis.url, [{ maxRetryCount: 0, args: ["gone"] }]);
  await using producer = testVerk(redis.url);
  await producer.enqueue({ queue: "mail", class: "Mailer", args: ["a@b.c"] });
  await producer.schedule({ queue: "later", class: "Report", args: [] }, Date.now() + 7_200_000);

  const [stats, queues, queue, retries, retriesJson, scheduled, show, statsJson] = await Promise
    .all([
      verk(redis.url, ["stats", "--days", "2"]),
      verk(redis.url, ["queues"]),
      verk(redis.url, ["queue", "mail"]),
      verk(redis.url, ["retries"]),
      verk(redis.url, ["retries", "list", "--json"]),
      verk(redis.url, ["scheduled"]),
      verk(redis.url, ["dead", "show", deadJid!]),
      verk(redis.url, ["stats", "--json"]),
    ]);
  for (const run of [stats, queues, queue, retries, retriesJson, scheduled, show, statsJson]) {
    assert.equal(run.code, 0, run.stderr);
  }
  assert.match(
    stats.stdout,
    /^Processed +2\nFailed +2\nEnqueued +1\nScheduled +1\nRetries +1\nDead +1/,
  );
  assert.match(stats.stdout, /QUEUE +WAITING +PROCESSED +FAILED\ndefault +0 +2 +2\nmail +1 +0 +0/);
  assert.match(stats.stdout, new RegExp(`${new Date().toISOString().slice(0, 10)} +2 +2`));
  assert.match(queues.stdout, /^QUEUE +SIZE +LATENCY\n(default +0 +0 s\n)?mail +1 +\d+ s$/m);
  assert.match(
    queue.stdout,
    /JID +CLASS +ARGS +ENQUEUED\n[0-9a-f]{24} +Mailer +\["a@b.c"\] +(now|\d+ s ago)/,
  );
  assert.match(queue.stdout, /page 1 of 1 \(1 job, newest first\)/);
  assert.match(
    retries.stdout,
    new RegExp(
      `${retryJid} +Failing +default +\\[12345678901234567890\\] +in \\d+ (s|min) +1 +Broken: always fails`,
    ),
  );
  const page = JSON.parse(retriesJson.stdout);
  assert.equal(page.total, 1);
  assert.equal(page.items[0].jid, retryJid);
  assert.match(retriesJson.stdout, /"args":\[12345678901234567890\]/, "big integers stay exact");
  assert.match(scheduled.stdout, /Report +later +\[\] +in 1 h\n/);
  assert.doesNotMatch(scheduled.stdout, /ERROR/, "empty columns are left out");
  assert.match(show.stdout, new RegExp(`^jid +${deadJid}\nclass +Failing\nqueue +default`));
  assert.match(show.stdout, /error +Broken: always fails\nbacktrace\n +.*jobs\.ts/);
  const summary = JSON.parse(statsJson.stdout);
  assert.equal(summary.processed, 2);
  assert.equal(summary.history.length, 7);
});

Deno.test("verk: run, kill and delete exit 0 once and 1 when the job is not there (any more)", async () => {
  await using redis = await startRedis();
  await using db = inspector(redis.url);
  const [a, b, c] = await failJobs(redis.url, [{ args: ["a"] }, { args: ["b"] }, { args: ["c"] }]);
  const run = await verk(redis.url, ["retries", "run", a!]);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stdout, `enqueued ${a} from the retry set\n`);
  const [queued] = await db.lrange("queue:default", 0, -1);
  assert.equal(JSON.parse(queued!).retry_count, -1, "a manual retry uses up no attempt");
  const [again, kill, del, missing, deadKill] = await Promise.all([
    verk(redis.url, ["retries", "run", a!]),
    verk(redis.url, ["retries", "kill", b!, "--json"]),
    verk(redis.url, ["retries", "delete", c!]),
    verk(redis.url, ["dead", "show", "no-such-jid"]),
    verk(redis.url, ["dead", "kill", b!]),
  ]);
  assert.equal(again.code, 1);
  assert.equal(again.stderr, `verk: no job with jid ${a} in the retry set\n`);
  assert.equal(kill.code, 0, kill.stderr);
  assert.deepEqual(JSON.parse(kill.stdout), { jid: b, ok: true });
  assert.equal(del.code, 0, del.stderr);
  assert.equal(missing.code, 1);
  assert.equal(deadKill.code, 2);
  assert.equal(await db.zcard("retry"), 0);
  assert.equal(await db.zcard("dead"), 1);
});

Deno.test("verk: clear and retry-all are refused without --yes when stdin is not a terminal", async () => {
  await using redis = await startRedis();
  await using db = inspector(redis.url);
  await failJobs(redis.url, [{ maxRetryCount: 0 }, { maxRetryCount: 0 }]);
  const [clear, retryAll, queueClear] = await Promise.all([
    verk(redis.url, ["dead", "clear"]),
    verk(redis.url, ["dead", "retry-all"]),
    verk(redis.url, ["queue", "default", "clear"]),
  ]);
  for (const refused of [clear, retryAll, queueClear]) {
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /refused without --yes \(stdin is not a terminal\)/);
  }
  assert.match(clear.stderr, /delete all 2 jobs of the dead set/);
  assert.equal(await db.zcard("dead"), 2, "nothing deleted");

  const retried = await verk(redis.url, ["dead", "retry-all", "--yes", "--json"]);
  assert.equal(retried.code, 0, retried.stderr);
  assert.deepEqual(JSON.parse(retried.stdout), { moved: 2 });
  const cleared = await verk(redis.url, ["queue", "default", "clear", "-y"]);
  assert.equal(cleared.stdout, "deleted 2 jobs from queue default\n");
  assert.equal(await db.exists("queue:default"), 0);
});

Deno.test("verk: enqueue, schedule, pause and resume go through a producer Verk", async () => {
  await using redis = await startRedis();
  await using db = inspector(redis.url);
  const [now, later, paused, badArgs, badQueue] = await Promise.all([
    verk(redis.url, ["enqueue", "Mailer", '[1,"x",12345678901234567890]', "--queue", "mail"]),
    verk(redis.url, ["enqueue", "Report", "--queue", "reports", "--at", "+2h", "--json"]),
    verk(redis.url, ["pause", "mail"]),
    verk(redis.url, ["enqueue", "Mailer", "{}", "--queue", "mail"]),
    verk(redis.url, ["enqueue", "Mailer", "--queue", "two words"]),
  ]);
  assert.equal(now.code, 0, now.stderr);
  assert.match(now.stdout, /^enqueued [0-9a-f]{24} on mail\n$/);
  const [payload] = await db.lrange("queue:mail", 0, -1);
  assert.match(payload!, /"class":"Mailer","args":\[1,"x",12345678901234567890\]/);
  assert.equal(later.code, 0, later.stderr);
  const scheduled = JSON.parse(later.stdout);
  assert.equal(scheduled.queue, "reports");
  assert.ok(Math.abs(Date.parse(scheduled.at) - Date.now() - 7_200_000) < 60_000);
  assert.equal(await db.zcard("schedule"), 1);
  assert.equal(paused.code, 0, paused.stderr);
  assert.deepEqual(await db.smembers("verk:paused"), ["mail"]);
  assert.equal(badArgs.code, 2);
  assert.match(badArgs.stderr, /args must be a JSON array/);
  assert.equal(badQueue.code, 2);
  assert.match(badQueue.stderr, /invalid queue name "two words": whitespace is not allowed/);

  const typo = await verk(redis.url, ["pause", "mial"]);
  assert.equal(typo.code, 0, typo.stderr);
  assert.match(typo.stderr, /no queue named mial is known yet; it will start paused/);
  const known = await verk(redis.url, ["pause", "mail"]);
  assert.doesNotMatch(known.stderr, /known yet/);
  await verk(redis.url, ["resume", "mial"]);

  const resumed = await verk(redis.url, ["resume", "mail", "--json"]);
  assert.deepEqual(JSON.parse(resumed.stdout), { queue: "mail", paused: false });
  assert.deepEqual(await db.smembers("verk:paused"), []);
});

Deno.test("verk: works with only --allow-net --allow-env, and exits 1 when Redis is unreachable", async () => {
  await using redis = await startRedis();
  const permissions = ["--allow-net", "--allow-env", "--no-prompt"];
  const [ok, down] = await Promise.all([
    verk(redis.url, ["queues"], permissions),
    verk("redis://127.0.0.1:1/0", ["stats"], permissions),
  ]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.stdout, "no queues\n");
  assert.equal(down.code, 1);
  assert.match(
    down.stderr,
    /^verk: admin: Redis did not answer within 5000 ms \(.*ECONNREFUSED.*\)\n$/,
  );
});
