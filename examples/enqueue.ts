/**
 * `deno task enqueue [N]`: pushes N jobs (default 1000) into `default`, half
 * for ExampleWorker and half for FlakyWorker, and reports the rate.
 */
import { configFromEnv, type JobInput, Verk } from "../mod.ts";

const count = Number(Deno.args[0] ?? 1000);
if (!Number.isInteger(count) || count < 1) {
  console.error(`usage: deno task enqueue [N]  (N a positive integer, got ${Deno.args[0]})`);
  Deno.exit(2);
}
const { redisUrl } = configFromEnv();
const verk = new Verk({ redisUrl });
const jobs: JobInput[] = Array.from(
  { length: count },
  (_, i) =>
    i % 2 === 0
      ? { queue: "default", class: "ExampleWorker", args: [i, 1] }
      : { queue: "default", class: "FlakyWorker", args: [i] },
);
const started = performance.now();
await verk.enqueueMany(jobs);
const seconds = (performance.now() - started) / 1000;
console.log(
  `enqueued ${count} jobs in ${seconds.toFixed(3)} s (${Math.round(count / seconds)} jobs/s)`,
);
await verk.stop();
