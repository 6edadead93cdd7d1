/**
 * Delays: Verk's retry schedule for failed jobs, exponential backoff for
 * reconnects and loop restarts, and jitter for periodic timers. Pure functions;
 * each takes an optional `random` (a function like `Math.random`, returning a
 * number in [0, 1)) so tests can pin the outcome.
 *
 * Why jitter everywhere: nodes started together (a deploy, a Redis coming back)
 * would otherwise poll, heartbeat and reconnect in lockstep, hitting Redis in
 * bursts. Spreading each timer by a random fraction breaks the herd.
 * @module
 */

/**
 * Verk's default retry delay, in seconds, for failure number `failureNumber`
 * (1 for the first failure): `n⁴ + 15 + rand(1..30) × (n + 1)`, where `rand(1..30)`
 * is an integer drawn uniformly from 1 to 30 inclusive. The first retry comes
 * after 18 to 76 s, the 25th after about 4.5 days.
 *
 * @param failureNumber The failure number, a positive integer.
 * @param random Uniform source in [0, 1); `Math.random` unless given.
 * @returns The delay in whole seconds.
 * @throws {RangeError} When `failureNumber` is not a positive integer.
 *
 * @example The earliest and latest first retry
 * ```ts
 * import { defaultRetryDelaySeconds } from "./backoff.ts";
 * console.log(defaultRetryDelaySeconds(1, () => 0)); // 18
 * console.log(defaultRetryDelaySeconds(1, () => 0.999)); // 76
 * ```
 */
export function defaultRetryDelaySeconds(
  failureNumber: number,
  random: () => number = Math.random,
): number {
  if (!Number.isSafeInteger(failureNumber) || failureNumber < 1) {
    throw new RangeError(
      `Cannot compute a retry delay as 'failureNumber' must be a positive integer: ` +
        `current value is ${failureNumber}`,
    );
  }
  const n = failureNumber;
  return n ** 4 + 15 + randomInteger(1, 30, random) * (n + 1);
}

/**
 * Backoff delay, in milliseconds, before reconnect or restart attempt `attempt`
 * (0 for the first wait): `baseMs × 2^attempt`, capped at `maxMs`, then spread by
 * ±20% jitter. The result never exceeds `maxMs`: once the cap is reached the
 * jitter only shortens the wait (80% to 100% of `maxMs`).
 *
 * @param attempt Waits so far, a non-negative integer; 0 waits about `baseMs`,
 * 1 about 2 × `baseMs`, and so on.
 * @param baseMs The first delay, ms (finite, ≥ 0).
 * @param maxMs The longest delay, ms (finite, ≥ 0).
 * @param random Uniform source in [0, 1); `Math.random` unless given.
 * @returns The delay in whole milliseconds.
 * @throws {RangeError} When an argument is out of range.
 *
 * @example Reconnect delays starting at 100 ms, at most 5 s
 * ```ts
 * import { backoffDelay } from "./backoff.ts";
 * const middle = () => 0.5; // no jitter
 * console.log([0, 1, 2, 10].map((attempt) => backoffDelay(attempt, 100, 5_000, middle)));
 * // [100, 200, 400, 4500] — the last is capped, so its jitter only goes down
 * ```
 */
export function backoffDelay(
  attempt: number,
  baseMs: number,
  maxMs: number,
  random: () => number = Math.random,
): number {
  if (!Number.isSafeInteger(attempt) || attempt < 0) {
    throw new RangeError(
      `Cannot compute a backoff delay as 'attempt' must be a non-negative integer: ` +
        `current value is ${attempt}`,
    );
  }
  checkDuration("backoff delay", "baseMs", baseMs);
  checkDuration("backoff delay", "maxMs", maxMs);
  // 2 ** attempt reaches Infinity for huge attempts; Math.min brings it back to maxMs.
  const center = Math.min(baseMs * 2 ** attempt, maxMs);
  const low = center * (1 - BACKOFF_JITTER);
  const high = Math.min(center * (1 + BACKOFF_JITTER), maxMs);
  return Math.round(low + (high - low) * unit(random));
}

const BACKOFF_JITTER = 0.2;

/**
 * Spreads a timer delay by ±`fraction`: returns a value drawn uniformly from
 * `ms × (1 − fraction)` to `ms × (1 + fraction)`, rounded to whole milliseconds.
 * Used for the heartbeat and the scheduler poll so nodes do not tick in step.
 *
 * @param ms The nominal delay, ms (finite, ≥ 0).
 * @param fraction How far the delay may move either way, from 0 to 1; 0.1 (±10%)
 * unless given.
 * @param random Uniform source in [0, 1); `Math.random` unless given.
 * @returns The jittered delay in whole milliseconds.
 * @throws {RangeError} When `ms` or `fraction` is out of range.
 *
 * @example A 5 s poll spread by ±10%
 * ```ts
 * import { jitter } from "./backoff.ts";
 * const delay = jitter(5_000); // between 4500 and 5500
 * console.log(jitter(5_000, 0.1, () => 0)); // 4500
 * ```
 */
export function jitter(ms: number, fraction = 0.1, random: () => number = Math.random): number {
  checkDuration("jitter", "ms", ms);
  if (!(fraction >= 0 && fraction <= 1)) {
    throw new RangeError(
      `Cannot jitter a delay as 'fraction' must be between 0 and 1: current value is ${fraction}`,
    );
  }
  return Math.round(ms * (1 + fraction * (2 * unit(random) - 1)));
}

/** An integer drawn uniformly from `min` to `max` inclusive. */
function randomInteger(min: number, max: number, random: () => number): number {
  return min + Math.min(max - min, Math.floor(unit(random) * (max - min + 1)));
}

/** `random()` clamped to [0, 1], so a faulty source cannot push a delay out of its bounds. */
function unit(random: () => number): number {
  const value = random();
  return Number.isNaN(value) ? 0.5 : Math.min(1, Math.max(0, value));
}

function checkDuration(what: string, name: string, value: number): void {
  if (!Number.isFinite(value) || value < 0) {
    throw new RangeError(
      `Cannot compute a ${what} as '${name}' must be a finite number >= 0: current value is ${value}`,
    );
  }
}
