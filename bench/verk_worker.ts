/**
 * The Verk side of `deno task bench`, run as its own process (one worker
 * process, as a user would run it). Prints one JSON line with its result.
 *
 *   drain <concurrency> <jobs> [subscribed]   run until <jobs> no-op jobs are done
 *                                (with one subscriber reading every event)
 *   latency <jobs>               record enqueued_at → perform start for <jobs> jobs
 *   idle                         10 queues × 100 concurrency, report RSS after 2 s idle
 */
import { Redis } from "ioredis";
import { Verk } from "../mod.ts";
import { countCommands } from "./commands.ts";

const [mode = "drain", ...rest] = Deno.args;
const redisUrl = Deno.env.get("VERK_REDIS_URL")!;
const commands = countCommands(Redis.prototype);
const quiet = {
  startJobLogLevel: "trace",
  doneJobLogLevel: "trace",
  failJobLogLevel: "trace",
} as const;

if (mode === "drain") {
  const concurrency = Number(rest[0]);
  const count = Number(rest[1]);
  let done = 0;
  const all = Promise.withResolvers<void>();
  const verk = new Verk({
    ...quiet,
    redisUrl,
    queues: { bench: concurrency },
    workers: {
      Noop: {
        perform() {
          if (++done === count) all.resolve();
        },
      },
    },
  });
  // "subscribed": one subscriber reads every event, to measure what the event stream costs.
  let events = 0;
  const reading = rest[2] === "subscribed"
    ? (async () => {
      for await (const _event of verk.events()) events++;
    })()
    : undefined;
  const started = performance.now();
  await verk.start();
  await all.promise;
  const seconds = (performance.now() - started) / 1000;
  await verk.stop(); // flushes the last acks, ends the event stream
  await reading;
  if (reading && events < count) throw new Error(`the subscriber read only ${events} events`);
  console.log(JSON.stringify({ seconds, jobsPerSecond: count / seconds, commands: commands() }));
} else if (mode === "latency") {
  const count = Number(rest[0]);
  const latencies: number[] = [];
  const all = Promise.withResolvers<void>();
  const verk = new Verk({
    ...quiet,
    redisUrl,
    queues: { bench: 10 },
    workers: {
      Noop: {
        perform() {
          latencies.push(Date.now() - this.job.payload.enqueued_at! * 1000);
          if (latencies.length === count) all.resolve();
        },
      },
    },
  });
  await verk.start();
  console.log("ready");
  await all.promise;
  await verk.stop();
  console.log(JSON.stringify({ latencies }));
} else if (mode === "idle") {
  const queues = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`idle${i}`, 100]));
  const verk = new Verk({ ...quiet, redisUrl, queues });
  await verk.start();
  await new Promise((resolve) => setTimeout(resolve, 2_000));
  const rss = Deno.memoryUsage().rss;
  await verk.stop();
  console.log(JSON.stringify({ rssBytes: rss }));
} else {
  console.error(`unknown mode ${mode}`);
  Deno.exit(2);
}
