/**
 * The page shell (header, navigation, flash message) and the pieces every page
 * shares: sortable tables, pagers, POST forms with their CSRF field, empty
 * states. Read-only mode is applied here: `postForm` renders nothing then.
 * @module
 */
import type { Page } from "../admin/entry.ts";
import { plural } from "../cli/format.ts";
import { CSS, SCRIPT } from "./assets.ts";
import { type Html, markup, raw } from "./html.ts";

/** What every page knows about the request it answers. */
export interface View {
  /** The path prefix, `""` or `/verk`. */
  base: string;
  /** Hide actions. */
  readOnly: boolean;
  /** The CSRF token for forms. */
  csrf: string;
  /** The nonce of this response's inline style and script. */
  nonce: string;
  /** When the page is rendered, epoch ms. */
  now: number;
  /** The request URL. */
  url: URL;
  /** Where the data comes from (`redis://host:port/db`, no password). */
  redis: string;
}

const NAV = [
  ["", "Overview"],
  ["/queues", "Queues"],
  ["/busy", "Busy"],
  ["/retries", "Retries"],
  ["/scheduled", "Scheduled"],
  ["/dead", "Dead"],
] as const;

/** The path of a section of the nav, for `page({ section })`. */
export type Section = (typeof NAV)[number][0];

/** The message shown after an action, from the `done` and `n` query parameters. */
const FLASH: Record<string, (n: number) => string> = {
  run: (n) => `Enqueued ${plural(n, "job")}.`,
  deleted: (n) => `Deleted ${plural(n, "job")}.`,
  killed: (n) => `Moved ${plural(n, "job")} to the dead set.`,
  cleared: (n) => `Deleted all ${plural(n, "job")}.`,
  "run-all": (n) => `Enqueued all ${plural(n, "job")}.`,
  paused: () => "Paused on every node. Running jobs finish first.",
  resumed: () => "Resumed on every node.",
  recovered: (n) => `Put ${plural(n, "job")} back on their queues.`,
  none: () => "Nothing was selected.",
};

/** A whole HTML page. */
export function page(
  view: View,
  options: { title: string; section?: Section; body: Html | (Html | string)[] },
): Html {
  const { base, nonce } = view;
  const nav = NAV.map(([path, label]) => {
    const current = path === options.section ? raw(' aria-current="page"') : "";
    return markup`<li><a href="${base}${path || "/"}"${current}>${label}</a></li>`;
  });
  return markup`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>${options.title} · Verk</title>
<style nonce="${nonce}">${raw(CSS)}</style>
</head>
<body>
<header>
<a class="brand" href="${base}/">Verk</a>
<nav aria-label="Sections"><ul>${nav}</ul></nav>
${view.readOnly ? markup`<span class="tag">read-only</span>` : ""}
<span class="muted mono hide-sm">${view.redis}</span>
</header>
<main>
<h1>${options.title}</h1>
${flash(view.url)}
${options.body}
</main>
<script nonce="${nonce}">${raw(SCRIPT)}</script>
</body>
</html>
`;
}

function flash(url: URL): Html | string {
  const done = url.searchParams.get("done");
  const message = done === null ? undefined : FLASH[done];
  if (!message) return "";
  const n = Number(url.searchParams.get("n") ?? 0);
  const missed = Number(url.searchParams.get("missed") ?? 0);
  const gone = missed > 0 ? ` ${plural(missed, "job")} had already moved on.` : "";
  const cls = done === "none" ? "flash bad" : "flash";
  return markup`<p class="${cls}" role="status">${message(Number.isFinite(n) ? n : 0)}${gone}</p>`;
}

/** A column of `table`: its label, how it sorts (none when omitted), a class. */
export interface Column {
  label: string | Html;
  sort?: "num" | "text";
  class?: string;
}

/** A sortable table in a horizontal scroller. */
export function table(columns: Column[], rows: Html[]): Html {
  const head = columns.map((column) => {
    const cls = column.class ? markup` class="${column.class}"` : "";
    return column.sort
      ? markup`<th scope="col" data-sort="${column.sort}"${cls}><button type="button">${column.label}</button></th>`
      : markup`<th scope="col"${cls}>${column.label}</th>`;
  });
  return markup`<div class="scroll"><table class="sortable">
<thead><tr>${head}</tr></thead>
<tbody>
${
    rows.map((row) =>
      markup`${row}
`
    )
  }</tbody>
</table></div>`;
}

/** A number cell, right-aligned and sortable. */
export function numCell(value: number, cls = ""): Html {
  const classes = cls ? `num ${cls}` : "num";
  return markup`<td class="${classes}" data-v="${value}">${value.toLocaleString("en-US")}</td>`;
}

/** An empty state in place of a table. */
export function empty(text: string): Html {
  return markup`<div class="panel empty">${text}</div>`;
}

/** "Page 2 of 5 (112 jobs)" with previous/next links keeping the other query parameters. */
export function pager(view: View, page: Page<unknown>, noun = "job"): Html {
  const link = (to: number, label: string, rel: string) => {
    const url = new URL(view.url);
    url.searchParams.set("page", String(to));
    for (const key of ["done", "n", "missed"]) url.searchParams.delete(key);
    return markup`<a href="${url.pathname}${url.search}" rel="${rel}">${label}</a>`;
  };
  const pages = Math.max(1, page.pages);
  const previous = page.page > 1 ? link(Math.min(page.page - 1, pages), "‹ Previous", "prev") : "";
  const next = page.page < page.pages ? link(page.page + 1, "Next ›", "next") : "";
  return markup`<div class="pager"><span>Page ${page.page} of ${pages} (${
    plural(page.total, noun)
  })</span>${previous}${next}</div>`;
}

/** The hidden CSRF field of every POST form. */
export function csrfField(view: View): Html {
  return markup`<input type="hidden" name="_csrf" value="${view.csrf}">`;
}

/** A one-button POST form (nothing in read-only mode). */
export function postForm(
  view: View,
  action: string,
  label: string,
  options: { fields?: Record<string, string>; cls?: string } = {},
): Html | string {
  if (view.readOnly) return "";
  const fields = Object.entries(options.fields ?? {}).map(([name, value]) =>
    markup`<input type="hidden" name="${name}" value="${value}">`
  );
  const cls = options.cls ? `btn ${options.cls}` : "btn";
  return markup`<form class="inline" method="post" action="${view.base}${action}">${
    csrfField(view)
  }${fields}<button class="${cls}" type="submit">${label}</button></form>`;
}

/**
 * A destructive action behind a disclosure: "Delete all…" opens a short
 * question with the button that does it (no script needed).
 */
export function confirmForm(
  view: View,
  action: string,
  summary: string,
  question: string,
  fields: Record<string, string>,
  destructive = true,
): Html | string {
  if (view.readOnly) return "";
  const button = postForm(view, action, "Yes, " + summary.replace(/…$/, "").toLowerCase(), {
    fields: { ...fields, confirm: "yes" },
    cls: destructive ? "danger" : "primary",
  });
  return markup`<details class="confirm"><summary class="${
    destructive ? "btn danger" : "btn"
  }">${summary}</summary><div><p>${question}</p>${button}</div></details>`;
}

/** A link to a path under the dashboard, each segment encoded. */
export function href(view: View, ...segments: string[]): string {
  return view.base + "/" + segments.map(encodeURIComponent).join("/");
}
