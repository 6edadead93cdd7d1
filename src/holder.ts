/**
 * Who holds a node id: the liveness value `<hostname>:<pid>:<token>` in
 * `verk:node:<id>`, and whether that holder can be shown to be gone (same
 * machine, pid not running). Used by the node at start and by the admin API.
 * @module
 */

/** A random hex string of `bytes` bytes. */
export function randomHex(bytes: number): string {
  const data = crypto.getRandomValues(new Uint8Array(bytes));
  return Array.from(data, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** The parts of a liveness value. */
export interface Holder {
  hostname: string;
  pid: number;
  token: string;
}

/** Splits `<hostname>:<pid>:<token>` (the hostname may itself hold colons). */
export function parseHolder(value: string): Holder | undefined {
  const match = /^(.*):(\d+):([^:]*)$/.exec(value);
  if (!match) return undefined;
  return { hostname: match[1]!, pid: Number(match[2]), token: match[3]! };
}

let cachedHostname: string | undefined;

/**
 * This machine's name, read on first use (so importing Verk needs no
 * permission). Without `--allow-sys=hostname` a random name stands in: every
 * other process then counts as "another host", whose id is waited out rather
 * than taken over.
 */
export function hostname(): string {
  if (cachedHostname === undefined) {
    try {
      cachedHostname = Deno.hostname();
    } catch {
      cachedHostname = `unknown-host-${randomHex(4)}`;
    }
  }
  return cachedHostname;
}

/**
 * Whether a process with this pid runs on this machine: read from /proc
 * (Linux). "unknown" where that is not possible (no `--allow-read=/proc`, not
 * Linux): the id is then waited out, never taken from a process that might be
 * alive.
 */
export function processState(pid: number): "running" | "gone" | "unknown" {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // The state follows the parenthesised command name; Z (zombie) and X (dead) have exited.
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state === "Z" || state === "X" ? "gone" : "running";
  } catch (error) {
    return error instanceof Deno.errors.NotFound ? "gone" : "unknown";
  }
}

/** Whether `value` names a process on this machine that is not running any more. */
export function holderIsGone(value: string): boolean {
  const holder = parseHolder(value);
  return holder !== undefined && holder.hostname === hostname() && holder.pid !== Deno.pid &&
    processState(holder.pid) === "gone";
}
