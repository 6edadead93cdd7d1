import assert from "node:assert/strict";
import { Admin, AdminError, ConfigError } from "../../mod.ts";
import { startRedis } from "../_helpers/redis.ts";

Deno.test("new Admin() validates its options and names the one at fault", () => {
  assert.throws(() => new Admin({ timeout: -1 }), (error: unknown) => {
    assert.ok(error instanceof ConfigError);
    assert.equal(error.option, "timeout");
    assert.match(error.message, /^option timeout must be a positive integer \(ms\): got -1$/);
    return true;
  });
  assert.throws(() => new Admin({ redisUrl: "http://x" }), { option: "redisUrl" });
  assert.throws(() => new Admin({ maxDeadJobs: 1.5 }), { option: "maxDeadJobs" });
});

Deno.test("admin.set() returns the job set stored under a key; a closed Admin refuses calls at once", async () => {
  await using redis = await startRedis();
  const admin = new Admin({ redisUrl: redis.url });
  assert.equal(admin.set("retry"), admin.retries);
  assert.equal(admin.set("schedule"), admin.scheduled);
  assert.equal(admin.set("dead").name, "dead");
  assert.throws(() => admin.set("queues" as "dead"), AdminError);
  assert.equal(await admin.dead.size(), 0);
  await admin.close();
  await assert.rejects(admin.dead.size(), /admin is closed/);
});
