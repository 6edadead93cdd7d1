/**
 * `deno task worker`: runs queues `default: 25, priority: 10` against
 * `VERK_REDIS_URL` (default redis://127.0.0.1:6379). Every `VERK_*` variable
 * overrides the options below. Stops gracefully on SIGINT and SIGTERM.
 */
import { configure, getConsoleSink } from "@logtape/logtape";
import { ConfigError, configFromEnv, Verk, Worker } from "../mod.ts";

/** The seed's worker: adds its two args. */
export const ExampleWorker = {
  perform(a: number, b: number): number {
    return a + b;
  },
};

/** Fails about one time in ten, to show retries; retries after 1, 2, 3 … s. */
export class FlakyWorker extends Worker<[number]> {
  perform(n: number): void {
    if (Math.random() < 0.1) {
      throw new Error(`flaky failure on job ${n} (attempt ${this.job.attempt})`);
    }
  }
  override retryAt(failedAt: Date, retryCount: number): Date {
    return new Date(failedAt.getTime() + retryCount * 1000);
  }
}

const logLevel = Deno.env.get("VERK_LOG_LEVEL") ?? "info";
await configure({
  sinks: { console: getConsoleSink() },
  loggers: [
    { category: ["verk"], lowestLevel: logLevel as "info", sinks: ["console"] },
    { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["console"] },
  ],
});

const verk = new Verk({
  queues: { default: 25, priority: 10 },
  workers: { ExampleWorker, FlakyWorker },
  ...configFromEnv(),
});
const stopped = verk.stopOnSignals();

// Optional probe endpoint for containers: GET / answers 200 when healthy, 503 otherwise.
const healthPort = Deno.env.get("VERK_HEALTH_PORT");
if (healthPort && !/^\d{1,5}$/.test(healthPort)) {
  throw new ConfigError(
    "VERK_HEALTH_PORT",
    `must be a port number: got ${JSON.stringify(healthPort)}`,
  );
}
const probe = healthPort
  ? Deno.serve({
    port: Number(healthPort),
    hostname: Deno.env.get("VERK_HEALTH_HOST") ?? "0.0.0.0",
  }, () => {
    const report = verk.health();
    return Response.json(report, { status: report.healthy ? 200 : 503 });
  })
  : undefined;

await verk.start();
await stopped;
await probe?.shutdown();
// Jobs that ignored their abort signal may still be running: their payloads are back on the
// queue already, so end the process rather than let them go on beside their next run.
Deno.exit(0);
