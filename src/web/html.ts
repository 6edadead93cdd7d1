/**
 * HTML building with escaping by default: `markup` escapes every interpolated
 * value unless it is already `Html` (the result of another `markup`). Job
 * payloads are untrusted data (`<script>` in args must render as text), so no
 * page builds markup by string concatenation.
 * @module
 */
import { epochMsOf } from "../job.ts";
import { relativeTime } from "../cli/format.ts";

/** Markup that is safe to insert as it is. */
export class Html {
  /** The markup. */
  readonly text: string;
  constructor(text: string) {
    this.text = text;
  }
  toString(): string {
    return this.text;
  }
}

const ENTITIES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/** Text made safe for element content and double- or single-quoted attributes. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => ENTITIES[char]!);
}

/** An interpolated value as markup: Html as is, arrays joined, nullish and false as nothing. */
function render(value: unknown): string {
  if (value instanceof Html) return value.text;
  if (Array.isArray(value)) return value.map(render).join("");
  if (value === undefined || value === null || value === false) return "";
  return escapeHtml(String(value));
}

/**
 * A template whose interpolations are escaped (see the module doc). Named
 * `markup` rather than `html` so that `deno fmt` leaves the template text alone.
 */
export function markup(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) out += render(values[i]) + strings[i + 1]!;
  return new Html(out);
}

/** Markup from trusted text (constant CSS and script only). */
export function raw(text: string): Html {
  return new Html(text);
}

/**
 * A time as `<time>`: relative text ("3 min ago"), the absolute UTC time as
 * tooltip, and epoch ms in `data-v` for sorting. "-" when unknown.
 */
export function timeTag(at: Date | number | undefined, nowMs: number): Html {
  const ms = at instanceof Date ? at.getTime() : at;
  if (ms === undefined || !Number.isFinite(ms)) return markup`<span data-v="0">-</span>`;
  const iso = new Date(ms).toISOString();
  return markup`<time datetime="${iso}" title="${iso}" data-v="${ms}">${
    relativeTime(ms, nowMs)
  }</time>`;
}

/** A stored job timestamp (epoch seconds or ms), or undefined. */
export function jobTime(value: number | undefined): number | undefined {
  return value === undefined ? undefined : epochMsOf(value);
}

/**
 * JSON text re-indented without being parsed, so big integers and key order
 * stay exactly as stored. Text that is not JSON comes back unchanged in
 * structure (it is only re-spaced outside strings).
 */
export function prettyJson(text: string, indent = "  "): string {
  let out = "";
  let depth = 0;
  let inString = false;
  const newline = () => "\n" + indent.repeat(depth);
  for (let i = 0; i < text.length; i++) {
    const char = text[i]!;
    if (inString) {
      out += char;
      if (char === "\\") out += text[++i] ?? "";
      else if (char === '"') inString = false;
      continue;
    }
    if (char === '"') {
      inString = true;
      out += char;
    } else if (char === "{" || char === "[") {
      const close = char === "{" ? "}" : "]";
      const next = text.slice(i + 1).trimStart()[0];
      if (next === close) {
        out += char + close;
        i = text.indexOf(close, i + 1);
      } else {
        depth++;
        out += char + newline();
      }
    } else if (char === "}" || char === "]") {
      depth = Math.max(0, depth - 1);
      out += newline() + char;
    } else if (char === ",") {
      out += "," + newline();
    } else if (char === ":") {
      out += ": ";
    } else if (!/\s/.test(char)) {
      out += char;
    }
  }
  return out;
}
