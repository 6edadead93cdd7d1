/**
 * The Retries, Scheduled and Dead pages: a paged list with checkboxes, actions
 * on the selected jobs, "all" actions behind a confirmation, and each job's
 * page. Actions are POSTed to the list's own path (see actions.ts).
 * @module
 */
import type { Admin } from "../../admin/admin.ts";
import type { SetEntry } from "../../admin/entry.ts";
import type { JobSetName } from "../../admin/job_sets.ts";
import { argsOf, errorOf, short } from "../../cli/format.ts";
import { type Html, markup, timeTag } from "../html.ts";
import {
  type Column,
  confirmForm,
  csrfField,
  empty,
  href,
  page,
  pager,
  postForm,
  type Section,
  table,
  type View,
} from "../layout.ts";
import { jobPage } from "./job.ts";
import { pageParam } from "./queues.ts";

/** A set page's path segment, its Redis set, and its words. */
export interface SetKind {
  path: "retries" | "scheduled" | "dead";
  name: JobSetName;
  title: string;
  /** "the retry set" */
  label: string;
  /** The column of the set's time. */
  when: string;
  empty: string;
  /** Actions on selected jobs: form value and button label. */
  actions: [action: "run" | "delete" | "kill", label: string][];
  /** Label of the "run every job now" action. */
  runAll: string;
  /** Whether the list shows error columns. */
  errors: boolean;
}

/** The three sets, by path segment. */
export const SETS: Record<string, SetKind> = {
  retries: {
    path: "retries",
    name: "retry",
    title: "Retries",
    label: "the retry set",
    when: "Next retry",
    empty: "No retries: no job is waiting to be retried.",
    actions: [["run", "Retry now"], ["delete", "Delete"], ["kill", "Kill"]],
    runAll: "Retry all…",
    errors: true,
  },
  scheduled: {
    path: "scheduled",
    name: "schedule",
    title: "Scheduled",
    label: "the schedule set",
    when: "Runs",
    empty: "No scheduled jobs.",
    actions: [["run", "Enqueue now"], ["delete", "Delete"]],
    runAll: "Enqueue all…",
    errors: false,
  },
  dead: {
    path: "dead",
    name: "dead",
    title: "Dead",
    label: "the dead set",
    when: "Died",
    empty: "No dead jobs.",
    actions: [["run", "Retry now"], ["delete", "Delete"]],
    runAll: "Retry all…",
    errors: true,
  },
};

/** GET /retries, /scheduled, /dead */
export async function setPage(view: View, admin: Admin, kind: SetKind): Promise<Html> {
  const list = await admin.set(kind.name).page({ page: pageParam(view.url) });
  const section = `/${kind.path}` as Section;
  if (list.total === 0) return page(view, { title: kind.title, section, body: empty(kind.empty) });
  const action = `/${kind.path}`;
  const columns: Column[] = [
    ...(view.readOnly ? [] : [{
      label:
        markup`<input type="checkbox" data-select-all aria-label="Select every job on this page">`,
    }]),
    { label: "JID", sort: "text" },
    { label: "Class", sort: "text" },
    { label: "Args", class: "hide-sm" },
    { label: "Queue", sort: "text" },
    ...(kind.errors ? [{ label: "Retry count", sort: "num", class: "num hide-sm" } as const] : []),
    { label: kind.when, sort: "num" },
    ...(kind.errors ? [{ label: "Error", class: "hide-sm" }] : []),
  ];
  const rows = table(columns, list.items.map((entry) => row(view, kind, entry)));
  if (view.readOnly) {
    return page(view, { title: kind.title, section, body: markup`${rows}${pager(view, list)}` });
  }
  // The selection buttons belong to the form around the table (form="bulk"); the
  // "all" actions are forms of their own, on the same line.
  const buttons = kind.actions.map(([value, label]) => {
    const cls = value === "run" ? "btn" : "btn danger";
    return markup`<button class="${cls}" type="submit" form="bulk" name="action" value="${value}">${label}</button>`;
  });
  const runAll = confirmForm(
    view,
    action,
    kind.runAll,
    `Enqueue all ${list.total} jobs of ${kind.label} now?`,
    { action: "run-all" },
    false,
  );
  const clear = confirmForm(
    view,
    action,
    "Delete all…",
    `Delete all ${list.total} jobs of ${kind.label}? This cannot be undone.`,
    { action: "clear" },
  );
  const body = markup`<div class="actions">${buttons}<span class="muted">the selected jobs</span>
<span class="spacer"></span>${runAll}${clear}</div>
<form id="bulk" method="post" action="${view.base}${action}">${csrfField(view)}
<input type="hidden" name="page" value="${list.page}">
${rows}
</form>
${pager(view, list)}`;
  return page(view, { title: kind.title, section, body });
}

function row(view: View, kind: SetKind, entry: SetEntry): Html {
  const job = entry.job;
  const box = entry.jid
    ? markup`<input type="checkbox" name="jid" value="${entry.jid}" aria-label="Select ${entry.jid}">`
    : "";
  const select = view.readOnly ? "" : markup`<td>${box}</td>`;
  const jid = entry.jid
    ? markup`<a class="mono" href="${href(view, kind.path, entry.jid)}">${entry.jid}</a>`
    : markup`<span class="muted">(malformed)</span>`;
  const queue = job?.queue
    ? markup`<a href="${href(view, "queues", job.queue)}">${job.queue}</a>`
    : "-";
  const count = job?.retry_count;
  const retries = kind.errors
    ? markup`<td class="num hide-sm" data-v="${count ?? -1}">${count ?? "-"}</td>`
    : "";
  const error = kind.errors
    ? markup`<td class="error hide-sm">${short(errorOf(job), 160)}</td>`
    : "";
  return markup`<tr data-jid="${entry.jid}">${select}<td>${jid}</td>
<td>${job?.class ?? short(entry.problem ?? "", 40)}</td>
<td class="args mono hide-sm">${short(argsOf(job), 120)}</td>
<td>${queue}</td>${retries}<td>${timeTag(entry.at, view.now)}</td>${error}</tr>`;
}

/** GET /retries/:jid … : the job, or undefined when it is not in the set. */
export async function setJobPage(
  view: View,
  admin: Admin,
  kind: SetKind,
  jid: string,
): Promise<Html | undefined> {
  const entry = await admin.set(kind.name).find(jid);
  if (!entry) return undefined;
  const action = `/${kind.path}/${encodeURIComponent(jid)}`;
  const actions = kind.actions.map(([value, label]) =>
    postForm(view, action, label, {
      fields: { action: value },
      cls: value === "run" ? "primary" : "danger",
    })
  );
  return await jobPage(view, entry, {
    where: `In ${kind.label}`,
    section: `/${kind.path}` as Section,
    at: { label: kind.when, time: entry.at },
    actions: view.readOnly ? "" : markup`${actions}`,
  });
}
