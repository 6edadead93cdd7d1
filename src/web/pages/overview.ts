/**
 * The Overview: totals of the whole Redis, the live chart of jobs processed
 * and failed per second (fed by the `/live` event stream, see live.ts), the
 * busiest queues and the last seven days.
 * @module
 */
import type { Admin } from "../../admin/admin.ts";
import { duration } from "../../cli/format.ts";
import { type Html, markup } from "../html.ts";
import { empty, href, numCell, page, table, type View } from "../layout.ts";
import { queueRows, statusTag } from "./queues.ts";

/** How many queues the overview lists (the longest first). */
const TOP_QUEUES = 10;

/** GET / */
export async function overviewPage(view: View, admin: Admin): Promise<Html> {
  const [summary, rows, history] = await Promise.all([
    admin.stats.summary(),
    queueRows(admin),
    admin.stats.history(7),
  ]);
  const running = rows.reduce((sum, row) => sum + row.running, 0);
  const card = (label: string, value: number, path: string, stat = "") => {
    const attribute = stat ? markup` data-stat="${stat}"` : "";
    return markup`<a class="card" href="${view.base}${path}"><b${attribute}>${
      value.toLocaleString("en-US")
    }</b><span>${label}</span></a>\n`;
  };
  const cards = [
    card("Processed", summary.processed, "/", "processed"),
    card("Failed", summary.failed, "/", "failed"),
    card("Running", running, "/busy"),
    card("Enqueued", summary.enqueued, "/queues", "enqueued"),
    card("Scheduled", summary.scheduled, "/scheduled", "scheduled"),
    card("Retries", summary.retries, "/retries", "retries"),
    card("Dead", summary.dead, "/dead", "dead"),
    card("Verk nodes", summary.nodes, "/busy", "nodes"),
    card("Processes", summary.processes, "/busy", "processes"),
  ];
  const chart =
    markup`<section class="panel" id="chart" data-src="${view.base}/live" aria-labelledby="chart-title">
<h2 id="chart-title">Jobs per second, all nodes, last 2 minutes</h2>
<div class="legend"><span class="p">■ processed <b data-now="processed">-</b>/s</span>
<span class="f">■ failed <b data-now="failed">-</b>/s</span></div>
<svg viewBox="0 0 600 200" role="img" aria-label="Processed and failed jobs per second"></svg>
<p class="muted">From the Redis counters, averaged over 5 s (nodes write their counts every 5 s).
The chart fills in from the moment the dashboard is first opened.</p>
<p class="problem" role="status"></p>
</section>`;
  const busiest = [...rows].sort((a, b) => b.size - a.size || a.name.localeCompare(b.name))
    .slice(0, TOP_QUEUES);
  const queues = busiest.length === 0 ? empty("No queues yet.") : table(
    [
      { label: "Queue", sort: "text" },
      { label: "Status", sort: "text" },
      { label: "Running", sort: "num", class: "num" },
      { label: "Enqueued", sort: "num", class: "num" },
      { label: "Latency", sort: "num", class: "num" },
    ],
    busiest.map((row) =>
      markup`<tr><td><a href="${href(view, "queues", row.name)}">${row.name}</a></td>
<td data-v="${row.status}">${statusTag(row.status)}</td>${numCell(row.running)}${numCell(row.size)}
<td class="num" data-v="${row.latency}">${duration(row.latency)}</td></tr>`
    ),
  );
  const days = table(
    [
      { label: "Day (UTC)", sort: "text" },
      { label: "Processed", sort: "num", class: "num" },
      { label: "Failed", sort: "num", class: "num" },
    ],
    history.map((day) =>
      markup`<tr><td>${day.date}</td>${numCell(day.processed)}${numCell(day.failed)}</tr>`
    ),
  );
  return page(view, {
    title: "Overview",
    section: "",
    body: [
      markup`<div class="cards">${cards}</div>`,
      chart,
      markup`<h2>Queues</h2>`,
      queues,
      markup`<h2>Last 7 days</h2>`,
      days,
    ],
  });
}
