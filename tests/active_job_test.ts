import assert from "node:assert/strict";
import { performTarget } from "../src/active_job.ts";
import { type JobPayload, parseJob } from "../src/job.ts";

function job(text: string): JobPayload {
  const parsed = parseJob(text);
  if (!parsed.ok) throw new Error(parsed.reason);
  return parsed.job;
}

/** Written by Rails 7.1's adapter through Sidekiq 6.4 (`JobWrapper.set(…).perform_async`). */
const RAILS_JOB = `{"retry":true,"queue":"mailers","wrapped":"SignupMailerJob",
"args":[{"job_class":"SignupMailerJob","job_id":"0c6a5a7e-4bd6-4a0e-9a44-1f3b6f5ce0a1",
"provider_job_id":null,"queue_name":"mailers","priority":null,
"arguments":[42,{"plan":"pro","_aj_symbol_keys":["plan"]},
{"user":{"_aj_globalid":"gid://app/User/1"},"_aj_symbol_keys":[]},
{"_aj_serialized":"ActiveJob::Serializers::SymbolSerializer","value":"welcome"},
[{"notify":true,"_aj_ruby2_keywords":["notify"]}],
{"nested":{"a":1,"_aj_hash_with_indifferent_access":true},"_aj_symbol_keys":["nested"]}],
"executions":0,"exception_executions":{},"locale":"en","timezone":"UTC",
"enqueued_at":"2026-12-03T12:00:00.123456789Z","scheduled_at":null}],
"class":"ActiveJob::QueueAdapters::SidekiqAdapter::JobWrapper",
"jid":"2f5e3c1d0b9a8f7e6d5c4b3a","created_at":1796300422.5,"enqueued_at":1796300422.5}`;

Deno.test("a Rails ActiveJob job runs its wrapped class with ActiveJob's arguments, key markers removed", () => {
  const payload = job(RAILS_JOB);
  const before = JSON.stringify(payload);
  const target = performTarget(payload);
  assert.equal(target.className, "SignupMailerJob");
  assert.equal(target.wrapper, "ActiveJob::QueueAdapters::SidekiqAdapter::JobWrapper");
  assert.deepEqual(target.args, [
    42,
    { plan: "pro" },
    { user: { _aj_globalid: "gid://app/User/1" } },
    { _aj_serialized: "ActiveJob::Serializers::SymbolSerializer", value: "welcome" },
    [{ notify: true }],
    { nested: { a: 1 } },
  ]);
  assert.equal(JSON.stringify(payload), before, "the payload itself is not changed");
});

Deno.test("Sidekiq 7's ActiveJob wrapper is unwrapped the same way", () => {
  const target = performTarget(
    job(
      RAILS_JOB.replace(
        "ActiveJob::QueueAdapters::SidekiqAdapter::JobWrapper",
        "Sidekiq::ActiveJob::Wrapper",
      ),
    ),
  );
  assert.equal(target.className, "SignupMailerJob");
  assert.equal(target.wrapper, "Sidekiq::ActiveJob::Wrapper");
});

Deno.test("without wrapped, the ActiveJob class comes from job_class", () => {
  const target = performTarget(job(RAILS_JOB.replace('"wrapped":"SignupMailerJob",', "")));
  assert.equal(target.className, "SignupMailerJob");
});

Deno.test("other jobs, and wrapper jobs not in ActiveJob's shape, run as they are", () => {
  const plain = job('{"class":"Mailer","args":[{"arguments":[1]}]}');
  assert.deepEqual(performTarget(plain), { className: "Mailer", args: [{ arguments: [1] }] });
  const odd = job(
    '{"class":"ActiveJob::QueueAdapters::SidekiqAdapter::JobWrapper","args":["OldStyle",1]}',
  );
  assert.deepEqual(performTarget(odd), {
    className: "ActiveJob::QueueAdapters::SidekiqAdapter::JobWrapper",
    args: ["OldStyle", 1],
  });
});
