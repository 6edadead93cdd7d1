import assert from "node:assert/strict";
import { parseArgs, parseTime, queueArg, UsageError } from "../../src/cli/args.ts";

Deno.test("parseArgs() takes flags anywhere, --flag=value, and refuses unknown flags and bad numbers", () => {
  const args = parseArgs([
    "retries",
    "--page=2",
    "list",
    "--json",
    "-y",
    "--redis-url",
    "redis://x",
  ]);
  assert.deepEqual(args.positionals, ["retries", "list"]);
  assert.equal(args.page, 2);
  assert.equal(args.json, true);
  assert.equal(args.yes, true);
  assert.equal(args.redisUrl, "redis://x");
  assert.deepEqual(parseArgs(["enqueue", "A", "--", "--not-a-flag"]).positionals, [
    "enqueue",
    "A",
    "--not-a-flag",
  ]);
  assert.throws(() => parseArgs(["--nope"]), UsageError);
  assert.throws(() => parseArgs(["queues", "--page"]), /--page needs a value/);
  assert.throws(() => parseArgs(["queues", "--page", "0"]), /positive integer: got "0"/);
  assert.throws(() => parseArgs(["queues", "--days", "1.5"]), /--days/);
  assert.throws(() => queueArg("a b"), /whitespace/);
  assert.throws(() => queueArg(undefined), /missing a queue name/);
});

Deno.test("parseTime() reads ISO times, epoch seconds or ms, and delays from now", () => {
  const now = 1_796_300_000_000;
  assert.equal(parseTime("2026-12-03T10:00:00Z", now), Date.parse("2026-12-03T10:00:00Z"));
  assert.equal(parseTime("1796300422", now), 1_796_300_422_000);
  assert.equal(parseTime("1796300422.5", now), 1_796_300_422_500);
  assert.equal(parseTime("1796300422883", now), 1_796_300_422_883);
  assert.equal(parseTime("+30s", now), now + 30_000);
  assert.equal(parseTime("5m", now), now + 300_000);
  assert.equal(parseTime("+2h", now), now + 7_200_000);
  assert.equal(parseTime("+1d", now), now + 86_400_000);
  assert.throws(() => parseTime("tomorrow", now), UsageError);
  assert.throws(() => parseTime("12/03/2026", now), UsageError);
});
