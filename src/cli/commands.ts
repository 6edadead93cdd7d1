/**
 * `verk stats|queues|queue|enqueue|pause|resume|nodes`: every command but the
 * job-set ones (sets.ts). Reads go through the admin API; enqueue, pause and
 * resume through a producer `Verk`, which owns those writes.
 * @module
 */
import { epochMsOf, parseJob } from "../job.ts";
import type { Verk } from "../verk.ts";
import { noMoreArgs, parseTime, queueArg, UsageError } from "./args.ts";
import type { Context, ExitCode } from "./context.ts";
import { argsOf, duration, fields, plural, relativeTime, table } from "./format.ts";

/** `verk stats [--days N]` */
export async function stats(ctx: Context): Promise<ExitCode> {
  const summary = await ctx.admin.stats.summary();
  const counters = await ctx.admin.stats.queues();
  const history = await ctx.admin.stats.history(ctx.args.days ?? 7);
  ctx.print({ ...summary, counters, history }, () => {
    const totals = fields([
      ["Processed", String(summary.processed)],
      ["Failed", String(summary.failed)],
      ["Enqueued", String(summary.enqueued)],
      ["Scheduled", String(summary.scheduled)],
      ["Retries", String(summary.retries)],
      ["Dead", String(summary.dead)],
      ["Nodes", String(summary.nodes)],
      ["Processes", String(summary.processes)],
    ]);
    const names = [...new Set([...Object.keys(summary.queues), ...Object.keys(counters)])].sort();
    const queues = table(
      ["QUEUE", "WAITING", "PROCESSED", "FAILED"],
      names.map((name) => [
        name,
        String(summary.queues[name] ?? 0),
        String(counters[name]?.processed ?? 0),
        String(counters[name]?.failed ?? 0),
      ]),
    );
    const days = table(
      ["DATE", "PROCESSED", "FAILED"],
      history.map((day) => [day.date, String(day.processed), String(day.failed)]),
    );
    return [totals, names.length ? queues : "no queues", days].join("\n\n");
  });
  return 0;
}

/** `verk queues` */
export async function queues(ctx: Context): Promise<ExitCode> {
  const list = await ctx.admin.queues.list();
  ctx.print(list, () =>
    list.length === 0 ? "no queues" : table(
      ["QUEUE", "SIZE", "LATENCY", "PAUSED"],
      list.map((q) => [q.name, String(q.size), duration(q.latency), q.paused ? "paused" : ""]),
    ));
  return 0;
}

/** `verk queue <name> [list|clear] [--page N]` */
export async function queue(ctx: Context): Promise<ExitCode> {
  const [, rawName, action = "list", ...extra] = ctx.args.positionals;
  const name = queueArg(rawName);
  noMoreArgs(extra);
  if (action === "clear") {
    const size = await ctx.admin.queues.size(name);
    return await ctx.bulk("delete", `queue ${name}`, size, () => ctx.admin.queues.clear(name));
  }
  if (action !== "list") throw new UsageError(`unknown action ${JSON.stringify(action)} for queue`);
  const page = await ctx.admin.queues.page(name, {
    page: ctx.args.page,
    pageSize: ctx.args.pageSize,
  });
  ctx.print(page, () => {
    if (page.total === 0) return `queue ${name} is empty`;
    const now = Date.now();
    const rows = page.items.map((entry) => [
      entry.jid || "(malformed)",
      entry.job?.class ?? entry.problem ?? "",
      argsOf(entry.job),
      relativeTime(
        entry.job?.enqueued_at === undefined ? undefined : epochMsOf(entry.job.enqueued_at),
        now,
      ),
    ]);
    return `${table(["JID", "CLASS", "ARGS", "ENQUEUED"], rows)}\n` +
      `page ${page.page} of ${page.pages} (${plural(page.total, "job")}, newest first)`;
  });
  return 0;
}

/** `verk enqueue <class> [args-json] --queue <q> [--at <time>]` */
export async function enqueue(ctx: Context): Promise<ExitCode> {
  const [, className, argsText = "[]", ...extra] = ctx.args.positionals;
  if (className === undefined) throw new UsageError("enqueue needs a class name");
  noMoreArgs(extra);
  const queue = queueArg(ctx.args.queue, "--queue <queue>");
  const args = parseArgsJson(argsText);
  const at = ctx.args.at === undefined ? undefined : parseTime(ctx.args.at);
  const job = { queue, class: className, args };
  const jid = await withProducer(
    ctx,
    (verk) => at === undefined ? verk.enqueue(job) : verk.schedule(job, at),
  );
  const later = at !== undefined && at > Date.now();
  ctx.print(
    { jid, queue, at: later ? new Date(at) : undefined },
    () =>
      later
        ? `scheduled ${jid} on ${queue} for ${new Date(at).toISOString()} (${relativeTime(at)})`
        : `enqueued ${jid} on ${queue}`,
  );
  return 0;
}

/** `verk pause <queue>` and `verk resume <queue>` */
export async function pause(ctx: Context, paused: boolean): Promise<ExitCode> {
  const [, rawName, ...extra] = ctx.args.positionals;
  const name = queueArg(rawName);
  noMoreArgs(extra);
  await withProducer(ctx, (verk) => paused ? verk.pauseQueue(name) : verk.resumeQueue(name));
  if (paused && !(await ctx.admin.queues.names()).includes(name)) {
    // Likely a typo: the name stays in verk:paused and a queue created later starts paused.
    console.error(`verk: note: no queue named ${name} is known yet; it will start paused`);
  }
  ctx.print(
    { queue: name, paused },
    () => paused ? `paused ${name} on every node` : `resumed ${name} on every node`,
  );
  return 0;
}

/** `verk nodes` and `verk nodes recover <node-id> [--queue q]` */
export async function nodes(ctx: Context): Promise<ExitCode> {
  const [, action = "list", nodeId, ...extra] = ctx.args.positionals;
  noMoreArgs(extra);
  if (action === "recover") {
    if (nodeId === undefined) throw new UsageError("nodes recover needs a node id");
    const queue = ctx.args.queue === undefined ? undefined : queueArg(ctx.args.queue);
    const moved = await ctx.admin.nodes.recover(nodeId, queue);
    ctx.print(
      { nodeId, moved },
      () => `put ${plural(moved, "job")} of node ${nodeId} back on their queues`,
    );
    return 0;
  }
  if (action !== "list" || nodeId !== undefined) {
    throw new UsageError(`unknown action ${JSON.stringify(action)} for nodes`);
  }
  const verkNodes = await ctx.admin.nodes.list();
  const processes = await ctx.admin.nodes.processes();
  ctx.print({ nodes: verkNodes, processes }, () => {
    const now = Date.now();
    const nodeTable = verkNodes.length === 0 ? "no Verk nodes" : table(
      ["NODE", "STATUS", "HOLDER", "EXPIRES", "IN PROGRESS"],
      verkNodes.map((node) => [
        node.id,
        node.alive ? "alive" : "dead",
        node.holder ?? "",
        node.ttlMs === undefined ? "" : relativeTime(now + node.ttlMs, now),
        Object.entries(node.inProgress).map(([q, n]) => `${q}:${n}`).join(" "),
      ]),
    );
    if (processes.length === 0) return nodeTable;
    const processTable = table(
      ["PROCESS", "TAG", "BUSY", "THREADS", "QUEUES", "BEAT"],
      processes.map((p) => [
        p.identity,
        p.tag ?? "",
        String(p.busy),
        String(p.concurrency ?? ""),
        p.queues.join(","),
        p.alive ? relativeTime(p.beat, now) : "gone",
      ]),
    );
    return `${nodeTable}\n\nSidekiq processes\n${processTable}`;
  });
  return 0;
}

/** Args from the command line: a JSON array, big integers kept exact. */
function parseArgsJson(text: string): unknown[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`args must be a JSON array: ${(error as Error).message}`);
  }
  if (!Array.isArray(parsed)) throw new UsageError(`args must be a JSON array: got ${text}`);
  // parseJob reads integers beyond 2^53 as bigint, which enqueue writes back exactly.
  const lossless = parseJob(`{"class":"cli","args":${text}}`);
  return lossless.ok ? lossless.job.args : parsed;
}

/**
 * A producer `Verk` for `fn`, stopped afterwards. Imported on demand: the
 * engine reads the hostname when it loads, which only these commands need.
 */
async function withProducer<T>(ctx: Context, fn: (verk: Verk) => Promise<T>): Promise<T> {
  const { Verk } = await import("../verk.ts");
  const verk = new Verk({ redisUrl: ctx.redisUrl, disabled: true });
  try {
    return await fn(verk);
  } finally {
    await verk.stop();
  }
}
