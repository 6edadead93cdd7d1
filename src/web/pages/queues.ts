/**
 * The Queues page and the page of one queue. A queue's status is cluster-wide,
 * read from Redis rather than from one node: `paused` when it is in
 * `verk:paused` and no live node holds one of its jobs, `pausing` while some
 * still run, `running` when live nodes hold jobs of it, `idle` otherwise.
 * @module
 */
import type { Admin } from "../../admin/admin.ts";
import { argsOf, duration, short } from "../../cli/format.ts";
import type { QueueStatus } from "../../queue_loop.ts";
import { type Html, jobTime, markup, timeTag } from "../html.ts";
import {
  type Column,
  confirmForm,
  empty,
  href,
  numCell,
  page,
  pager,
  postForm,
  table,
  type View,
} from "../layout.ts";

/** One queue as the dashboard shows it. */
export interface QueueRow {
  name: string;
  status: QueueStatus;
  /** Jobs held by live nodes now. */
  running: number;
  /** Live nodes that run the queue. */
  nodes: string[];
  size: number;
  /** Seconds the oldest job has waited. */
  latency: number;
  processed: number;
  failed: number;
}

/** The cluster-wide status of a queue. */
export function statusOf(paused: boolean, running: number): QueueStatus {
  if (paused) return running > 0 ? "pausing" : "paused";
  return running > 0 ? "running" : "idle";
}

/** Every queue with its cluster-wide numbers. */
export async function queueRows(admin: Admin): Promise<QueueRow[]> {
  const [list, counters, nodes] = await Promise.all([
    admin.queues.list(),
    admin.stats.queues(),
    admin.nodes.list(),
  ]);
  return list.map((queue) => {
    let running = 0;
    const on: string[] = [];
    for (const node of nodes) {
      const held = node.inProgress[queue.name];
      if (!node.alive || held === undefined) continue;
      on.push(node.id);
      running += held;
    }
    const { processed = 0, failed = 0 } = counters[queue.name] ?? {};
    return {
      name: queue.name,
      status: statusOf(queue.paused, running),
      running,
      nodes: on,
      size: queue.size,
      latency: queue.latency,
      processed,
      failed,
    };
  });
}

/** A status as a coloured tag. */
export function statusTag(status: QueueStatus): Html {
  return markup`<span class="tag ${status}" data-status="${status}">${status}</span>`;
}

/** The pause or resume button of a queue. */
function pauseButton(view: View, row: QueueRow): Html | string {
  const paused = row.status === "paused" || row.status === "pausing";
  const path = `/queues/${encodeURIComponent(row.name)}/${paused ? "resume" : "pause"}`;
  return postForm(view, path, paused ? "Resume" : "Pause", { cls: paused ? "primary" : "" });
}

/** GET /queues */
export async function queuesPage(view: View, admin: Admin): Promise<Html> {
  const rows = await queueRows(admin);
  if (rows.length === 0) {
    const body = empty("No queues yet: a queue appears when its first job is enqueued.");
    return page(view, { title: "Queues", section: "/queues", body });
  }
  const columns: Column[] = [
    { label: "Queue", sort: "text" },
    { label: "Status", sort: "text" },
    { label: "Nodes", sort: "num", class: "num hide-sm" },
    { label: "Running", sort: "num", class: "num" },
    { label: "Enqueued", sort: "num", class: "num" },
    { label: "Latency", sort: "num", class: "num" },
    { label: "Processed", sort: "num", class: "num hide-sm" },
    { label: "Failed", sort: "num", class: "num hide-sm" },
    ...(view.readOnly ? [] : [{ label: "Actions" }]),
  ];
  const body = table(
    columns,
    rows.map((row) => {
      const actions = view.readOnly ? "" : markup`<td>${pauseButton(view, row)}</td>`;
      return markup`<tr data-queue="${row.name}">
<td><a href="${href(view, "queues", row.name)}">${row.name}</a></td>
<td data-v="${row.status}">${statusTag(row.status)}</td>
${numCell(row.nodes.length, "hide-sm")}${numCell(row.running)}${numCell(row.size)}
<td class="num" data-v="${row.latency}">${duration(row.latency)}</td>
${numCell(row.processed, "hide-sm")}${numCell(row.failed, "hide-sm")}${actions}</tr>`;
    }),
  );
  return page(view, { title: "Queues", section: "/queues", body });
}

/** GET /queues/:name */
export async function queuePage(view: View, admin: Admin, name: string): Promise<Html> {
  const [jobs, rows] = await Promise.all([
    admin.queues.page(name, { page: pageParam(view.url) }),
    queueRows(admin),
  ]);
  const row = rows.find((queue) => queue.name === name) ??
    { name, status: "idle", running: 0, nodes: [], size: 0, latency: 0, processed: 0, failed: 0 };
  const nodes = row.nodes.length === 0
    ? markup`<span class="muted">no live node</span>`
    : row.nodes.map((id, i) =>
      markup`${i > 0 ? ", " : ""}<a href="${view.base}/busy#node-${
        encodeURIComponent(id)
      }">${id}</a>`
    );
  const clear = jobs.total === 0 ? "" : confirmForm(
    view,
    `/queues/${encodeURIComponent(name)}/clear`,
    "Delete all…",
    `Delete all ${jobs.total} waiting jobs of queue ${name}? This cannot be undone.`,
    {},
  );
  const count = (n: number) => n.toLocaleString("en-US");
  const summary = markup`<div class="panel"><dl class="fields">
<dt>Status</dt><dd>${statusTag(row.status)}</dd>
<dt>Running</dt><dd>${row.running} on ${nodes}</dd>
<dt>Enqueued</dt><dd>${count(row.size)}</dd>
<dt>Latency</dt><dd>${duration(row.latency)}</dd>
<dt>Processed</dt><dd>${count(row.processed)} (${count(row.failed)} failed)</dd>
</dl>
<div class="actions">${pauseButton(view, row)}${clear}</div></div>`;
  const list = jobs.total === 0 ? empty(`Queue ${name} is empty.`) : markup`${
    table(
      [
        { label: "JID", sort: "text" },
        { label: "Class", sort: "text" },
        { label: "Args", class: "hide-sm" },
        { label: "Enqueued", sort: "num" },
      ],
      jobs.items.map((entry) => {
        const jid = entry.jid
          ? markup`<a href="${href(view, "queues", name, "jobs", entry.jid)}">${entry.jid}</a>`
          : "(malformed)";
        return markup`<tr data-jid="${entry.jid}"><td class="mono">${jid}</td>
<td>${entry.job?.class ?? entry.problem ?? ""}</td>
<td class="args mono hide-sm">${short(argsOf(entry.job), 120)}</td>
<td>${timeTag(jobTime(entry.job?.enqueued_at), view.now)}</td></tr>`;
      }),
    )
  }${
    pager(view, jobs)
  }<p class="muted">Newest first: workers take jobs from the end of the list.</p>`;
  return page(view, {
    title: `Queue ${name}`,
    section: "/queues",
    body: [summary, markup`<h2>Waiting jobs</h2>`, list],
  });
}

/** The `page` query parameter (1 when absent or not a positive integer). */
export function pageParam(url: URL): number {
  const value = Number(url.searchParams.get("page") ?? 1);
  return Number.isSafeInteger(value) && value >= 1 ? value : 1;
}
