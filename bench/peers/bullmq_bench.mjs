// The BullMQ side of `deno task bench`, run on Node against the same Redis.
// Prints one JSON line. Modes mirror bench/verk_worker.ts:
//   enqueue <jobs>              addBulk in batches of 1000 → jobs/s
//   drain <concurrency> <jobs>  one Worker drains a prefilled queue → jobs/s
//   latency <jobs>              jobs added one at a time at 200/s → enqueue-to-start latencies
import { Queue, Worker } from "bullmq";
import IORedis from "ioredis";

const [mode, ...rest] = process.argv.slice(2);
const url = new URL(process.env.VERK_REDIS_URL);
const connection = {
  host: url.hostname,
  port: Number(url.port),
  db: Number(url.pathname.slice(1) || 0),
};
const name = "bench";

let commands = 0;
const original = IORedis.prototype.sendCommand;
IORedis.prototype.sendCommand = function (...args) {
  commands++;
  return original.apply(this, args);
};

// No per-job events or retention work beyond what a lean production setup uses.
const jobOptions = { removeOnComplete: true, removeOnFail: true };

if (mode === "enqueue") {
  const count = Number(rest[0]);
  const queue = new Queue(name, { connection });
  await queue.waitUntilReady();
  const started = performance.now();
  for (let i = 0; i < count; i += 1000) {
    const batch = [];
    for (let j = i; j < Math.min(count, i + 1000); j++) {
      batch.push({ name: "noop", data: { n: j }, opts: jobOptions });
    }
    await queue.addBulk(batch);
  }
  const seconds = (performance.now() - started) / 1000;
  await queue.close();
  console.log(JSON.stringify({ seconds, jobsPerSecond: count / seconds }));
} else if (mode === "drain") {
  const concurrency = Number(rest[0]);
  const count = Number(rest[1]);
  let done = 0;
  let resolveAll;
  const all = new Promise((resolve) => (resolveAll = resolve));
  const started = performance.now();
  const worker = new Worker(name, () => {
    if (++done === count) resolveAll();
    return Promise.resolve();
  }, { connection, concurrency, autorun: true });
  await all;
  const seconds = (performance.now() - started) / 1000;
  await worker.close();
  console.log(JSON.stringify({ seconds, jobsPerSecond: count / seconds, commands }));
} else if (mode === "latency") {
  const count = Number(rest[0]);
  const latencies = [];
  let resolveAll;
  const all = new Promise((resolve) => (resolveAll = resolve));
  const worker = new Worker(name, (job) => {
    latencies.push(Date.now() - job.timestamp);
    if (latencies.length === count) resolveAll();
    return Promise.resolve();
  }, { connection, concurrency: 10 });
  await worker.waitUntilReady();
  const queue = new Queue(name, { connection });
  await queue.waitUntilReady();
  const started = performance.now();
  for (let i = 0; i < count; i++) {
    const due = started + i * 5;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    await queue.add("noop", { n: i }, jobOptions);
  }
  await all;
  await worker.close();
  await queue.close();
  console.log(JSON.stringify({ latencies }));
} else {
  console.error(`unknown mode ${mode}`);
  process.exit(2);
}
