/**
 * Jobs made by the engine for admin tests: real failures (a Verk whose worker
 * throws) land in `retry` or `dead` with the payloads a node writes.
 */
import type { JobInput } from "../../mod.ts";
import { eventually } from "./redis.ts";
import { inspector, testVerk } from "./verk.ts";

/** The error the failing worker throws. */
export class Broken extends Error {
  override name = "Broken";
}

/**
 * Runs `jobs` on a node whose `Failing` worker always throws, and returns once
 * every one of them has failed into `retry` (or `dead`, for `maxRetryCount: 0`).
 * The node is stopped before this returns, so nothing moves them further.
 */
export async function failJobs(
  url: string,
  jobs: Partial<JobInput>[],
): Promise<string[]> {
  await using db = inspector(url);
  const before = await db.zcard("retry") + await db.zcard("dead");
  await using verk = testVerk(url, {
    queues: { default: 2 },
    workers: {
      Failing: {
        perform(): void {
          throw new Broken("always fails");
        },
      },
    },
  });
  const jids = await verk.enqueueMany(
    jobs.map((job) => ({ queue: "default", class: "Failing", args: [], ...job })),
  );
  await verk.start();
  await eventually(
    async () => await db.zcard("retry") + await db.zcard("dead") === before + jobs.length,
    {
      message: "jobs failed into retry/dead",
    },
  );
  return jids;
}
