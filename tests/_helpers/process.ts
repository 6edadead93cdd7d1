/** Child worker processes for crash tests: spawn, wait for output, kill for real. */

/** A running child with its collected output. */
export interface ChildWorker extends AsyncDisposable {
  process: Deno.ChildProcess;
  /** Everything printed so far (stdout and stderr). */
  output(): string;
  /** Resolves when the output contains `text`; rejects when the process exits first or after `timeoutMs`. */
  waitFor(text: string, timeoutMs?: number): Promise<void>;
  /** Resolves with the exit status. */
  status: Promise<Deno.CommandStatus>;
}

/**
 * Starts a Deno script with `env` added to the environment: `tests/fixtures/<script>`
 * when given a name, or any module given as a URL.
 */
export function spawnChild(
  script: string | URL,
  env: Record<string, string>,
  args: readonly string[] = [],
): ChildWorker {
  const module = script instanceof URL ? script : new URL(`../fixtures/${script}`, import.meta.url);
  return spawnProcess(Deno.execPath(), ["run", "-A", module.pathname, ...args], env);
}

/** Starts any program with `env` added to the environment, collecting its output. */
export function spawnProcess(
  command: string,
  args: readonly string[],
  env: Record<string, string>,
): ChildWorker {
  const process = new Deno.Command(command, {
    args: [...args],
    env: { NO_COLOR: "1", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let text = "";
  const listeners = new Set<() => void>();
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      text += chunk;
      for (const listener of listeners) listener();
    }
  };
  const pumps = Promise.all([pump(process.stdout), pump(process.stderr)]);
  const status = pumps.then(() => process.status);
  let exited = false;
  status.then(() => {
    exited = true;
    for (const listener of listeners) listener();
  });
  return {
    process,
    status,
    output: () => text,
    waitFor(wanted, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => finish(new Error(`no "${wanted}" within ${timeoutMs} ms:\n${text}`)),
          timeoutMs,
        );
        const check = () => {
          if (text.includes(wanted)) finish();
          else if (exited) finish(new Error(`exited before printing "${wanted}":\n${text}`));
        };
        const finish = (error?: Error) => {
          clearTimeout(timer);
          listeners.delete(check);
          if (error) reject(error);
          else resolve();
        };
        listeners.add(check);
        check();
      });
    },
    async [Symbol.asyncDispose]() {
      if (!exited) {
        try {
          process.kill("SIGKILL");
        } catch { /* already gone */ }
      }
      await status;
    },
  };
}
