import assert from "node:assert/strict";
import { backoffDelay, defaultRetryDelaySeconds, jitter } from "../src/backoff.ts";

/** The largest value below 1 that `Math.random` can return. */
const ALMOST_ONE = 1 - Number.EPSILON / 2;

Deno.test("defaultRetryDelaySeconds() puts the first retry between 18 and 76 seconds", () => {
  assert.equal(defaultRetryDelaySeconds(1, () => 0), 18);
  assert.equal(defaultRetryDelaySeconds(1, () => ALMOST_ONE), 76);
});

Deno.test("defaultRetryDelaySeconds() follows n^4 + 15 + rand(1..30) * (n + 1)", () => {
  for (const n of [1, 2, 3, 10, 25]) {
    assert.equal(defaultRetryDelaySeconds(n, () => 0), n ** 4 + 15 + 1 * (n + 1), `n = ${n}`);
    assert.equal(defaultRetryDelaySeconds(n, () => ALMOST_ONE), n ** 4 + 15 + 30 * (n + 1));
  }
  assert.equal(defaultRetryDelaySeconds(25, () => 0), 390_666);
});

Deno.test("defaultRetryDelaySeconds() draws each of the 30 random steps equally", () => {
  const seen = new Map<number, number>();
  for (let i = 0; i < 30; i++) {
    const step = (defaultRetryDelaySeconds(1, () => (i + 0.5) / 30) - 16) / 2;
    seen.set(step, (seen.get(step) ?? 0) + 1);
  }
  assert.deepEqual(
    [...seen.keys()].sort((a, b) => a - b),
    Array.from({ length: 30 }, (_, i) => i + 1),
  );
  assert.ok([...seen.values()].every((count) => count === 1));
});

Deno.test("defaultRetryDelaySeconds() keeps a faulty random source inside 1..30", () => {
  assert.equal(defaultRetryDelaySeconds(1, () => 1), 76);
  assert.equal(defaultRetryDelaySeconds(1, () => -3), 18);
  assert.equal(defaultRetryDelaySeconds(1, () => 7), 76);
});

Deno.test("defaultRetryDelaySeconds() uses Math.random when no source is given", () => {
  for (let i = 0; i < 200; i++) {
    const delay = defaultRetryDelaySeconds(1);
    assert.ok(delay >= 18 && delay <= 76 && Number.isInteger(delay), `got ${delay}`);
  }
});

Deno.test("defaultRetryDelaySeconds() rejects failure numbers that are not positive integers", () => {
  for (const bad of [0, -1, 1.5, Number.NaN, Infinity]) {
    assert.throws(() => defaultRetryDelaySeconds(bad), {
      name: "RangeError",
      message: new RegExp(`'failureNumber' must be a positive integer: current value is ${bad}`),
    });
  }
});

Deno.test("backoffDelay() doubles from the base per attempt without jitter at the midpoint", () => {
  const middle = () => 0.5;
  assert.deepEqual(
    [0, 1, 2, 3, 4].map((attempt) => backoffDelay(attempt, 100, 60_000, middle)),
    [100, 200, 400, 800, 1600],
  );
});

Deno.test("backoffDelay() spreads each delay by at most 20% either way", () => {
  assert.equal(backoffDelay(2, 100, 60_000, () => 0), 320);
  assert.equal(backoffDelay(2, 100, 60_000, () => ALMOST_ONE), 480);
  for (let i = 0; i < 200; i++) {
    const delay = backoffDelay(3, 1_000, 60_000);
    assert.ok(delay >= 6_400 && delay <= 9_600, `got ${delay}`);
  }
});

Deno.test("backoffDelay() never exceeds maxMs, and jitters downward once capped", () => {
  assert.equal(backoffDelay(10, 100, 5_000, () => ALMOST_ONE), 5_000);
  assert.equal(backoffDelay(10, 100, 5_000, () => 0), 4_000);
  assert.equal(backoffDelay(2_000, 100, 5_000, () => 0.5), 4_500);
  // Just below the cap: the upper jitter is clipped at maxMs.
  assert.equal(backoffDelay(5, 100, 3_500, () => ALMOST_ONE), 3_500);
});

Deno.test("backoffDelay() rejects a negative or fractional attempt and bad durations", () => {
  assert.throws(() => backoffDelay(-1, 100, 1_000), /'attempt' must be a non-negative integer/);
  assert.throws(() => backoffDelay(0.5, 100, 1_000), /current value is 0.5/);
  assert.throws(() => backoffDelay(0, -5, 1_000), /'baseMs' must be a finite number >= 0/);
  assert.throws(() => backoffDelay(0, 100, Infinity), /'maxMs' must be a finite number >= 0/);
});

Deno.test("jitter() spreads a delay by ±10% by default", () => {
  assert.equal(jitter(5_000, undefined, () => 0), 4_500);
  assert.equal(jitter(5_000, undefined, () => 0.5), 5_000);
  assert.equal(jitter(5_000, undefined, () => ALMOST_ONE), 5_500);
  for (let i = 0; i < 200; i++) {
    const delay = jitter(5_000);
    assert.ok(delay >= 4_500 && delay <= 5_500 && Number.isInteger(delay), `got ${delay}`);
  }
});

Deno.test("jitter() honours the fraction it is given", () => {
  assert.equal(jitter(1_000, 0.5, () => 0), 500);
  assert.equal(jitter(1_000, 0.5, () => ALMOST_ONE), 1_500);
  assert.equal(jitter(1_000, 0, () => 0), 1_000);
});

Deno.test("jitter() rejects a fraction outside 0..1 and a negative delay", () => {
  assert.throws(
    () => jitter(1_000, 1.5),
    /'fraction' must be between 0 and 1: current value is 1.5/,
  );
  assert.throws(() => jitter(1_000, Number.NaN), /'fraction' must be between 0 and 1/);
  assert.throws(() => jitter(-1), /'ms' must be a finite number >= 0: current value is -1/);
});
