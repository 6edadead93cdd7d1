/**
 * `verk`: inspect and repair a Verk (or Sidekiq) Redis from the command line.
 *
 * ```sh
 * deno run --allow-net --allow-env jsr:@verk/verk/cli stats
 * deno run --allow-net --allow-env jsr:@verk/verk/cli dead retry-all --yes
 * ```
 *
 * Uses `--redis-url`, else `VERK_REDIS_URL`, else `redis://127.0.0.1:6379`.
 * Exit codes: 0 success, 1 the operation failed, 2 bad usage. Destructive
 * commands (`clear`, `retry-all`) ask on a terminal and need `--yes` otherwise.
 * This is the one library module that configures LogTape (warnings to stderr).
 * @module
 */
import { logToConsole } from "./log.ts";
import { AdminError, ConfigError, JobValidationError } from "./errors.ts";
import { parseArgs, UsageError } from "./cli/args.ts";
import { enqueue, nodes, pause, queue, queues, stats } from "./cli/commands.ts";
import { Context } from "./cli/context.ts";
import { SET_COMMANDS, setCommand } from "./cli/sets.ts";

/** The help text. */
export const USAGE = `Usage: verk [options] <command>

Commands:
  stats [--days N]                          totals, queues and the last N days (default 7)
  queues                                    queues with size, latency and pause state
  queue <name> [--page N]                   jobs waiting in a queue, newest first
  queue <name> clear                        delete every job of a queue
  retries|scheduled|dead [list] [--page N]  jobs in the retry, schedule or dead set
  retries|scheduled|dead show <jid>         one job in full, with its backtrace
  retries|scheduled|dead run <jid>          enqueue now (a manual retry uses up no attempt)
  retries|scheduled|dead delete <jid>       delete one job
  retries|scheduled kill <jid>              move one job to the dead set
  retries|scheduled|dead retry-all          enqueue every job now
  retries|scheduled|dead clear              delete every job
  enqueue <class> [args-json] --queue <q> [--at <time>]
                                            push a job; --at takes an ISO time, epoch s/ms
                                            or a delay (+30s, +5m, +2h, +1d)
  pause <queue>, resume <queue>             pause or resume a queue on every node
  nodes                                     Verk nodes and Sidekiq processes
  nodes recover <node-id> [--queue q]       put a dead node's in-progress jobs back

Options:
  --redis-url <url>  Redis to use (default: $VERK_REDIS_URL, else redis://127.0.0.1:6379)
  --json             print JSON (one line) instead of tables
  --yes, -y          do not ask before clear or retry-all (needed when stdin is not a terminal)
  --page-size <n>    entries per page (default 25, at most 1000)
  --help, -h         show this help

Exit codes: 0 success, 1 the operation failed, 2 bad usage.`;

/**
 * Runs one `verk` command line and returns its exit code. Prints to stdout and
 * stderr; never exits the process itself.
 *
 * @example
 * ```ts
 * import { main } from "@verk/verk/cli";
 * const code = await main(["queues", "--json"]);
 * ```
 */
export async function main(
  argv: readonly string[],
  env: { redisUrl?: string; interactive?: boolean } = {},
): Promise<number> {
  try {
    const args = parseArgs(argv);
    const command = args.positionals[0];
    if (args.help || command === "help") {
      console.log(USAGE);
      return 0;
    }
    if (command === undefined) {
      console.error(USAGE);
      return 2;
    }
    const redisUrl = args.redisUrl ?? env.redisUrl ?? "redis://127.0.0.1:6379";
    await using ctx = new Context(args, redisUrl, env.interactive ?? false);
    return await run(ctx, command);
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`verk: ${error.message}\nRun "verk help" for usage.`);
      return 2;
    }
    // Arguments the API refused (a bad page, jid, day count …) are bad usage too.
    if (
      error instanceof ConfigError || error instanceof JobValidationError || isArgumentError(error)
    ) {
      console.error(`verk: ${(error as Error).message}`);
      return 2;
    }
    console.error(`verk: ${describe(error)}`);
    return 1;
  }
}

/** An AdminError about an argument (not about the state of Redis, like a live node). */
function isArgumentError(error: unknown): boolean {
  return error instanceof AdminError &&
    ["page", "pageSize", "jid", "days", "queue", "nodeId", "until"].includes(error.field);
}

/** An error's message, with its cause's (the connection error behind RedisUnavailableError). */
function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  return error.cause instanceof Error ? `${error.message} (${error.cause.message})` : error.message;
}

function run(ctx: Context, command: string): Promise<number> {
  if (command in SET_COMMANDS) return setCommand(ctx, command);
  switch (command) {
    case "stats":
      return stats(ctx);
    case "queues":
      return queues(ctx);
    case "queue":
      return queue(ctx);
    case "enqueue":
      return enqueue(ctx);
    case "pause":
      return pause(ctx, true);
    case "resume":
      return pause(ctx, false);
    case "nodes":
      return nodes(ctx);
    default:
      throw new UsageError(`unknown command ${JSON.stringify(command)}`);
  }
}

if (import.meta.main) {
  await logToConsole("warning");
  Deno.exit(
    await main(Deno.args, {
      redisUrl: Deno.env.get("VERK_REDIS_URL") || undefined,
      interactive: Deno.stdin.isTerminal(),
    }),
  );
}
