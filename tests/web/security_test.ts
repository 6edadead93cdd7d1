import assert from "node:assert/strict";
import { ConfigError } from "../../mod.ts";
import { createWebHandler } from "../../src/web/mod.ts";
import { failJobs } from "../_helpers/jobs.ts";
import { startRedis } from "../_helpers/redis.ts";
import { inspector } from "../_helpers/verk.ts";
import { ORIGIN, Session } from "../_helpers/web.ts";

Deno.test("web: a POST without a valid CSRF token is refused with 403 and changes nothing", async () => {
  await using redis = await startRedis();
  const [jid] = await failJobs(redis.url, [{}]);
  await using db = inspector(redis.url);
  await using web = createWebHandler({ redisUrl: redis.url });
  const fields = { action: "delete", jid: jid! };

  const stranger = new Session(web); // never loaded a page: no cookie, no token
  assert.equal((await stranger.post("/retries", fields)).status, 403);

  const session = new Session(web);
  await session.page("/retries");
  assert.match(session.cookies.get("verk_csrf")!, /^[0-9a-f]{32}$/);
  const token = session.csrf;
  assert.equal((await session.post("/retries", { ...fields, _csrf: "forged" })).status, 403);
  assert.equal((await session.post("/retries", { ...fields, _csrf: "" })).status, 403);

  // A token is bound to its cookie: another browser's token does not work here.
  const other = new Session(web);
  await other.page("/retries");
  assert.notEqual(other.csrf, token);
  assert.equal((await session.post("/retries", { ...fields, _csrf: other.csrf })).status, 403);

  // A cross-site form post, even with the right token, is refused.
  const crossSite = await session.post("/retries", fields, { "sec-fetch-site": "cross-site" });
  assert.equal(crossSite.status, 403);
  assert.match(await crossSite.text(), /Reload the page and try again/);
  // So is one from another Origin (browsers without Sec-Fetch-Site still send Origin).
  const foreign = await session.post("/retries", fields, { origin: "http://evil.example" });
  assert.equal(foreign.status, 403);
  await foreign.body?.cancel();
  assert.equal(await db.zcard("retry"), 1, "nothing was deleted");

  assert.equal(await session.act("/retries", fields), "/retries?done=deleted&n=1");
  assert.equal(await db.zcard("retry"), 0);
});

Deno.test("web: GET never changes state, and the CSRF cookie is HttpOnly and SameSite=Strict", async () => {
  await using redis = await startRedis();
  await failJobs(redis.url, [{}]);
  await using db = inspector(redis.url);
  await using web = createWebHandler({ redisUrl: redis.url, basePath: "/verk" });
  const response = await web(new Request(`${ORIGIN}/verk/retries?action=clear&confirm=yes`));
  await response.body?.cancel();
  assert.equal(response.status, 200);
  assert.equal(await db.zcard("retry"), 1);
  const cookie = response.headers.get("set-cookie")!;
  assert.match(cookie, /^verk_csrf=[0-9a-f]{32}; Path=\/verk; HttpOnly; SameSite=Strict$/);
  const secure = await web(new Request("https://verk.test/verk/"));
  await secure.body?.cancel();
  assert.match(secure.headers.get("set-cookie")!, /; Secure$/);
});

Deno.test("web: basic auth refuses missing or wrong credentials with 401 and a challenge", async () => {
  await using redis = await startRedis();
  await using web = createWebHandler({
    redisUrl: redis.url,
    auth: { username: "ops", password: "s3cret:with colon" },
  });
  const basic = (user: string, password: string) => ({
    authorization: `Basic ${btoa(`${user}:${password}`)}`,
  });
  for (
    const headers of [{}, basic("ops", "wrong"), basic("root", "s3cret:with colon"), {
      authorization: "Basic !!!",
    }]
  ) {
    const response = await new Session(web, headers).get("/queues");
    assert.equal(response.status, 401, JSON.stringify(headers));
    assert.match(response.response.headers.get("www-authenticate")!, /^Basic realm="Verk"/);
    assert.doesNotMatch(response.body, /Queues/);
  }
  const post = await new Session(web).post("/retries", { action: "clear", confirm: "yes" });
  assert.equal(post.status, 401, "POSTs need authentication too");
  const ok = new Session(web, basic("ops", "s3cret:with colon"));
  assert.match(await ok.page("/queues"), /No queues yet/);
});

Deno.test("web: token auth takes a bearer header, or signs in with a form that sets a cookie", async () => {
  await using redis = await startRedis();
  const token = "t0ken-for-the-dashboard";
  await using web = createWebHandler({ redisUrl: redis.url, auth: { token }, basePath: "/verk" });
  const page = await new Session(web).get("/verk/dead");
  assert.equal(page.status, 401);
  assert.match(page.body, /<form class="panel" method="post" action="\/verk\/login">/);
  assert.equal(
    (await new Session(web, { authorization: "Bearer nope" }).get("/verk/")).status,
    401,
  );
  assert.equal(
    (await new Session(web, { authorization: `Bearer ${token}` }).get("/verk/dead")).status,
    200,
  );

  const browser = new Session(web);
  const wrong = await browser.post("/verk/login", { token: "guess" });
  assert.equal(wrong.status, 401);
  assert.match(await wrong.text(), /That token is not right/);
  assert.equal(browser.cookies.has("verk_auth"), false);
  const signedIn = await browser.post("/verk/login", { token });
  await signedIn.body?.cancel();
  assert.equal(signedIn.status, 303);
  assert.equal(signedIn.headers.get("location"), "/verk/");
  assert.match(signedIn.headers.get("set-cookie")!, /^verk_auth=[\w-]+; Path=\/verk; HttpOnly/);
  assert.ok(!browser.cookies.get("verk_auth")!.includes(token), "the cookie is not the token");
  assert.match(await browser.page("/verk/dead"), /No dead jobs/);

  const forged = new Session(web);
  forged.cookies.set("verk_auth", "AAAA");
  assert.equal((await forged.get("/verk/")).status, 401);
});

Deno.test("web: an auth function decides from the request", async () => {
  await using redis = await startRedis();
  await using web = createWebHandler({
    redisUrl: redis.url,
    auth: (request) => request.headers.get("x-user") === "admin",
  });
  assert.equal((await new Session(web).get("/")).status, 401);
  assert.equal((await new Session(web, { "x-user": "admin" }).get("/")).status, 200);
});

Deno.test("web: read-only mode shows no forms or buttons and refuses every POST", async () => {
  await using redis = await startRedis();
  const [retry] = await failJobs(redis.url, [{}]);
  await failJobs(redis.url, [{ maxRetryCount: 0 }]);
  await using db = inspector(redis.url);
  await db.lpush("queue:default", '{"class":"A","args":[],"jid":"q1","queue":"default"}');
  await db.sadd("verk_nodes", "ghost");
  await using web = createWebHandler({ redisUrl: redis.url, readOnly: true });
  const session = new Session(web);
  for (
    const path of [
      "/",
      "/queues",
      "/queues/default",
      "/queues/default/jobs/q1",
      "/busy",
      "/retries",
      `/retries/${retry}`,
      "/dead",
    ]
  ) {
    const body = await session.page(path);
    assert.doesNotMatch(body, /<form|<button class="btn|type="checkbox"/, path);
    assert.match(body, /<span class="tag">read-only<\/span>/);
  }
  for (
    const [path, fields] of [
      ["/retries", { action: "clear", confirm: "yes" }],
      ["/queues/default/pause", {}],
      [`/retries/${retry}`, { action: "delete" }],
    ] as const
  ) {
    const response = await session.post(path, fields);
    assert.equal(response.status, 403, path);
    assert.match(await response.text(), /read-only/);
  }
  assert.equal(await db.zcard("retry"), 1);
  assert.equal(await db.sismember("verk:paused", "default"), 0);
});

Deno.test("web: under a base path every link, form and cookie carries it; other paths are 404", async () => {
  await using redis = await startRedis();
  await failJobs(redis.url, [{}]);
  await using web = createWebHandler({ redisUrl: redis.url, basePath: "/admin/verk/" });
  const session = new Session(web);
  const body = await session.page("/admin/verk/retries");
  const links = [...body.matchAll(/(?:href|action|data-src)="([^"]*)"/g)].map((m) => m[1]!);
  assert.ok(links.length > 10);
  for (const link of links) {
    if (link.startsWith("data:")) continue;
    assert.match(link, /^\/admin\/verk(\/|$)|^\?/, link);
  }
  assert.equal((await session.get("/admin/verk")).status, 200);
  assert.equal((await session.get("/admin/verkx")).status, 404);
  assert.equal((await session.get("/retries")).status, 404);
});

Deno.test("createWebHandler() validates its options and names the one at fault", () => {
  const refused = (options: Parameters<typeof createWebHandler>[0], option: string) =>
    assert.throws(() => createWebHandler(options), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.option, option);
      return true;
    });
  refused({ basePath: "verk" }, "basePath");
  refused({ basePath: "/a b" }, "basePath");
  refused({ auth: { token: "" } }, "auth");
  refused({ auth: { username: "ops", password: "" } }, "auth");
  refused({ secret: "short" }, "secret");
  refused({ redisUrl: "http://x" }, "redisUrl");
  refused({ timeout: 0 }, "timeout");
});
