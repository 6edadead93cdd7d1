/**
 * Who may see the dashboard and which requests may change anything.
 *
 * - Authentication (optional): HTTP basic, a token (an `Authorization: Bearer`
 *   header, or a sign-in form that sets an HttpOnly cookie holding an HMAC of
 *   the token, never the token itself), or the application's own check.
 * - CSRF: every state change is a POST carrying `_csrf`, which must equal
 *   HMAC(secret, the `verk_csrf` cookie). A page on another site can make the
 *   browser send the cookie but can neither read it nor compute the HMAC.
 *   Requests the browser marks `Sec-Fetch-Site: cross-site`, or whose `Origin`
 *   is not this server's, are refused first.
 * - Comparisons of secrets are constant-time (HMACs of both sides compared).
 * - The secret is random per process unless given: a restart then asks forms
 *   to be reloaded and token users to sign in again.
 * @module
 */

/**
 * Who may use the dashboard: HTTP basic credentials, a token, or a function
 * that decides from the request (for an application's own sessions).
 *
 * @example
 * ```ts
 * import type { WebAuth } from "@verk/verk/web";
 * const basic: WebAuth = { username: "ops", password: Deno.env.get("VERK_WEB_PASSWORD") ?? "" };
 * const token: WebAuth = { token: Deno.env.get("VERK_WEB_TOKEN") ?? "" };
 * const custom: WebAuth = (request) => request.headers.get("x-user") === "admin";
 * ```
 */
export type WebAuth =
  | { username: string; password: string }
  | { token: string }
  | ((request: Request) => boolean | Promise<boolean>);

const CSRF_COOKIE = "verk_csrf";
const AUTH_COOKIE = "verk_auth";
const encoder = new TextEncoder();

/** What the guard decided about a request. */
export type Verdict =
  | { ok: true; csrf: string; setCookies: string[] }
  | { ok: false; response: Response };

/** Authentication and CSRF checks of one dashboard. */
export class Guard {
  #auth: WebAuth | undefined;
  #key: Promise<CryptoKey>;
  #cookiePath: string;

  /** `secret`: the HMAC key (random per process when undefined). `base`: the cookie path. */
  constructor(auth: WebAuth | undefined, secret: string | undefined, base: string) {
    this.#auth = auth;
    const bytes = secret === undefined
      ? crypto.getRandomValues(new Uint8Array(32))
      : encoder.encode(secret);
    this.#key = crypto.subtle.importKey("raw", bytes, { name: "HMAC", hash: "SHA-256" }, false, [
      "sign",
    ]);
    this.#cookiePath = base === "" ? "/" : base;
  }

  /** Whether token sign-in (the form and `POST /login`) is in use. */
  get usesToken(): boolean {
    return typeof this.#auth === "object" && "token" in this.#auth;
  }

  /**
   * Checks who is asking and prepares the CSRF token for the page. The
   * refusal, when there is one, is a complete 401 response; `login` renders
   * the token sign-in page.
   */
  async check(request: Request, login: () => Response): Promise<Verdict> {
    if (!await this.#authenticated(request)) {
      return { ok: false, response: this.#refusal(login) };
    }
    const cookies = cookiesOf(request);
    const setCookies: string[] = [];
    let seed = cookies.get(CSRF_COOKIE);
    if (seed === undefined || !/^[0-9a-f]{32}$/.test(seed)) {
      seed = randomHex(16);
      setCookies.push(this.#cookie(request, CSRF_COOKIE, seed));
    }
    return { ok: true, csrf: await this.#sign(`csrf:${seed}`), setCookies };
  }

  /** Whether a POST may change state: not cross-site, and `_csrf` matches the cookie. */
  async allowsPost(request: Request, form: FormData): Promise<boolean> {
    if (crossOrigin(request)) return false;
    const seed = cookiesOf(request).get(CSRF_COOKIE);
    const sent = form.get("_csrf");
    if (seed === undefined || typeof sent !== "string") return false;
    return await this.#same(sent, await this.#sign(`csrf:${seed}`));
  }

  /** For `POST /login`: the cookie that signs in when `token` is right, else undefined. */
  async signIn(request: Request, token: string): Promise<string | undefined> {
    const auth = this.#auth;
    if (typeof auth !== "object" || !("token" in auth)) return undefined;
    if (!await this.#same(token, auth.token)) return undefined;
    return this.#cookie(request, AUTH_COOKIE, await this.#sign(`auth:${auth.token}`));
  }

  async #authenticated(request: Request): Promise<boolean> {
    const auth = this.#auth;
    if (auth === undefined) return true;
    if (typeof auth === "function") return await auth(request) === true;
    const header = request.headers.get("authorization") ?? "";
    if ("token" in auth) {
      const bearer = /^Bearer\s+(\S+)$/i.exec(header)?.[1];
      if (bearer !== undefined) return await this.#same(bearer, auth.token);
      const cookie = cookiesOf(request).get(AUTH_COOKIE);
      return cookie !== undefined &&
        await this.#same(cookie, await this.#sign(`auth:${auth.token}`));
    }
    const basic = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(header)?.[1];
    if (basic === undefined) return false;
    let decoded: string;
    try {
      decoded = new TextDecoder().decode(Uint8Array.from(atob(basic), (c) => c.charCodeAt(0)));
    } catch {
      return false;
    }
    const colon = decoded.indexOf(":");
    if (colon < 0) return false;
    const userOk = await this.#same(decoded.slice(0, colon), auth.username);
    const passwordOk = await this.#same(decoded.slice(colon + 1), auth.password);
    return userOk && passwordOk;
  }

  #refusal(login: () => Response): Response {
    const auth = this.#auth;
    if (typeof auth === "object" && "username" in auth) {
      return new Response("Authentication required\n", {
        status: 401,
        headers: {
          "www-authenticate": 'Basic realm="Verk", charset="UTF-8"',
          "content-type": "text/plain; charset=utf-8",
        },
      });
    }
    if (typeof auth === "object") {
      const response = login();
      response.headers.set("www-authenticate", 'Bearer realm="Verk"');
      return response;
    }
    return new Response("Forbidden\n", {
      status: 401,
      headers: { "content-type": "text/plain; charset=utf-8" },
    });
  }

  async #sign(text: string): Promise<string> {
    const mac = await crypto.subtle.sign("HMAC", await this.#key, encoder.encode(text));
    return toBase64Url(new Uint8Array(mac));
  }

  /** Constant-time equality: compares HMACs of both sides, whatever their lengths. */
  async #same(a: string, b: string): Promise<boolean> {
    const [x, y] = await Promise.all([this.#sign(`eq:${a}`), this.#sign(`eq:${b}`)]);
    let diff = 0;
    for (let i = 0; i < x.length; i++) diff |= x.charCodeAt(i) ^ y.charCodeAt(i);
    return diff === 0;
  }

  #cookie(request: Request, name: string, value: string): string {
    const secure = new URL(request.url).protocol === "https:" ? "; Secure" : "";
    return `${name}=${value}; Path=${this.#cookiePath}; HttpOnly; SameSite=Strict${secure}`;
  }
}

/** The request's cookies by name (the first of each). */
function cookiesOf(request: Request): Map<string, string> {
  const cookies = new Map<string, string>();
  for (const part of (request.headers.get("cookie") ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim();
    if (!cookies.has(name)) cookies.set(name, part.slice(eq + 1).trim());
  }
  return cookies;
}

function randomHex(bytes: number): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(bytes)))
    .map((byte) => byte.toString(16).padStart(2, "0")).join("");
}

function toBase64Url(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_")
    .replace(/=+$/, "");
}

/**
 * Headers for every HTML response: a CSP that allows only this response's
 * inline style and script (by nonce) and same-origin requests, no framing, no
 * sniffing, no referrer to other sites, no caching of job data.
 */
export function securityHeaders(nonce: string): Record<string, string> {
  return {
    "content-security-policy": [
      "default-src 'none'",
      `style-src 'nonce-${nonce}'`,
      `script-src 'nonce-${nonce}'`,
      "img-src 'self' data:",
      "connect-src 'self'",
      "form-action 'self'",
      "frame-ancestors 'none'",
      "base-uri 'none'",
    ].join("; "),
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "cache-control": "no-store",
  };
}

/** A fresh nonce for one response's CSP. */
export function newNonce(): string {
  return randomHex(16);
}

/** A request another origin sent: `Sec-Fetch-Site: cross-site`, or an `Origin` not the request's own. */
function crossOrigin(request: Request): boolean {
  if (request.headers.get("sec-fetch-site") === "cross-site") return true;
  const origin = request.headers.get("origin");
  if (origin === null || origin === "null") return origin === "null";
  // Behind a proxy the request URL's host may differ: the Host header is what the browser used.
  const host = request.headers.get("host") ?? new URL(request.url).host;
  try {
    return new URL(origin).host !== host;
  } catch {
    return true;
  }
}
