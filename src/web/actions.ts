/**
 * What the dashboard's POSTs do. Each one goes through the admin API (or the
 * producer's pause/resume) and answers with where to go next, carrying a
 * flash code (`done`, `n`, `missed`) that layout.ts turns into a fixed
 * message: nothing from the request is echoed into the page.
 *
 * Moves are atomic in the admin API, so a job that someone else (or the
 * scheduler) moved first is counted as `missed`, never acted on twice.
 * @module
 */
import type { Admin } from "../admin/admin.ts";
import { AdminError } from "../errors.ts";
import type { SetKind } from "./pages/sets.ts";

/** A POST's answer: go to `location`, or refuse with a status and message. */
export type Outcome = { location: string } | { status: 400 | 404; message: string };

/** Selected jobs per request at most (a page holds 25). */
const MAX_SELECTED = 1_000;

import { checkQueue } from "../admin/entry.ts";

/** Pauses or resumes a queue on every node. */
export type PauseQueue = (queue: string, paused: boolean) => Promise<void>;

const FLASH_OF = {
  run: "run",
  delete: "deleted",
  kill: "killed",
  "run-all": "run-all",
  clear: "cleared",
} as const;

function done(path: string, code: string, n: number, missed = 0, page?: string): Outcome {
  const query = new URLSearchParams();
  if (page !== undefined && /^\d+$/.test(page) && page !== "1") query.set("page", page);
  query.set("done", code);
  query.set("n", String(n));
  if (missed > 0) query.set("missed", String(missed));
  return { location: `${path}?${query}` };
}

function text(form: FormData, name: string): string | undefined {
  const value = form.get(name);
  return typeof value === "string" ? value : undefined;
}

function confirmed(form: FormData): boolean {
  return text(form, "confirm") === "yes";
}

const NOT_CONFIRMED: Outcome = {
  status: 400,
  message: "This action needs confirmation: use the button under the question.",
};

/** POST /retries, /scheduled, /dead: an action on the selected jobs, or on all. */
export async function setAction(
  admin: Admin,
  kind: SetKind,
  form: FormData,
  base: string,
): Promise<Outcome> {
  const set = admin.set(kind.name);
  const path = `${base}/${kind.path}`;
  const action = text(form, "action");
  const page = text(form, "page");
  if (action === "run-all" || action === "clear") {
    if (!confirmed(form)) return NOT_CONFIRMED;
    const n = action === "run-all" ? await set.retryAll() : await set.clear();
    return done(path, FLASH_OF[action], n);
  }
  if (!isJobAction(kind, action)) {
    return { status: 400, message: `Unknown action for ${kind.label}.` };
  }
  const jids = [
    ...new Set(form.getAll("jid").filter((v): v is string => typeof v === "string" && v !== "")),
  ];
  if (jids.length === 0) return done(path, "none", 0, 0, page);
  if (jids.length > MAX_SELECTED) {
    return { status: 400, message: `Select at most ${MAX_SELECTED} jobs at once.` };
  }
  let n = 0;
  for (const jid of jids) if (await act(admin, kind, action, jid)) n++;
  return done(path, FLASH_OF[action], n, jids.length - n, page);
}

/** POST /retries/:jid …: an action on one job, then back to the list. */
export async function setJobAction(
  admin: Admin,
  kind: SetKind,
  jid: string,
  form: FormData,
  base: string,
): Promise<Outcome> {
  const action = text(form, "action");
  if (!isJobAction(kind, action)) {
    return { status: 400, message: `Unknown action for ${kind.label}.` };
  }
  const ok = await act(admin, kind, action, jid);
  return done(`${base}/${kind.path}`, FLASH_OF[action], ok ? 1 : 0, ok ? 0 : 1);
}

function isJobAction(
  kind: SetKind,
  action: string | undefined,
): action is "run" | "delete" | "kill" {
  return kind.actions.some(([value]) => value === action);
}

/** One action on one job; false when it was not there (any more) or cannot run. */
async function act(
  admin: Admin,
  kind: SetKind,
  action: "run" | "delete" | "kill",
  jid: string,
): Promise<boolean> {
  const set = admin.set(kind.name);
  try {
    if (action === "run") return await set.runNow(jid);
    if (action === "kill") return await set.kill(jid);
    return await set.delete(jid);
  } catch (error) {
    // A job without a queue cannot run now: it stays, counted as missed.
    if (error instanceof AdminError && error.field === "job") return false;
    throw error;
  }
}

/** POST /queues/:name/pause|resume|clear */
export async function queueAction(
  admin: Admin,
  pause: PauseQueue,
  queue: string,
  action: string,
  form: FormData,
  base: string,
): Promise<Outcome> {
  const path = `${base}/queues/${encodeURIComponent(queue)}`;
  if (action === "pause" || action === "resume") {
    checkQueue(queue); // a bad name is the request's fault (400), not the server's
    await pause(queue, action === "pause");
    return done(path, action === "pause" ? "paused" : "resumed", 0);
  }
  if (!confirmed(form)) return NOT_CONFIRMED;
  return done(path, "cleared", await admin.queues.clear(queue));
}

/** POST /queues/:name/jobs/:jid/delete */
export async function queueJobDelete(
  admin: Admin,
  queue: string,
  jid: string,
  base: string,
): Promise<Outcome> {
  const entry = await admin.queues.find(queue, jid);
  const ok = entry !== undefined && await admin.queues.delete(queue, entry);
  return done(`${base}/queues/${encodeURIComponent(queue)}`, "deleted", ok ? 1 : 0, ok ? 0 : 1);
}

/** POST /busy/nodes/:id/recover */
export async function recoverNode(admin: Admin, nodeId: string, base: string): Promise<Outcome> {
  return done(`${base}/busy`, "recovered", await admin.nodes.recover(nodeId));
}
