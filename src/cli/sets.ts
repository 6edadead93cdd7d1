/**
 * `verk retries|scheduled|dead [list|show|run|kill|delete|retry-all|clear]`:
 * the job-set commands.
 * @module
 */
import type { JobSet, JobSetName } from "../admin/job_sets.ts";
import type { SetEntry } from "../admin/entry.ts";
import { decodeBacktrace, epochMsOf } from "../job.ts";
import { noMoreArgs, UsageError } from "./args.ts";
import type { Context, ExitCode } from "./context.ts";
import { argsOf, errorOf, fields, plural, relativeTime, short, table } from "./format.ts";

/** Command name → the set it works on and how it is called in messages. */
export const SET_COMMANDS: Record<string, { name: JobSetName; label: string; column: string }> = {
  retries: { name: "retry", label: "retry set", column: "RETRY" },
  scheduled: { name: "schedule", label: "schedule set", column: "RUNS" },
  dead: { name: "dead", label: "dead set", column: "DIED" },
};

/** Runs `verk <command> [action] …` for one of the three sets. */
export async function setCommand(ctx: Context, command: string): Promise<ExitCode> {
  const { name, label, column } = SET_COMMANDS[command]!;
  const set = ctx.admin.set(name);
  const [, action = "list", jid, ...extra] = ctx.args.positionals;
  noMoreArgs(extra);
  const needJid = () => {
    if (jid === undefined) throw new UsageError(`${command} ${action} needs a jid`);
    return jid;
  };
  const noJid = () => {
    if (jid !== undefined) throw new UsageError(`${command} ${action} takes no argument`);
  };
  switch (action) {
    case "list":
      noJid();
      return await list(ctx, set, column);
    case "show":
      return await show(ctx, set, needJid(), label);
    case "run":
      return await act(ctx, needJid(), label, (target) => set.runNow(target), "enqueued");
    case "delete":
      return await act(ctx, needJid(), label, (target) => set.delete(target), "deleted");
    case "kill":
      if (name === "dead") throw new UsageError("dead kill: the job is already dead");
      return await act(
        ctx,
        needJid(),
        label,
        (target) => set.kill(target),
        "moved",
        " to the dead set",
      );
    case "retry-all":
      noJid();
      return await ctx.bulk("enqueue", `the ${label}`, await set.size(), () => set.retryAll());
    case "clear":
      noJid();
      return await ctx.bulk("delete", `the ${label}`, await set.size(), () => set.clear());
    default:
      throw new UsageError(`unknown action ${JSON.stringify(action)} for ${command}`);
  }
}

async function list(ctx: Context, set: JobSet, column: string): Promise<ExitCode> {
  const page = await set.page({ page: ctx.args.page, pageSize: ctx.args.pageSize });
  ctx.print(page, () => {
    if (page.total === 0) return `the ${set.name} set is empty`;
    const now = Date.now();
    const headers = ["JID", "CLASS", "QUEUE", "ARGS", column, "FAILURES", "ERROR"];
    const rows = page.items.map((entry) => [
      entry.jid || "(malformed)",
      entry.job?.class ?? short(entry.problem ?? "", 30),
      entry.job?.queue ?? "",
      argsOf(entry.job),
      relativeTime(entry.at, now),
      entry.job?.retry_count === undefined ? "" : String(entry.job.retry_count + 1),
      errorOf(entry.job),
    ]);
    return `${table(headers, rows)}\npage ${page.page} of ${page.pages} (${
      plural(page.total, "job")
    })`;
  });
  return 0;
}

async function show(ctx: Context, set: JobSet, jid: string, label: string): Promise<ExitCode> {
  const entry = await set.find(jid);
  if (!entry) return ctx.fail(`no job with jid ${jid} in the ${label}`);
  const job = entry.job!;
  const backtrace = job.error_backtrace === undefined
    ? []
    : await decodeBacktrace(job.error_backtrace);
  ctx.print({ ...entry, backtrace }, () => {
    const time = (at: number | undefined) =>
      at === undefined
        ? "-"
        : `${relativeTime(epochMsOf(at))} (${new Date(epochMsOf(at)).toISOString()})`;
    const lines: [string, string][] = [
      ["jid", entry.jid],
      ["class", job.class],
      ["queue", job.queue ?? "-"],
      ["args", argsOf(job)],
      [{ retry: "retry at", schedule: "runs at", dead: "died at" }[set.name], when(entry)],
      ["retry_count", job.retry_count === undefined ? "-" : String(job.retry_count)],
      ["created_at", time(job.created_at)],
      ["failed_at", time(job.failed_at)],
      ["error", errorOf(job) || "-"],
    ];
    const trace = backtrace.map((line) => `  ${line}`).join("\n");
    return `${fields(lines)}${trace ? `\nbacktrace\n${trace}` : ""}\npayload\n  ${entry.payload}`;
  });
  return 0;
}

function when(entry: SetEntry): string {
  return `${relativeTime(entry.at)} (${entry.at?.toISOString() ?? entry.score})`;
}

async function act(
  ctx: Context,
  jid: string,
  label: string,
  action: (jid: string) => Promise<boolean>,
  verb: string,
  suffix = "",
): Promise<ExitCode> {
  if (!await action(jid)) return ctx.fail(`no job with jid ${jid} in the ${label}`);
  ctx.print({ jid, ok: true }, () => `${verb} ${jid} from the ${label}${suffix}`);
  return 0;
}
