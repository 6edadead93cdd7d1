/**
 * What every `verk` command gets: the parsed arguments, the admin API on the
 * chosen Redis, output, and the confirmation rule for destructive commands.
 * @module
 */
import { Admin } from "../admin/admin.ts";
import { type Args, UsageError } from "./args.ts";
import { json, plural } from "./format.ts";

/** A command's result: exit code 0 (done) or 1 (the operation failed). */
export type ExitCode = 0 | 1;

/** Shared state of one `verk` run. */
export class Context implements AsyncDisposable {
  /** The parsed command line. */
  readonly args: Args;
  /** The Redis URL in use. */
  readonly redisUrl: string;
  #admin: Admin | undefined;
  #interactive: boolean;

  /** `interactive`: stdin is a terminal, so destructive commands may ask. */
  constructor(args: Args, redisUrl: string, interactive: boolean) {
    this.args = args;
    this.redisUrl = redisUrl;
    this.#interactive = interactive;
  }

  /** The admin API, connected on first use. */
  get admin(): Admin {
    return this.#admin ??= new Admin({ redisUrl: this.redisUrl });
  }

  /** Prints `value` as JSON with `--json`, else the human text `human()` makes. */
  print(value: unknown, human: () => string): void {
    console.log(this.args.json ? json(value) : human());
  }

  /** Prints a failure to stderr; returns exit code 1. */
  fail(message: string): ExitCode {
    console.error(`verk: ${message}`);
    return 1;
  }

  /**
   * Whether a destructive command may go ahead: yes with `--yes`; on a terminal,
   * the user's answer; otherwise refused as bad usage.
   */
  confirm(question: string): boolean {
    if (this.args.yes) return true;
    if (!this.#interactive) {
      throw new UsageError(`${question}: refused without --yes (stdin is not a terminal)`);
    }
    const answer = prompt(`${question}? [y/N]`) ?? "";
    return /^y(es)?$/i.test(answer.trim());
  }

  /**
   * A command on every job of `where` ("the dead set", "queue default"), which
   * holds `size` jobs: asks first (see `confirm`), runs, prints how many.
   */
  async bulk(
    verb: "enqueue" | "delete",
    where: string,
    size: number,
    run: () => Promise<number>,
  ): Promise<ExitCode> {
    const now = verb === "enqueue" ? " now" : "";
    if (!this.confirm(`${verb} all ${plural(size, "job")} of ${where}${now}`)) {
      return this.fail("aborted");
    }
    const count = await run();
    this.print(
      verb === "enqueue" ? { moved: count } : { deleted: count },
      () => `${verb}d ${plural(count, "job")} from ${where}`,
    );
    return 0;
  }

  /** Closes the admin connection, if one was opened. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.#admin?.close();
  }
}
