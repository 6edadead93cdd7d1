import assert from "node:assert/strict";
import { duration, plural, relativeTime, short, table } from "../../src/cli/format.ts";

Deno.test("relativeTime() says how long ago or how soon, in the largest unit that fits", () => {
  const now = 1_796_300_000_000;
  assert.equal(relativeTime(now + 400, now), "now");
  assert.equal(relativeTime(now - 12_000, now), "12 s ago");
  assert.equal(relativeTime(new Date(now + 3 * 60_000 + 5_000), now), "in 3 min");
  assert.equal(relativeTime(now - 2 * 3_600_000, now), "2 h ago");
  assert.equal(relativeTime(now + 5 * 86_400_000, now), "in 5 d");
  assert.equal(relativeTime(undefined, now), "-");
  assert.equal(relativeTime(Infinity, now), "-");
  assert.equal(duration(0.4), "0 s");
  assert.equal(duration(7_200), "2 h");
});

Deno.test("table() aligns columns, right-aligns numbers, cuts long cells and leaves out empty columns", () => {
  const text = table(["NAME", "SIZE", "NOTE", "EMPTY"], [
    ["default", "5", "x".repeat(60), ""],
    ["mail", "120", "short", ""],
  ]);
  assert.equal(
    text,
    [
      `NAME     SIZE  NOTE`,
      `default     5  ${"x".repeat(47)}…`,
      `mail      120  short`,
    ].join("\n"),
  );
  assert.equal(table(["A", "B"], []), "A  B");
  assert.equal(short("two\nlines"), "two lines");
  assert.equal(plural(1, "job"), "1 job");
  assert.equal(plural(0, "job"), "0 jobs");
});
