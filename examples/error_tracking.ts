/**
 * The seed's error-tracking handler, in Deno: subscribe to failures only and
 * report each one (here to the console; swap in Sentry, Honeybadger …).
 *
 *   deno run --allow-net --allow-env --allow-read=/proc --allow-sys=hostname examples/error_tracking.ts
 */
import { configFromEnv, Verk } from "../mod.ts";

/** Stand-in for an exception tracker's client. */
const MyTrackingExceptionSystem = {
  track({ name, stacktrace, attempt }: { name: string; stacktrace: string; attempt: number }) {
    console.log(`[tracked] ${name} (attempt ${attempt})\n${stacktrace}`);
  },
};

const verk = new Verk({
  queues: { default: 5 },
  workers: {
    Unreliable: {
      perform(n: number) {
        throw new Error(`job ${n} failed`);
      },
    },
  },
  ...configFromEnv(),
});

// One subscriber, filtered to JobFailed: other events never reach this stream.
const failures = verk.events(["JobFailed"]);
const tracking = (async () => {
  for await (const event of failures) {
    if (event.type !== "JobFailed") continue; // EventsDropped, if this reader ever falls behind
    MyTrackingExceptionSystem.track({
      name: event.job.class,
      stacktrace: event.error.stack ?? event.error.message,
      attempt: event.attempt,
    });
  }
})();

await verk.start();
await verk.enqueueMany(
  [1, 2, 3].map((n) => ({ queue: "default", class: "Unreliable", args: [n], retry: false })),
);
setTimeout(() => verk.stop(), 1_000);
await tracking; // the stream ends when the node stops
