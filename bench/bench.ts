/**
 * `deno task bench`: Verk for Deno and BullMQ side by side, on one throwaway
 * redis-server started here, in the same run. Not part of the test suite.
 *
 * Workloads (no-op jobs): (a) bulk enqueue of 100,000 jobs; (b) drain of a
 * prefilled queue of 100,000 jobs by one worker process at concurrency 10, 25
 * and 100; (c) pickup latency of 1,000 jobs enqueued one at a time at 200/s
 * into an idle worker; (d) commands sent and Redis CPU per job during (b);
 * (e) worker RSS at idle with 10 queues × 100 concurrency (Verk only).
 *
 * Prints a table and writes bench/results/latest.json.
 */
import { Verk } from "../mod.ts";
import { type ChildWorker, spawnChild, spawnProcess } from "../tests/_helpers/process.ts";
import { startRedis, type TestRedis } from "../tests/_helpers/redis.ts";

const JOBS = Number(Deno.env.get("BENCH_JOBS") ?? 100_000);
const LATENCY_JOBS = 1_000;
const CONCURRENCIES = [10, 25, 100];
const peersDir = new URL("./peers/", import.meta.url).pathname;

interface DrainResult {
  concurrency: number;
  jobsPerSecond: number;
  commandsPerJob: number;
  redisCpuMicrosPerJob: number;
}

interface SystemResult {
  enqueueJobsPerSecond: number;
  drain: DrainResult[];
  latencyMs: { p50: number; p99: number; max: number };
  idleRssMiB?: number;
  /** Drain at concurrency 100 with one subscriber reading every event (Verk only). */
  subscribedDrainJobsPerSecond?: number;
}

async function lastJsonLine<T>(child: ChildWorker): Promise<T> {
  const status = await child.status;
  const lines = child.output().trim().split("\n");
  if (!status.success) throw new Error(`bench child failed (${status.code}):\n${child.output()}`);
  return JSON.parse(lines[lines.length - 1]!) as T;
}

async function redisCpuSeconds(redis: TestRedis): Promise<number> {
  const info = String(await redis.command("INFO", "cpu"));
  const field = (name: string) => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)?.[1] ?? 0);
  return field("used_cpu_user") + field("used_cpu_sys");
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function summarize(latencies: number[]): SystemResult["latencyMs"] {
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: sorted[sorted.length - 1]!,
  };
}

type Runner = {
  enqueue(count: number): Promise<number>;
  drainChild(concurrency: number, count: number): ChildWorker;
  latency(count: number): Promise<number[]>;
};

function verkRunner(url: string): Runner {
  const env = { VERK_REDIS_URL: url };
  const worker = new URL("./verk_worker.ts", import.meta.url);
  return {
    async enqueue(count) {
      await using verk = new Verk({ redisUrl: url });
      const jobs = Array.from(
        { length: count },
        () => ({ queue: "bench", class: "Noop", args: [] }),
      );
      const started = performance.now();
      await verk.enqueueMany(jobs);
      return count / ((performance.now() - started) / 1000);
    },
    drainChild: (concurrency, count) =>
      spawnChild(worker, env, ["drain", String(concurrency), String(count)]),
    async latency(count) {
      const child = spawnChild(worker, env, ["latency", String(count)]);
      await child.waitFor("ready");
      await using verk = new Verk({ redisUrl: url });
      const started = performance.now();
      for (let i = 0; i < count; i++) {
        const wait = started + i * 5 - performance.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        await verk.enqueue({ queue: "bench", class: "Noop", args: [i] });
      }
      return (await lastJsonLine<{ latencies: number[] }>(child)).latencies;
    },
  };
}

function bullmqRunner(url: string): Runner {
  const env = { VERK_REDIS_URL: url };
  const script = `${peersDir}bullmq_bench.mjs`;
  const node = (args: string[]) => spawnProcess("node", [script, ...args], env);
  return {
    async enqueue(count) {
      return (await lastJsonLine<{ jobsPerSecond: number }>(node(["enqueue", String(count)])))
        .jobsPerSecond;
    },
    drainChild: (concurrency, count) => node(["drain", String(concurrency), String(count)]),
    async latency(count) {
      return (await lastJsonLine<{ latencies: number[] }>(node(["latency", String(count)])))
        .latencies;
    },
  };
}

async function measure(name: string, runner: Runner, redis: TestRedis): Promise<SystemResult> {
  console.error(`${name}: bulk enqueue of ${JOBS} jobs`);
  await redis.command("FLUSHDB");
  const enqueueJobsPerSecond = await runner.enqueue(JOBS);
  const drain: DrainResult[] = [];
  for (const concurrency of CONCURRENCIES) {
    console.error(`${name}: drain at concurrency ${concurrency}`);
    await redis.command("FLUSHDB");
    await runner.enqueue(JOBS);
    const cpuBefore = await redisCpuSeconds(redis);
    const result = await lastJsonLine<{ jobsPerSecond: number; commands: number }>(
      runner.drainChild(concurrency, JOBS),
    );
    const cpu = (await redisCpuSeconds(redis)) - cpuBefore;
    drain.push({
      concurrency,
      jobsPerSecond: result.jobsPerSecond,
      commandsPerJob: result.commands / JOBS,
      redisCpuMicrosPerJob: (cpu * 1e6) / JOBS,
    });
  }
  console.error(`${name}: pickup latency, ${LATENCY_JOBS} jobs at 200/s`);
  await redis.command("FLUSHDB");
  const latencyMs = summarize(await runner.latency(LATENCY_JOBS));
  return { enqueueJobsPerSecond, drain, latencyMs };
}

async function ensurePeersInstalled(): Promise<void> {
  try {
    await Deno.stat(`${peersDir}node_modules/bullmq`);
  } catch {
    console.error("installing BullMQ into bench/peers (npm install)");
    const { success } = await new Deno.Command("npm", {
      args: ["install", "--no-audit", "--no-fund", "--prefix", peersDir],
      stdout: "inherit",
      stderr: "inherit",
    }).output();
    if (!success) throw new Error("npm install in bench/peers failed");
  }
}

function table(verk: SystemResult, bull: SystemResult): string {
  const k = (n: number) => `${(n / 1000).toFixed(1)}k`;
  const rows: string[][] = [["workload", "Verk for Deno", "BullMQ 6.7.6", "ratio"]];
  rows.push([
    "bulk enqueue, jobs/s",
    k(verk.enqueueJobsPerSecond),
    k(bull.enqueueJobsPerSecond),
    `${(verk.enqueueJobsPerSecond / bull.enqueueJobsPerSecond).toFixed(1)}×`,
  ]);
  for (const [i, v] of verk.drain.entries()) {
    const b = bull.drain[i]!;
    rows.push([
      `drain c=${v.concurrency}, jobs/s`,
      k(v.jobsPerSecond),
      k(b.jobsPerSecond),
      `${(v.jobsPerSecond / b.jobsPerSecond).toFixed(1)}×`,
    ]);
    rows.push([
      `  commands/job (c=${v.concurrency})`,
      v.commandsPerJob.toFixed(2),
      b.commandsPerJob.toFixed(2),
      "",
    ]);
    rows.push([
      `  Redis CPU µs/job (c=${v.concurrency})`,
      v.redisCpuMicrosPerJob.toFixed(1),
      b.redisCpuMicrosPerJob.toFixed(1),
      "",
    ]);
  }
  rows.push([
    "drain c=100 + event subscriber, jobs/s",
    k(verk.subscribedDrainJobsPerSecond ?? 0),
    "",
    "",
  ]);
  rows.push(["pickup latency p50, ms", String(verk.latencyMs.p50), String(bull.latencyMs.p50), ""]);
  rows.push(["pickup latency p99, ms", String(verk.latencyMs.p99), String(bull.latencyMs.p99), ""]);
  rows.push(["idle RSS, 10 queues × 100, MiB", verk.idleRssMiB?.toFixed(0) ?? "", "", ""]);
  const widths = rows[0]!.map((_, col) => Math.max(...rows.map((row) => row[col]!.length)));
  const line = (row: string[]) =>
    `| ${row.map((cell, col) => cell.padEnd(widths[col]!)).join(" | ")} |`;
  return [
    line(rows[0]!),
    `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`,
    ...rows.slice(1).map(line),
  ].join("\n");
}

if (import.meta.main) {
  await ensurePeersInstalled();
  await using redis = await startRedis();
  const verk = await measure("verk", verkRunner(redis.url), redis);
  await redis.command("FLUSHDB");
  const idle = await lastJsonLine<{ rssBytes: number }>(
    spawnChild(new URL("./verk_worker.ts", import.meta.url), { VERK_REDIS_URL: redis.url }, [
      "idle",
    ]),
  );
  verk.idleRssMiB = idle.rssBytes / 2 ** 20;
  console.error("verk: drain at concurrency 100 with an event subscriber");
  await redis.command("FLUSHDB");
  await verkRunner(redis.url).enqueue(JOBS);
  const subscribed = await lastJsonLine<{ jobsPerSecond: number }>(
    spawnChild(new URL("./verk_worker.ts", import.meta.url), { VERK_REDIS_URL: redis.url }, [
      "drain",
      "100",
      String(JOBS),
      "subscribed",
    ]),
  );
  verk.subscribedDrainJobsPerSecond = subscribed.jobsPerSecond;
  const bullmq = await measure("bullmq", bullmqRunner(redis.url), redis);
  const machine = {
    cpus: navigator.hardwareConcurrency,
    deno: Deno.version.deno,
    redis: /redis_version:(\S+)/.exec(String(await redis.command("INFO", "server")))?.[1],
    date: new Date().toISOString(),
    jobs: JOBS,
  };
  const results = { machine, verk, bullmq };
  await Deno.mkdir(new URL("./results/", import.meta.url), { recursive: true });
  await Deno.writeTextFile(
    new URL("./results/latest.json", import.meta.url),
    JSON.stringify(results, null, 2) + "\n",
  );
  console.log(table(verk, bullmq));
  console.log(
    `\n${machine.cpus} cores, Deno ${machine.deno}, Redis ${machine.redis}, ${JOBS} jobs per workload`,
  );
}
