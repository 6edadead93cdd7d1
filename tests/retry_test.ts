import assert from "node:assert/strict";
import { resolveConfig } from "../src/config.ts";
import { decodeBacktrace, parseJob, setTopLevelFields } from "../src/job.ts";
import { decideFailure, type FailureDecision } from "../src/retry.ts";

const config = resolveConfig({});
const FAILED_AT = Date.UTC(2026, 11, 3, 12, 0, 0, 250);

class Boom extends Error {
  override name = "Boom";
}

function fail(text: string, thrown: unknown = new Boom("it broke")): Promise<FailureDecision> {
  const parsed = parseJob(text);
  if (!parsed.ok) throw new Error(parsed.reason);
  return decideFailure(text, parsed.job, thrown, FAILED_AT, config);
}

function payloadOf(decision: FailureDecision): string {
  if (decision.action === "drop") assert.fail("expected a payload, got drop");
  return decision.payload;
}

const VERK_JOB =
  '{"queue":"default","class":"VerkJob","args":"[12345678901234567890,\\"a/b\\",{},[]]",' +
  '"jid":"1234","enqueued_at":1796300422,"retry_count":null,"failed_at":null,' +
  '"error_message":null,"max_retry_count":3,"error_backtrace":"lib/a.ex:1\\nlib/b.ex:2"}';

Deno.test("a failed Verk 1.x payload gets array args, its limit as retry, and Sidekiq's error fields", async () => {
  const decision = await fail(VERK_JOB);
  assert.equal(decision.action, "retry");
  const payload = payloadOf(decision);
  // Verk's array text, moved out of its string as is: nothing re-encoded.
  assert.ok(payload.includes('"args":[12345678901234567890,"a/b",{},[]]'), payload);
  const job = JSON.parse(payload);
  assert.equal(job.retry, 3);
  assert.equal(job.retry_count, 0);
  assert.equal(job.failed_at, FAILED_AT / 1000);
  assert.equal(job.error_message, "it broke");
  assert.equal(job.error_class, "Boom");
  assert.equal(job.enqueued_at, 1796300422, "other fields untouched");
  const lines = await decodeBacktrace(job.error_backtrace);
  assert.ok(lines.some((line) => line.includes("retry_test.ts")), lines.join("\n"));
  assert.notEqual(job.error_backtrace, "lib/a.ex:1\nlib/b.ex:2");
});

Deno.test("a Verk 1.x payload uses max_retry_count as its limit: failure 1 + N goes to dead", async () => {
  const third = setTopLevelFields(VERK_JOB, { retry_count: "2", failed_at: "1796300000" });
  const decision = await fail(third);
  assert.equal(decision.action, "dead");
  assert.equal(decision.retryCount, 3);
  const job = JSON.parse(payloadOf(decision));
  assert.equal(job.failed_at, 1796300000, "the first failure time is kept");
  assert.equal(job.retried_at, FAILED_AT / 1000);
  assert.deepEqual(job.args, [12345678901234567890, "a/b", {}, []]);
});

Deno.test("max_retry_count wins over an integer retry, which wins over the default", async () => {
  const both = await fail('{"class":"A","args":[],"retry":5,"max_retry_count":0}');
  assert.equal(both.action, "dead");
  const retryOnly = await fail('{"class":"A","args":[],"retry":0}');
  assert.equal(retryOnly.action, "dead");
  const neither = await fail('{"class":"A","args":[],"retry":true,"retry_count":23}');
  assert.equal(neither.action, "retry", "failure 25 of 25 retries still retries");
  const last = await fail('{"class":"A","args":[],"retry":true,"retry_count":24}');
  assert.equal(last.action, "dead");
});

Deno.test("Sidekiq's options: retry false drops, dead false drops when exhausted", async () => {
  assert.equal((await fail('{"class":"A","args":[],"retry":false}')).action, "drop");
  const notDead = await fail('{"class":"A","args":[],"retry":1,"retry_count":0,"dead":false}');
  assert.equal(notDead.action, "drop");
  const stillRetried = await fail('{"class":"A","args":[],"retry":1,"dead":false}');
  assert.equal(stillRetried.action, "retry");
});

Deno.test("retry_queue moves retries and dead jobs to that queue, as Sidekiq does", async () => {
  const retry = await fail('{"class":"A","args":[],"queue":"high","retry":1,"retry_queue":"low"}');
  assert.equal(JSON.parse(payloadOf(retry)).queue, "low");
  const dead = await fail(
    '{"class":"A","args":[],"queue":"high","retry":0,"retry_queue":"low"}',
  );
  assert.equal(dead.action, "dead");
  assert.equal(JSON.parse(payloadOf(dead)).queue, "low");
});

Deno.test("backtrace: a count keeps that many lines, false none, true all", async () => {
  const deep = new Boom("deep");
  deep.stack = ["Boom: deep", ...Array.from({ length: 30 }, (_, i) => `    at f${i} (x.ts:${i}:1)`)]
    .join("\n");
  const linesOf = async (option: string) => {
    const payload = payloadOf(await fail(`{"class":"A","args":[],"backtrace":${option}}`, deep));
    const backtrace = JSON.parse(payload).error_backtrace;
    return backtrace === undefined ? undefined : await decodeBacktrace(backtrace);
  };
  assert.deepEqual(await linesOf("2"), ["f0 (x.ts:0:1)", "f1 (x.ts:1:1)"]);
  assert.equal(await linesOf("false"), undefined);
  assert.equal((await linesOf("true"))?.length, 30);
  assert.equal((await linesOf("null"))?.length, config.failedJobStacktraceSize);
});

Deno.test('a nested "args" string is not taken for Verk\'s string args', async () => {
  const text = '{"class":"A","args":[{"args":"[1]"}],"retry":1}';
  const payload = payloadOf(await fail(text));
  assert.ok(payload.startsWith('{"class":"A","args":[{"args":"[1]"}],"retry":1,'), payload);
});
