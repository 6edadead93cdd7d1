/**
 * Driving the web handler with plain `Request`s, as a browser would: GET a
 * page, keep its cookies and CSRF token, POST a form with them.
 */
import assert from "node:assert/strict";
import type { WebHandler } from "../../src/web/mod.ts";

/** The origin test requests use. */
export const ORIGIN = "http://verk.test";

/** A browser-like session: its cookies, and the CSRF token of the last page read. */
export class Session {
  readonly cookies = new Map<string, string>();
  csrf = "";
  headers: Record<string, string>;

  constructor(readonly handler: WebHandler, headers: Record<string, string> = {}) {
    this.headers = headers;
  }

  /** GETs `path`; keeps the cookies it sets and the CSRF token in its forms. */
  async get(path: string): Promise<{ status: number; body: string; response: Response }> {
    const response = await this.handler(
      new Request(ORIGIN + path, { headers: this.#headers() }),
    );
    this.#keep(response);
    const body = await response.text();
    const token = /name="_csrf" value="([^"]+)"/.exec(body)?.[1];
    if (token) this.csrf = token;
    return { status: response.status, body, response };
  }

  /** GETs `path` and asserts a 200 HTML page. */
  async page(path: string): Promise<string> {
    const { status, body, response } = await this.get(path);
    assert.equal(status, 200, `GET ${path}: ${status}\n${body.slice(0, 2000)}`);
    assert.match(response.headers.get("content-type") ?? "", /^text\/html/);
    return body;
  }

  /** POSTs a form with the session's cookies and (unless given) its CSRF token. */
  async post(
    path: string,
    fields: [string, string][] | Record<string, string>,
    headers: Record<string, string> = {},
  ): Promise<Response> {
    const form = new URLSearchParams(Array.isArray(fields) ? fields : Object.entries(fields));
    if (!form.has("_csrf")) form.set("_csrf", this.csrf);
    const response = await this.handler(
      new Request(ORIGIN + path, {
        method: "POST",
        headers: {
          ...this.#headers(),
          "content-type": "application/x-www-form-urlencoded",
          ...headers,
        },
        body: form,
      }),
    );
    this.#keep(response);
    return response;
  }

  /** POSTs and asserts the 303 back to a page; returns where it points. */
  async act(path: string, fields: [string, string][] | Record<string, string>): Promise<string> {
    const response = await this.post(path, fields);
    const body = await response.text();
    assert.equal(response.status, 303, `POST ${path}: ${response.status}\n${body.slice(0, 2000)}`);
    return response.headers.get("location")!;
  }

  #headers(): Record<string, string> {
    const cookie = [...this.cookies].map(([name, value]) => `${name}=${value}`).join("; ");
    return cookie ? { ...this.headers, cookie } : { ...this.headers };
  }

  #keep(response: Response): void {
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(";");
      const eq = pair!.indexOf("=");
      this.cookies.set(pair!.slice(0, eq), pair!.slice(eq + 1));
    }
  }
}

/** The rows of the table whose rows carry `data-jid`, as jids. */
export function jidsIn(body: string): string[] {
  return [...body.matchAll(/<tr data-jid="([^"]*)"/g)].map((match) => match[1]!);
}
