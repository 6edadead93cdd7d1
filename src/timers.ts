/**
 * Waiting with a way out: every wait in Verk's loops ends early on stop, and
 * every wait on Redis during shutdown has a deadline.
 * @module
 */

/** Waits `ms` or until `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done);
  });
}

/** Waits for `promise` or until `deadline` (epoch ms), whichever comes first. */
export async function untilDeadline(promise: Promise<unknown>, deadline: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    promise.catch(() => {}),
    new Promise<void>((resolve) => timer = setTimeout(resolve, Math.max(0, deadline - Date.now()))),
  ]);
  clearTimeout(timer);
}
