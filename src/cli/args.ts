/**
 * Command-line parsing for `verk`: flags anywhere among the positionals,
 * `--flag value` or `--flag=value`, and the checks whose failure is bad usage
 * (exit code 2).
 * @module
 */
import { queueNameError } from "../config.ts";

/** Bad usage: the message is shown with a pointer to `verk help`; exit code 2. */
export class UsageError extends Error {
  /** Creates the error with what was wrong. */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** The parsed command line. */
export interface Args {
  /** Positionals: the command and its arguments. */
  positionals: string[];
  /** `--redis-url` */
  redisUrl?: string;
  /** `--json` */
  json: boolean;
  /** `--yes` / `-y` */
  yes: boolean;
  /** `--help` / `-h` */
  help: boolean;
  /** `--page` */
  page?: number;
  /** `--page-size` */
  pageSize?: number;
  /** `--days` */
  days?: number;
  /** `--queue` */
  queue?: string;
  /** `--at` */
  at?: string;
}

const BOOLEAN_FLAGS = {
  "--json": "json",
  "--yes": "yes",
  "-y": "yes",
  "--help": "help",
  "-h": "help",
} as const;
const VALUE_FLAGS = ["--redis-url", "--page", "--page-size", "--days", "--queue", "--at"] as const;
type ValueFlag = (typeof VALUE_FLAGS)[number];

/** Parses `argv`; throws UsageError for an unknown flag or a missing or invalid value. */
export function parseArgs(argv: readonly string[]): Args {
  const args: Args = { positionals: [], json: false, yes: false, help: false };
  const values = new Map<ValueFlag, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      args.positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith("-") || arg === "-" || /^-\d/.test(arg)) {
      args.positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const name = eq === -1 ? arg : arg.slice(0, eq);
    if (name in BOOLEAN_FLAGS && eq === -1) {
      args[BOOLEAN_FLAGS[name as keyof typeof BOOLEAN_FLAGS]] = true;
    } else if ((VALUE_FLAGS as readonly string[]).includes(name)) {
      const value = eq === -1 ? argv[++i] : arg.slice(eq + 1);
      if (value === undefined) throw new UsageError(`${name} needs a value`);
      values.set(name as ValueFlag, value);
    } else {
      throw new UsageError(`unknown option ${arg}`);
    }
  }
  args.redisUrl = values.get("--redis-url");
  args.queue = values.get("--queue");
  args.at = values.get("--at");
  args.page = positiveInteger(values, "--page");
  args.pageSize = positiveInteger(values, "--page-size");
  args.days = positiveInteger(values, "--days");
  return args;
}

function positiveInteger(values: Map<ValueFlag, string>, flag: ValueFlag): number | undefined {
  const text = values.get(flag);
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text) || Number(text) < 1) {
    throw new UsageError(`${flag} must be a positive integer: got ${JSON.stringify(text)}`);
  }
  return Number(text);
}

/** Refuses positionals left over after a command took its own. */
export function noMoreArgs(extra: readonly string[]): void {
  if (extra.length > 0) throw new UsageError(`too many arguments: ${extra.join(" ")}`);
}

/** A queue name from the command line, checked by enqueue's rules. */
export function queueArg(name: string | undefined, what = "a queue name"): string {
  if (name === undefined) throw new UsageError(`missing ${what}`);
  const problem = queueNameError(name);
  if (problem !== undefined) throw new UsageError(problem);
  return name;
}

const DURATION = /^\+?(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|d)$/;
const UNIT_MS: Record<string, number> = {
  s: 1_000,
  sec: 1_000,
  m: 60_000,
  min: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/**
 * A time given to `--at`: an ISO 8601 date-time (`2026-12-03T10:00:00Z`), epoch
 * seconds or milliseconds (a number above 1e11 is milliseconds), or a delay
 * from now (`+30s`, `+5m`, `+2h`, `+1d`). Returns epoch ms.
 */
export function parseTime(text: string, nowMs: number = Date.now()): number {
  const delay = DURATION.exec(text.trim());
  if (delay) return nowMs + Number(delay[1]) * UNIT_MS[delay[2]!]!;
  if (/^\d+(\.\d+)?$/.test(text)) {
    const value = Number(text);
    return value > 1e11 ? value : value * 1000;
  }
  const ms = /^\d{4}-\d{2}-\d{2}/.test(text) ? Date.parse(text) : NaN;
  if (Number.isNaN(ms)) {
    throw new UsageError(
      `--at must be an ISO time, epoch seconds/ms or a delay like +30s, +5m, +2h, +1d: got ${
        JSON.stringify(text)
      }`,
    );
  }
  return ms;
}
