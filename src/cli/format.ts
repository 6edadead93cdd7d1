/**
 * Human output of `verk`: aligned tables, relative times ("3 min ago",
 * "in 2 h"), short cells. Pure functions; `--json` output does not pass here.
 * @module
 */
import { encodeJson, type JobPayload, jsonWithBigInts } from "../job.ts";

/** Longest cell in a table; longer text is cut with "…". */
const MAX_CELL = 48;

/** A cell cut to `max` characters (one line). */
export function short(text: string, max: number = MAX_CELL): string {
  const line = text.replace(/\s+/g, " ");
  return line.length <= max ? line : line.slice(0, max - 1) + "…";
}

/**
 * An aligned table: a header row, then one row per entry, columns separated by
 * two spaces. Columns whose cells are all numbers are right-aligned.
 */
export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  // Columns empty in every row (no errors in the schedule set …) are left out.
  const kept = headers.map((_, i) => rows.length === 0 || rows.some((row) => row[i]));
  headers = headers.filter((_, i) => kept[i]);
  const cells = rows.map((row) => row.filter((_, i) => kept[i]).map((cell) => short(cell)));
  const widths = headers.map((header, i) =>
    Math.max(header.length, ...cells.map((row) => row[i]?.length ?? 0))
  );
  const numeric = headers.map((_, i) =>
    cells.length > 0 && cells.every((row) => /^-?\d+(\.\d+)?$/.test(row[i] ?? ""))
  );
  const line = (row: readonly string[]) =>
    row.map((cell, i) => numeric[i] ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))
      .join("  ").trimEnd();
  return [line(headers), ...cells.map(line)].join("\n");
}

/** `time` relative to `nowMs`: "now", "12 s ago", "in 3 min", "2 h ago", "in 5 d"; "-" when unknown. */
export function relativeTime(time: Date | number | undefined, nowMs: number = Date.now()): string {
  const ms = time instanceof Date ? time.getTime() : time;
  if (ms === undefined || !Number.isFinite(ms)) return "-";
  const seconds = (ms - nowMs) / 1000;
  if (Math.abs(seconds) < 1) return "now";
  const span = duration(Math.abs(seconds));
  return seconds < 0 ? `${span} ago` : `in ${span}`;
}

/** `count` with its noun, singular or plural: "1 job", "3 jobs". */
export function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}

/** A length of time in seconds, in the largest unit that fits: "45 s", "3 min", "2 h", "6 d". */
export function duration(seconds: number): string {
  if (seconds < 60) return `${Math.floor(seconds)} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h`;
  return `${Math.floor(seconds / 86400)} d`;
}

/** A job's args as compact JSON (big integers exact). */
export function argsOf(job: JobPayload | undefined): string {
  if (!job) return "";
  try {
    return encodeJson(job.args);
  } catch {
    return String(job.args);
  }
}

/** `Class: message` of a failed job, or "". */
export function errorOf(job: JobPayload | undefined): string {
  if (!job?.error_class && !job?.error_message) return "";
  return `${job.error_class ?? "Error"}: ${job.error_message ?? ""}`;
}

/** `name  value` lines with the names padded to one width. */
export function fields(entries: readonly (readonly [string, string])[]): string {
  const width = Math.max(...entries.map(([name]) => name.length));
  return entries.map(([name, value]) => `${name.padEnd(width)}  ${value}`).join("\n");
}

/** One line of JSON for `--json`: dates as ISO strings, big integers exact. */
export const json = jsonWithBigInts;
