/**
 * One job in full: its fields, times (relative and absolute), error with the
 * decoded backtrace, and the whole payload as stored. Shared by the job pages
 * of a queue and of the retry, schedule and dead sets.
 * @module
 */
import type { JobEntry } from "../../admin/entry.ts";
import { argsOf, errorOf, relativeTime } from "../../cli/format.ts";
import { decodeBacktrace } from "../../job.ts";
import { type Html, jobTime, markup, prettyJson } from "../html.ts";
import { href, page, type Section, type View } from "../layout.ts";

/** What surrounds the job: where it is, its set time, its actions. */
export interface JobContext {
  /** "queue default", "the retry set" … */
  where: string;
  section: Section;
  /** The set's time for the job (retry at, runs at, died at) with its label. */
  at?: { label: string; time: Date | undefined };
  /** The action buttons (empty in read-only mode). */
  actions: Html | string;
}

/** An absolute time with the relative one: "2026-12-03T10:00:00.000Z (3 min ago)". */
function when(view: View, ms: number | undefined): Html | string {
  if (ms === undefined || !Number.isFinite(ms)) return "-";
  const iso = new Date(ms).toISOString();
  return markup`<time datetime="${iso}">${iso}</time> <span class="muted">(${
    relativeTime(ms, view.now)
  })</span>`;
}

/** The job page. */
export async function jobPage(view: View, entry: JobEntry, context: JobContext): Promise<Html> {
  const job = entry.job;
  const backtrace = job?.error_backtrace === undefined
    ? []
    : await decodeBacktrace(job.error_backtrace);
  const queue = job?.queue;
  const args = argsOf(job);
  const rows: [string, Html | string][] = [
    ["JID", markup`<span class="mono">${entry.jid || "(none)"}</span>`],
    ["Where", context.where],
    ["Class", job?.class ?? "-"],
    ["Queue", queue ? markup`<a href="${href(view, "queues", queue)}">${queue}</a>` : "-"],
    ["Args", markup`<pre id="args">${args.length > 80 ? prettyJson(args) : args || "-"}</pre>`],
  ];
  if (context.at) rows.push([context.at.label, when(view, context.at.time?.getTime())]);
  if (job?.retry_count !== undefined) rows.push(["Retry count", String(job.retry_count)]);
  if (job?.retry !== undefined) rows.push(["Retry option", String(job.retry)]);
  for (const field of ["created_at", "enqueued_at", "failed_at", "retried_at"] as const) {
    if (job?.[field] !== undefined) rows.push([field, when(view, jobTime(job[field]))]);
  }
  if (entry.problem) rows.push(["Problem", markup`<span class="problem">${entry.problem}</span>`]);
  const fields = rows.map(([name, value]) => markup`<dt>${name}</dt><dd>${value}</dd>\n`);
  const actions = context.actions ? markup`<div class="actions">${context.actions}</div>` : "";
  const error = errorOf(job);
  const trace = backtrace.length === 0
    ? ""
    : markup`<h2>Backtrace</h2><pre id="backtrace">${backtrace.join("\n")}</pre>`;
  const body = [
    markup`<div class="panel"><dl class="fields">\n${fields}</dl>${actions}</div>`,
    error ? markup`<h2>Error</h2><pre class="problem" id="error">${error}</pre>${trace}` : "",
    markup`<h2>Payload</h2><pre id="payload">${prettyJson(entry.payload)}</pre>`,
  ];
  return page(view, { title: `Job ${entry.jid || "(malformed)"}`, section: context.section, body });
}
