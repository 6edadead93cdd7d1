/**
 * Logging helpers over LogTape. The library only logs under `["verk", …]`;
 * the application (or `deno task worker`) decides sinks and levels.
 * @module
 */
import { configure, getConsoleSink, getLogger, type Logger } from "@logtape/logtape";
import type { LogLevel } from "./config.ts";

/** The logger for one part of Verk, e.g. `loggerFor("queue")` → `["verk", "queue"]`. */
export function loggerFor(part: string): Logger {
  return getLogger(["verk", part]);
}

/** Logs `message` at a level chosen by configuration, skipping the work when it is off. */
export function logAt(
  logger: Logger,
  level: LogLevel,
  message: string,
  properties?: Record<string, unknown>,
): void {
  if (!logger.isEnabledFor(level)) return;
  logger[level](message, properties);
}

/** The message of anything thrown. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Sends Verk's logs at `level` and above to the console. For the command-line
 * entry points (CLI, web server, example worker) only: a library leaves sinks
 * to the application.
 */
export async function logToConsole(level: LogLevel): Promise<void> {
  await configure({
    sinks: { console: getConsoleSink() },
    loggers: [
      { category: ["verk"], lowestLevel: level, sinks: ["console"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["console"] },
    ],
  });
}
