/**
 * Payloads written by Elixir Verk 1.x nodes, as wire-format.md's "Reading Verk
 * payloads" describes them: string args, integer timestamps, decimal jids,
 * `max_retry_count`, `null` fields and plain-text backtraces.
 */
import assert from "node:assert/strict";
import { decodeBacktrace, parseJob } from "../src/job.ts";
import { eventually, startRedis } from "./_helpers/redis.ts";
import { testVerk } from "./_helpers/verk.ts";

const VERK_PAYLOAD =
  '{"queue":"default","class":"VerkWorker","args":"[12345678901234567890,\\"a/b\\",{},[]]",' +
  '"jid":"713409877","enqueued_at":1796300422,"retry_count":null,"failed_at":null,' +
  '"retried_at":null,"error_message":null,"max_retry_count":2,' +
  '"error_backtrace":"lib/verk/worker.ex:12: Verk.Worker.perform/1\\nlib/x.ex:3"}';

Deno.test("a Verk 1.x payload runs with its string args unwrapped, fails 1 + max_retry_count times, then dies readable by Sidekiq", async () => {
  await using redis = await startRedis();
  const attempts: { attempt: number; args: unknown[] }[] = [];
  await using verk = testVerk(redis.url, {
    queues: { default: 1 },
    workers: {
      VerkWorker: {
        perform(...args: unknown[]) {
          attempts.push({ attempt: this.job.attempt, args });
          throw new Error(`attempt ${this.job.attempt} failed`);
        },
        retryAt: (failedAt: Date) => failedAt,
      },
    },
  });
  await redis.command("LPUSH", "queue:default", VERK_PAYLOAD);
  await verk.start();
  const [dead] = await eventually(async () => {
    const members = await redis.command("ZRANGE", "dead", 0, -1) as string[];
    return members.length === 1 ? members : null;
  }, { message: "the Verk job in dead" });
  const args = [12345678901234567890n, "a/b", {}, []];
  assert.deepEqual(attempts, [
    { attempt: 1, args },
    { attempt: 2, args },
    { attempt: 3, args },
  ]);
  // Rewritten for Sidekiq: real array args (Verk's own text), retry = max_retry_count.
  assert.ok(dead!.includes('"args":[12345678901234567890,"a/b",{},[]]'), dead);
  const parsed = parseJob(dead!);
  assert.ok(parsed.ok);
  const job = parsed.job;
  assert.equal(job.jid, "713409877");
  assert.equal(job.retry, 2);
  assert.equal(job.max_retry_count, 2);
  assert.equal(job.retry_count, 2);
  assert.equal(job.error_message, "attempt 3 failed");
  assert.equal(job.enqueued_at !== undefined && job.enqueued_at > 1796300422, true);
  assert.match(dead!, /"failed_at":\d+\.\d+/);
  const lines = await decodeBacktrace(job.error_backtrace!);
  assert.ok(lines.some((line) => line.includes("verk_payloads_test.ts")), lines.join("\n"));
});

Deno.test("a Verk plain-text backtrace reads as its lines", async () => {
  const parsed = parseJob(VERK_PAYLOAD);
  assert.ok(parsed.ok);
  assert.deepEqual(await decodeBacktrace(parsed.job.error_backtrace!), [
    "lib/verk/worker.ex:12: Verk.Worker.perform/1",
    "lib/x.ex:3",
  ]);
});
