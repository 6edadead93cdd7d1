/**
 * The dashboard's request handling: path prefix, authentication, routing,
 * CSRF and read-only checks for POSTs, and errors as pages. Only POST changes
 * state; every POST answers with a 303 back to a page (post/redirect/get).
 * @module
 */
import type { Admin } from "../admin/admin.ts";
import { AdminError, RedisUnavailableError } from "../errors.ts";
import { loggerFor, messageOf } from "../log.ts";
import {
  type Outcome,
  type PauseQueue,
  queueAction,
  queueJobDelete,
  recoverNode,
  setAction,
  setJobAction,
} from "./actions.ts";
import { type Html, markup } from "./html.ts";
import { page, postForm, type View } from "./layout.ts";
import type { Live } from "./live.ts";
import { busyPage } from "./pages/busy.ts";
import { jobPage } from "./pages/job.ts";
import { overviewPage } from "./pages/overview.ts";
import { queuePage, queuesPage } from "./pages/queues.ts";
import { setJobPage, setPage, SETS } from "./pages/sets.ts";
import { type Guard, newNonce, securityHeaders } from "./security.ts";

const logger = loggerFor("web");

/** Largest form body accepted, bytes (a page of 25 selected jids is ~1 KB). */
const MAX_FORM_BYTES = 256 * 1024;

/** What the app is built from (see `createWebHandler`). */
export interface AppParts {
  admin: Admin;
  guard: Guard;
  live: Live;
  pause: PauseQueue;
  base: string;
  readOnly: boolean;
  /** The Redis URL without its password, shown in the header. */
  redis: string;
}

type Get = (view: View, params: string[]) => Promise<Html | undefined>;
type Post = (params: string[], form: FormData) => Promise<Outcome>;

/** Matches `segments` against a pattern whose `*` parts are captured. */
function match(pattern: string[], segments: string[]): string[] | undefined {
  if (pattern.length !== segments.length) return undefined;
  const params: string[] = [];
  for (let i = 0; i < pattern.length; i++) {
    if (pattern[i] === "*") params.push(segments[i]!);
    else if (pattern[i] !== segments[i]) return undefined;
  }
  return params;
}

/** The request handler over the admin API. */
export class WebApp {
  #parts: AppParts;
  #gets: [string[], Get][];
  #posts: [string[], Post][];

  constructor(parts: AppParts) {
    this.#parts = parts;
    const { admin, base } = parts;
    this.#gets = [
      [[], (view) => overviewPage(view, admin)],
      [["queues"], (view) => queuesPage(view, admin)],
      [["queues", "*"], (view, [q]) => queuePage(view, admin, q!)],
      [["queues", "*", "jobs", "*"], (view, [q, jid]) => this.#queueJob(view, q!, jid!)],
      [["busy"], (view) => busyPage(view, admin)],
    ];
    this.#posts = [
      [
        ["queues", "*", "*"],
        ([q, action], form) =>
          ["pause", "resume", "clear"].includes(action!)
            ? queueAction(admin, parts.pause, q!, action!, form, base)
            : Promise.resolve({ status: 404, message: "No such action." }),
      ],
      [["queues", "*", "jobs", "*", "delete"], ([q, jid]) => queueJobDelete(admin, q!, jid!, base)],
      [["busy", "nodes", "*", "recover"], ([id]) => recoverNode(admin, id!, base)],
    ];
    for (const kind of Object.values(SETS)) {
      this.#gets.push([[kind.path], (view) => setPage(view, admin, kind)]);
      this.#gets.push([[kind.path, "*"], (view, [jid]) => setJobPage(view, admin, kind, jid!)]);
      this.#posts.push([[kind.path], (_, form) => setAction(admin, kind, form, base)]);
      this.#posts.push([
        [kind.path, "*"],
        ([jid], form) => setJobAction(admin, kind, jid!, form, base),
      ]);
    }
  }

  /** Answers one request. */
  async handle(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const { base } = this.#parts;
    if (url.pathname !== base && !url.pathname.startsWith(base + "/")) {
      return text(404, "Not found");
    }
    let segments: string[];
    try {
      segments = url.pathname.slice(base.length).split("/").filter(Boolean).map(decodeURIComponent);
    } catch {
      return text(400, "Bad path");
    }
    const method = request.method === "HEAD" ? "GET" : request.method;
    const { guard } = this.#parts;
    if (method === "POST" && guard.usesToken && match(["login"], segments)) {
      return await this.#login(request);
    }
    const view = this.#view(url);
    const { nonce } = view;
    const verdict = await guard.check(request, () => this.#loginPage(view));
    if (!verdict.ok) return verdict.response;
    view.csrf = verdict.csrf;
    const respond = (status: number, body: Html, extra: Record<string, string> = {}) => {
      const headers = new Headers({
        ...securityHeaders(nonce),
        "content-type": "text/html; charset=utf-8",
        ...extra,
      });
      for (const cookie of verdict.setCookies) headers.append("set-cookie", cookie);
      return new Response(request.method === "HEAD" ? null : body.text, { status, headers });
    };
    const notAllowed = (allow: string) =>
      respond(405, this.#problem(view, "Method not allowed", `Use ${allow}.`), { allow });
    try {
      if (method === "GET") {
        if (match(["live"], segments)) return this.#live();
        for (const [pattern, get] of this.#gets) {
          const params = match(pattern, segments);
          if (params === undefined) continue;
          const body = await get(view, params);
          if (body) return respond(200, body);
          return respond(404, this.#problem(view, "Not found", notFoundText(segments)));
        }
        if (this.#posts.some(([pattern]) => match(pattern, segments))) return notAllowed("POST");
      } else if (method === "POST") {
        const route = this.#posts.find(([pattern]) => match(pattern, segments));
        if (route) return await this.#post(request, view, route, segments, respond);
        if (this.#gets.some(([pattern]) => match(pattern, segments))) {
          return notAllowed("GET, HEAD");
        }
      } else {
        return notAllowed("GET, HEAD, POST");
      }
      return respond(404, this.#problem(view, "Not found", "There is no such page."));
    } catch (error) {
      return respond(...this.#failure(view, error));
    }
  }

  async #post(
    request: Request,
    view: View,
    [pattern, post]: [string[], Post],
    segments: string[],
    respond: (status: number, body: Html) => Response,
  ): Promise<Response> {
    if (view.readOnly) {
      return respond(403, this.#problem(view, "Read-only", "This dashboard is read-only."));
    }
    const length = Number(request.headers.get("content-length") ?? 0);
    if (length > MAX_FORM_BYTES) {
      return respond(413, this.#problem(view, "Too large", "The form is too large."));
    }
    let form: FormData;
    try {
      form = await request.formData();
    } catch {
      return respond(400, this.#problem(view, "Bad request", "The form could not be read."));
    }
    if (!await this.#parts.guard.allowsPost(request, form)) {
      return respond(
        403,
        this.#problem(
          view,
          "Form expired",
          "This form is out of date or came from another site. Reload the page and try again.",
        ),
      );
    }
    const outcome = await post(match(pattern, segments)!, form);
    if ("location" in outcome) {
      return new Response(null, { status: 303, headers: { location: outcome.location } });
    }
    return respond(outcome.status, this.#problem(view, "Not done", outcome.message));
  }

  /** A page's view of `url`, before the CSRF token is known. */
  #view(url: URL): View {
    const { base, readOnly, redis } = this.#parts;
    return { base, readOnly, redis, csrf: "", nonce: newNonce(), now: Date.now(), url };
  }

  async #queueJob(view: View, queue: string, jid: string): Promise<Html | undefined> {
    const entry = await this.#parts.admin.queues.find(queue, jid);
    if (!entry) return undefined;
    const path = `/queues/${encodeURIComponent(queue)}/jobs/${encodeURIComponent(jid)}/delete`;
    return await jobPage(view, entry, {
      where: `Waiting in queue ${queue}`,
      section: "/queues",
      actions: postForm(view, path, "Delete", { cls: "danger" }),
    });
  }

  #live(): Response {
    return new Response(this.#parts.live.stream(), {
      headers: {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-store",
        "x-content-type-options": "nosniff",
      },
    });
  }

  async #login(request: Request): Promise<Response> {
    const { guard, base } = this.#parts;
    let token = "";
    try {
      const value = (await request.formData()).get("token");
      if (typeof value === "string") token = value;
    } catch {
      // no form: a wrong token
    }
    const cookie = await guard.signIn(request, token);
    if (cookie === undefined) {
      return this.#loginPage(this.#view(new URL(request.url)), "That token is not right.");
    }
    return new Response(null, {
      status: 303,
      headers: { location: `${base}/`, "set-cookie": cookie },
    });
  }

  #loginPage(view: View, problem = ""): Response {
    const body = page(view, {
      title: "Sign in",
      body: markup`${problem ? markup`<p class="flash bad" role="alert">${problem}</p>` : ""}
<form class="panel" method="post" action="${view.base}/login">
<label for="token">Access token</label>
<input id="token" name="token" type="password" autocomplete="current-password" required>
<button class="btn primary" type="submit">Sign in</button></form>`,
    });
    return new Response(body.text, {
      status: 401,
      headers: { ...securityHeaders(view.nonce), "content-type": "text/html; charset=utf-8" },
    });
  }

  #problem(view: View, title: string, message: string): Html {
    return page(view, {
      title,
      body: markup`<div class="panel"><p>${message}</p>
<p><a href="${view.base}/">Back to the overview</a></p></div>`,
    });
  }

  #failure(view: View, error: unknown): [number, Html] {
    if (error instanceof AdminError) {
      return [400, this.#problem(view, "Bad request", error.message)];
    }
    if (error instanceof RedisUnavailableError) {
      return [503, this.#problem(view, "Redis unavailable", error.message)];
    }
    logger.error("web request failed: {error}", { error: messageOf(error), stack: error });
    return [500, this.#problem(view, "Something went wrong", messageOf(error))];
  }
}

function notFoundText(segments: string[]): string {
  if (segments[0] === "queues") return "No such job in this queue: a worker may have taken it.";
  if (segments[0] && SETS[segments[0]]) {
    return `No such job in ${
      SETS[segments[0]]!.label
    }: it may have been retried, deleted or moved.`;
  }
  return "There is no such page.";
}

function text(status: number, body: string): Response {
  return new Response(body + "\n", {
    status,
    headers: { "content-type": "text/plain; charset=utf-8", "x-content-type-options": "nosniff" },
  });
}
