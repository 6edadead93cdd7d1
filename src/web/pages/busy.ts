/**
 * The Busy page: who is working and on what. Verk nodes come from
 * `verk_nodes` with their in-progress lists; Sidekiq processes (Ruby, or Verk
 * nodes that write Sidekiq's records) from `processes`, with the jobs in their
 * `<identity>:work` hashes, which also give the start time of the Verk jobs
 * they mirror. A job held by a dead node is shown as such, with the button to
 * put it back on its queue.
 * @module
 */
import type { Admin } from "../../admin/admin.ts";
import type { JobEntry } from "../../admin/entry.ts";
import type { NodeInfo, ProcessWork, SidekiqProcess } from "../../admin/nodes.ts";
import { argsOf, relativeTime, short } from "../../cli/format.ts";
import { type Html, markup, timeTag } from "../html.ts";
import { empty, href, numCell, page, postForm, table, type View } from "../layout.ts";

interface Running {
  job: JobEntry;
  queue: string;
  /** A Verk node id, or a Sidekiq identity. */
  where: { node: string; alive: boolean } | { process: string };
  startedAt?: Date;
}

/** GET /busy */
export async function busyPage(view: View, admin: Admin): Promise<Html> {
  const [nodes, processes] = await Promise.all([admin.nodes.list(), admin.nodes.processes()]);
  const [lists, works] = await Promise.all([
    Promise.all(nodes.map((node) => admin.nodes.inProgress(node.id))),
    Promise.all(processes.map((p) => p.alive ? admin.nodes.work(p.identity) : [])),
  ]);
  const work = new Map<string, ProcessWork>();
  for (const item of works.flat()) if (item.job.jid) work.set(item.job.jid, item);
  const running: Running[] = [];
  const seen = new Set<string>();
  nodes.forEach((node, i) => {
    for (const list of lists[i]!) {
      for (const job of list.jobs) {
        seen.add(job.jid);
        running.push({
          job,
          queue: list.queue,
          where: { node: node.id, alive: node.alive },
          startedAt: work.get(job.jid)?.runAt,
        });
      }
    }
  });
  for (const item of works.flat()) {
    if (item.job.jid && seen.has(item.job.jid)) continue;
    running.push({
      job: item.job,
      queue: item.queue ?? item.job.job?.queue ?? "",
      where: { process: item.identity },
      startedAt: item.runAt,
    });
  }
  // Only dead nodes have an action (put their jobs back).
  const actions = !view.readOnly && nodes.some((node) => !node.alive);
  const unknownStarts = running.some((item) => item.startedAt === undefined);
  const body = [
    markup`<h2>Jobs running now</h2>`,
    running.length === 0 ? empty("No jobs are running.") : jobsTable(view, running),
    unknownStarts
      ? markup`<p class="muted">Start times come from the process records (<code>&lt;identity&gt;:work</code>)
that Sidekiq and Verk nodes rewrite every few seconds: a job started since the last one, or on a
node that writes none, shows "unknown".</p>`
      : "",
    markup`<h2>Verk nodes</h2>`,
    nodes.length === 0 ? empty("No Verk nodes are registered.") : table(
      [
        { label: "Node", sort: "text" },
        { label: "Status", sort: "text" },
        { label: "Holder", sort: "text", class: "hide-sm" },
        { label: "Expires", class: "hide-sm" },
        { label: "Jobs", sort: "num", class: "num" },
        { label: "In progress by queue" },
        ...(actions ? [{ label: "Actions" }] : []),
      ],
      nodes.map((node) => nodeRow(view, node, actions)),
    ),
    processes.length === 0
      ? ""
      : markup`<h2>Processes (Sidekiq's records, Verk nodes included)</h2>${
        table(
          [
            { label: "Identity", sort: "text" },
            { label: "Labels", class: "hide-sm" },
            { label: "Busy", sort: "num", class: "num" },
            { label: "Threads", sort: "num", class: "num hide-sm" },
            { label: "Queues" },
            { label: "Started", sort: "num", class: "hide-sm" },
            { label: "Last beat", sort: "num" },
          ],
          processes.map((p) => processRow(view, p)),
        )
      }`,
  ];
  return page(view, { title: "Busy", section: "/busy", body });
}

/** Links to queues, comma separated, each with an optional suffix (": 3"). */
function queueLinks(view: View, queues: [string, string][]): Html[] {
  return queues.map(([queue, suffix], i) =>
    markup`${i > 0 ? ", " : ""}<a href="${href(view, "queues", queue)}">${queue}</a>${suffix}`
  );
}

function nodeRow(view: View, node: NodeInfo, actions: boolean): Html {
  const total = Object.values(node.inProgress).reduce((sum, n) => sum + n, 0);
  const queues = queueLinks(
    view,
    Object.entries(node.inProgress).map(([queue, n]) => [queue, `: ${n}`]),
  );
  const status = node.alive ? "alive" : "dead";
  const expires = node.ttlMs === undefined ? "-" : relativeTime(view.now + node.ttlMs, view.now);
  const recover = node.alive ? "" : postForm(
    view,
    `/busy/nodes/${encodeURIComponent(node.id)}/recover`,
    "Put its jobs back",
    { cls: "danger" },
  );
  return markup`<tr id="node-${node.id}"><td class="mono">${node.id}</td>
<td data-v="${status}"><span class="tag ${status}">${status}</span></td>
<td class="mono hide-sm">${node.holder ?? "-"}</td><td class="hide-sm">${expires}</td>
${numCell(total)}<td>${queues}</td>${actions ? markup`<td>${recover}</td>` : ""}</tr>`;
}

function processRow(view: View, p: SidekiqProcess): Html {
  const quiet = p.quiet ? markup` <span class="tag paused">quiet</span>` : "";
  const gone = p.alive ? "" : markup` <span class="tag dead">gone</span>`;
  const labels = [p.tag, ...p.labels].filter((label) => label !== undefined)
    .map((label) => labelOf(view, label));
  return markup`<tr id="process-${p.identity}"><td class="mono">${p.identity}${quiet}${gone}</td>
<td class="hide-sm">${labels}</td>${numCell(p.busy)}${numCell(p.concurrency ?? 0, "hide-sm")}
<td>${queueLinks(view, p.queues.map((queue) => [queue, ""]))}</td>
<td class="hide-sm">${timeTag(p.startedAt, view.now)}</td><td>${
    timeTag(p.beat, view.now)
  }</td></tr>`;
}

/** A process label; `node <id>` (how Verk nodes label their record) links to the node. */
function labelOf(view: View, label: string): Html {
  const node = /^node (\S+)$/.exec(label)?.[1];
  return node === undefined
    ? markup`<span class="tag">${label}</span> `
    : markup`<a class="tag" href="${view.base}/busy#node-${
      encodeURIComponent(node)
    }">${label}</a> `;
}

function jobsTable(view: View, running: Running[]): Html {
  return table(
    [
      { label: "Node or process", sort: "text" },
      { label: "Queue", sort: "text" },
      { label: "JID", sort: "text" },
      { label: "Class", sort: "text" },
      { label: "Args", class: "hide-sm" },
      { label: "Started", sort: "num" },
    ],
    running.map(({ job, queue, where, startedAt }) => {
      const at = "node" in where
        ? markup`<a class="mono" href="#node-${encodeURIComponent(where.node)}">${where.node}</a>${
          where.alive ? "" : markup` <span class="tag dead">dead</span>`
        }`
        : markup`<a class="mono" href="#process-${encodeURIComponent(where.process)}">${
          short(where.process, 40)
        }</a>`;
      const started = startedAt
        ? timeTag(startedAt, view.now)
        : markup`<span class="muted" data-v="0">unknown</span>`;
      return markup`<tr data-jid="${job.jid}"><td>${at}</td>
<td><a href="${href(view, "queues", queue)}">${queue}</a></td>
<td class="mono">${job.jid || "(malformed)"}</td><td>${job.job?.class ?? job.problem ?? ""}</td>
<td class="args mono hide-sm"><details><summary>${
        short(argsOf(job.job), 80) || "payload"
      }</summary><pre>${job.payload}</pre></details></td><td>${started}</td></tr>`;
    }),
  );
}
