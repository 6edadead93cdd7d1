import assert from "node:assert/strict";
import { escapeHtml, markup, prettyJson, raw, timeTag } from "../../src/web/html.ts";
import { optionsFromEnv } from "../../src/web/serve.ts";
import { ConfigError } from "../../mod.ts";

Deno.test("markup escapes every interpolation unless it is markup already", () => {
  const evil = `<img src=x onerror="alert('1')">&`;
  assert.equal(escapeHtml(evil), "&lt;img src=x onerror=&quot;alert(&#39;1&#39;)&quot;&gt;&amp;");
  const inner = markup`<b>${evil}</b>`;
  assert.equal(
    markup`<p title="${evil}">${inner}${[1, markup`<i>2</i>`]}${undefined}${null}${false}${0}</p>`
      .text,
    `<p title="${escapeHtml(evil)}"><b>${escapeHtml(evil)}</b>1<i>2</i>0</p>`,
  );
  assert.equal(markup`${raw("<br>")}`.text, "<br>");
});

Deno.test("prettyJson() indents JSON text without parsing it: big integers and escapes stay", () => {
  const text = '{"args":[12345678901234567890,"a,b:{c}",{"x":[]},{}],"s":"q\\"uote","n":null}';
  assert.equal(
    prettyJson(text),
    `{
  "args": [
    12345678901234567890,
    "a,b:{c}",
    {
      "x": []
    },
    {}
  ],
  "s": "q\\"uote",
  "n": null
}`,
  );
  assert.equal(prettyJson("not json"), "notjson", "non-JSON is only re-spaced");
});

Deno.test("timeTag() gives relative text, the absolute time and a sort value", () => {
  const now = Date.UTC(2026, 11, 3, 12, 0, 0);
  assert.equal(
    timeTag(now - 180_000, now).text,
    '<time datetime="2026-12-03T11:57:00.000Z" title="2026-12-03T11:57:00.000Z" data-v="1796299020000">3 min ago</time>',
  );
  assert.equal(timeTag(undefined, now).text, '<span data-v="0">-</span>');
});

Deno.test("optionsFromEnv() reads the VERK_WEB_* variables that are set, and refuses bad ones", () => {
  const env = (vars: Record<string, string>) => (name: string) => vars[name];
  assert.deepEqual(optionsFromEnv(env({})), {});
  assert.deepEqual(
    optionsFromEnv(env({
      VERK_REDIS_URL: "redis://r:6379/2",
      VERK_WEB_HOST: "0.0.0.0",
      VERK_WEB_PORT: "8080",
      VERK_WEB_BASE_PATH: "/verk",
      VERK_WEB_USERNAME: "ops",
      VERK_WEB_PASSWORD: "pw",
      VERK_WEB_READ_ONLY: "true",
      VERK_WEB_SECRET: "0123456789abcdef",
    })),
    {
      redisUrl: "redis://r:6379/2",
      hostname: "0.0.0.0",
      port: 8080,
      basePath: "/verk",
      auth: { username: "ops", password: "pw" },
      readOnly: true,
      secret: "0123456789abcdef",
    },
  );
  assert.deepEqual(optionsFromEnv(env({ VERK_WEB_TOKEN: "t" })).auth, { token: "t" });
  assert.throws(() => optionsFromEnv(env({ VERK_WEB_PORT: "http" })), ConfigError);
  assert.throws(() => optionsFromEnv(env({ VERK_WEB_READ_ONLY: "yes" })), ConfigError);
});
