/**
 * Verk Stats in Deno: job metrics from the event stream, tagged with worker
 * class and queue — starts, successes with run time and total time since
 * enqueue, failures with time to failure — printed every 5 s. Swap the printer
 * for Prometheus, StatsD or OpenTelemetry.
 *
 *   VERK_QUEUES=default:25 deno run --allow-net --allow-env --allow-read=/proc --allow-sys=hostname examples/metrics.ts
 */
import { configFromEnv, Verk } from "../mod.ts";

interface Series {
  started: number;
  finished: number;
  failed: number;
  runMs: number;
  totalMs: number;
}

const series = new Map<string, Series>();
function seriesOf(className: string, queue: string): Series {
  const key = `class=${className} queue=${queue}`;
  let entry = series.get(key);
  if (!entry) series.set(key, entry = { started: 0, finished: 0, failed: 0, runMs: 0, totalMs: 0 });
  return entry;
}

const verk = new Verk({
  queues: { default: 25 },
  workers: {
    ExampleWorker: {
      perform(a: number, b: number) {
        if (Math.random() < 0.05) throw new Error("an occasional failure");
        return a + b;
      },
    },
  },
  ...configFromEnv(),
});

const collecting = (async () => {
  for await (
    const event of verk.events(["JobStarted", "JobFinished", "JobFailed"], { bufferSize: 10_000 })
  ) {
    switch (event.type) {
      case "JobStarted":
        seriesOf(event.job.class, event.queue).started++;
        break;
      case "JobFinished": {
        const entry = seriesOf(event.job.class, event.queue);
        entry.finished++;
        entry.runMs += event.durationMs;
        entry.totalMs += event.latencyMs;
        break;
      }
      case "JobFailed":
        seriesOf(event.job.class, event.queue).failed++;
        break;
    }
  }
})();

const report = setInterval(() => {
  for (const [key, s] of series) {
    const mean = (total: number) => s.finished ? (total / s.finished).toFixed(2) : "-";
    console.log(
      `${key} started=${s.started} finished=${s.finished} failed=${s.failed} ` +
        `mean_run_ms=${mean(s.runMs)} mean_total_ms=${mean(s.totalMs)}`,
    );
  }
}, 5_000);

const stopped = verk.stopOnSignals();
await verk.start();
await verk.enqueueMany(
  Array.from(
    { length: 1_000 },
    (_, i) => ({ queue: "default", class: "ExampleWorker", args: [i, 1] }),
  ),
);
await stopped;
clearInterval(report);
await collecting; // the stream ends when the node stops
