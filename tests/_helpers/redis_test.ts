import assert from "node:assert/strict";
import { eventually, RedisReplyError, startRedis } from "./redis.ts";

/** Outage tests need a server the helper started; an external one cannot be stopped. */
const external = Boolean(Deno.env.get("VERK_TEST_REDIS_URL"));

/** Whether something accepts TCP connections on 127.0.0.1:`port`. */
async function listening(port: number): Promise<boolean> {
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.close();
    return true;
  } catch {
    return false;
  }
}

Deno.test("startRedis() gives a server that answers PING and round-trips SET/GET", async () => {
  await using redis = await startRedis();
  assert.equal(redis.url, `redis://127.0.0.1:${redis.port}/${redis.db}`);
  assert.equal(await redis.command("PING"), "PONG");
  assert.equal(await redis.command("SET", "greeting", "hello"), "OK");
  assert.equal(await redis.command("GET", "greeting"), "hello");
  assert.equal(await redis.command("DBSIZE"), 1);
});

Deno.test({
  name: "startRedis() starts an empty throwaway server on db 0 without snapshots",
  ignore: external,
  async fn() {
    await using redis = await startRedis();
    assert.equal(redis.db, 0);
    assert.equal(redis.external, false);
    assert.equal(await redis.command("DBSIZE"), 0);
    assert.deepEqual(await redis.command("CONFIG", "GET", "save"), ["save", ""]);
    assert.deepEqual(await redis.command("CONFIG", "GET", "appendonly"), ["appendonly", "no"]);
    assert.deepEqual(await redis.command("CONFIG", "GET", "bind"), ["bind", "127.0.0.1"]);
    assert.deepEqual(await redis.command("CONFIG", "GET", "proto-max-bulk-len"), [
      "proto-max-bulk-len",
      String(64 * 1024 * 1024),
    ]);
  },
});

Deno.test({
  name: "startRedis() gives concurrent callers separate servers",
  ignore: external,
  async fn() {
    const [a, b] = await Promise.all([startRedis(), startRedis()]);
    await using _a = a;
    await using _b = b;
    assert.notEqual(a.port, b.port);
    await a.command("SET", "only-in-a", "1");
    assert.equal(await b.command("EXISTS", "only-in-a"), 0);
  },
});

Deno.test("command() parses integers, nulls, arrays, nested arrays and nested errors", async () => {
  await using redis = await startRedis();
  assert.equal(await redis.command("INCRBY", "counter", 41), 41);
  assert.equal(await redis.command("INCR", "counter"), 42);
  assert.equal(await redis.command("GET", "missing"), null);
  assert.equal(await redis.command("RPUSH", "list", "a", "b", "c"), 3);
  assert.deepEqual(await redis.command("LRANGE", "list", 0, -1), ["a", "b", "c"]);
  assert.deepEqual(await redis.command("LRANGE", "missing", 0, -1), []);
  assert.deepEqual(
    await redis.command("EVAL", "return {1, {'x', {2}}, false, 'y'}", 0),
    [1, ["x", [2]], null, "y"],
  );
  const [first, error] = await redis.command(
    "EVAL",
    "return {7, redis.error_reply('BOOM nested')}",
    0,
  ) as [unknown, unknown];
  assert.equal(first, 7);
  assert.ok(error instanceof RedisReplyError);
  assert.equal(error.message, "BOOM nested");
});

Deno.test("command() returns integers beyond 2^53 as bigint", async () => {
  await using redis = await startRedis();
  await redis.command("SET", "big", "9007199254740993");
  assert.equal(await redis.command("INCRBY", "big", 1), 9007199254740994n);
});

Deno.test("command() keeps multi-byte text and CRLF inside values intact", async () => {
  await using redis = await startRedis();
  const value = 'ü€😀 "quoted"\r\nsecond line\r\n';
  await redis.command("SET", "text", value);
  assert.equal(await redis.command("GET", "text"), value);
  assert.equal(await redis.command("STRLEN", "text"), new TextEncoder().encode(value).length);
});

Deno.test("command() reads replies far larger than one read", async () => {
  await using redis = await startRedis();
  const big = "x".repeat(3 * 1024 * 1024 + 7);
  await redis.command("SET", "big", big);
  assert.equal(await redis.command("GET", "big"), big);
  const items = Array.from({ length: 20_000 }, (_, i) => `item-${i}`);
  await redis.command("RPUSH", "many", ...items);
  assert.deepEqual(await redis.command("LRANGE", "many", 0, -1), items);
});

Deno.test("command() rejects with the error reply Redis sends", async () => {
  await using redis = await startRedis();
  await assert.rejects(redis.command("NOSUCHCOMMAND", "x"), (error: unknown) => {
    assert.ok(error instanceof RedisReplyError);
    assert.match(error.message, /^ERR unknown command 'NOSUCHCOMMAND'/);
    return true;
  });
  await redis.command("SET", "s", "v");
  await assert.rejects(redis.command("LPUSH", "s", "x"), { message: /^WRONGTYPE/ });
});

Deno.test({
  name: "restart() keeps data written before it when appendOnly is on",
  ignore: external,
  async fn() {
    await using redis = await startRedis({ appendOnly: true });
    const port = redis.port;
    await redis.command("SET", "kept", "yes");
    await redis.command("RPUSH", "queue:default", "job-1", "job-2");
    await redis.restart();
    assert.equal(redis.port, port);
    assert.equal(await redis.command("GET", "kept"), "yes");
    assert.deepEqual(await redis.command("LRANGE", "queue:default", 0, -1), ["job-1", "job-2"]);
  },
});

Deno.test({
  name: "kill('SIGKILL') then restart() keeps every acknowledged write when appendOnly is on",
  ignore: external,
  async fn() {
    await using redis = await startRedis({ appendOnly: true });
    for (let i = 0; i < 50; i++) await redis.command("LPUSH", "jobs", `job-${i}`);
    await redis.kill("SIGKILL");
    await redis.restart();
    assert.equal(await redis.command("LLEN", "jobs"), 50);
  },
});

Deno.test({
  name: "restart() without appendOnly starts an empty server",
  ignore: external,
  async fn() {
    await using redis = await startRedis();
    await redis.command("SET", "lost", "yes");
    await redis.restart();
    assert.equal(await redis.command("GET", "lost"), null);
  },
});

Deno.test({
  name: "command() fails while the server is down and works again after restart()",
  ignore: external,
  async fn() {
    await using redis = await startRedis();
    await redis.kill();
    assert.equal(await listening(redis.port), false);
    await assert.rejects(redis.command("PING"), (error: unknown) => {
      assert.ok(error instanceof RedisReplyError);
      assert.match(
        error.message,
        new RegExp(`cannot connect to Redis at 127\\.0\\.0\\.1:${redis.port}`),
      );
      return true;
    });
    await redis.restart();
    assert.equal(await redis.command("PING"), "PONG");
  },
});

Deno.test({
  name: "stop() frees the port, a second stop() does nothing, and restart() then refuses",
  ignore: external,
  async fn() {
    const redis = await startRedis();
    assert.equal(await listening(redis.port), true);
    await redis.stop();
    assert.equal(await listening(redis.port), false);
    const listener = Deno.listen({ hostname: "127.0.0.1", port: redis.port });
    listener.close();
    await redis.stop();
    await assert.rejects(redis.restart(), /restart\(\) after stop\(\)/);
  },
});

Deno.test({
  name: "startRedis({ url }) claims its own database on an external server and flushes only it",
  ignore: external,
  async fn() {
    await using server = await startRedis();
    // Data in every database, written from a script so this connection stays on db 0.
    await server.command(
      "EVAL",
      "for db = 0, 15 do redis.call('SELECT', db) redis.call('SET', 'owner', 'db-' .. db) end",
      0,
    );
    const a = await startRedis({ url: server.url });
    const b = await startRedis({ url: server.url });
    assert.equal(a.external, true);
    assert.equal(a.port, server.port);
    assert.notEqual(a.db, 0);
    assert.notEqual(b.db, 0);
    assert.notEqual(a.db, b.db);
    assert.equal(a.url, `redis://127.0.0.1:${server.port}/${a.db}`);
    assert.equal(await a.command("DBSIZE"), 0, "the claimed database starts empty");
    await a.command("SET", "mine", "a");
    assert.equal(await b.command("GET", "mine"), null);
    assert.equal(await server.command("GET", "owner"), "db-0");

    const untouched = [...Array(16).keys()].filter((db) => db !== 0 && db !== a.db && db !== b.db);
    const owners = await server.command(
      "EVAL",
      "local out = {} for i, db in ipairs(ARGV) do redis.call('SELECT', tonumber(db)) " +
        "out[i] = redis.call('GET', 'owner') end return out",
      0,
      ...untouched,
    );
    assert.deepEqual(owners, untouched.map((db) => `db-${db}`));

    await assert.rejects(a.restart(), /needs a server started by the helper/);
    await assert.rejects(a.kill(), /needs a server started by the helper/);
    await a.stop();
    await b.stop();
    assert.equal(await server.command("PING"), "PONG", "stop() leaves an external server running");
    const again = await startRedis({ url: server.url });
    await using _again = again;
    assert.equal(again.db, Math.min(a.db, b.db), "stop() released the claim");
  },
});

Deno.test({
  name: "startRedis({ url }) fails clearly when every database is claimed",
  ignore: external,
  async fn() {
    await using server = await startRedis();
    const claims = [];
    for (let db = 1; db < 16; db++) claims.push(await startRedis({ url: server.url }));
    try {
      await assert.rejects(
        startRedis({ url: server.url }),
        /no free database on VERK_TEST_REDIS_URL/,
      );
    } finally {
      for (const claim of claims) await claim.stop();
    }
  },
});

Deno.test("eventually() returns the value once the check passes", async () => {
  let calls = 0;
  const value = await eventually(() => ++calls >= 3 ? `done after ${calls}` : false, {
    intervalMs: 1,
  });
  assert.equal(value, "done after 3");
  assert.equal(calls, 3);
});

Deno.test("eventually() retries a check that throws or returns null", async () => {
  let calls = 0;
  await eventually(() => {
    calls++;
    if (calls === 1) return null;
    assert.equal(calls, 3);
  }, { intervalMs: 1 });
  assert.equal(calls, 3);
});

Deno.test("eventually() treats undefined, 0 and empty strings as passing", async () => {
  let calls = 0;
  assert.equal(await eventually(() => void calls++), undefined);
  assert.equal(await eventually(() => 0), 0);
  assert.equal(await eventually(() => ""), "");
  assert.equal(calls, 1);
});

Deno.test("eventually() waits for an async check", async () => {
  await using redis = await startRedis();
  let set: Promise<unknown> | undefined;
  const timer = setTimeout(() => set = redis.command("SET", "late", "value"), 50);
  try {
    const value = await eventually(() => redis.command("GET", "late"), { intervalMs: 5 });
    assert.equal(value, "value");
  } finally {
    clearTimeout(timer);
    await set;
  }
});

Deno.test("eventually() gives up after timeoutMs with the message and the last failure", async () => {
  const started = Date.now();
  let calls = 0;
  await assert.rejects(
    eventually(() => {
      calls++;
      throw new RangeError(`attempt ${calls} failed`);
    }, { timeoutMs: 100, intervalMs: 10, message: "the job never finished" }),
    (error: unknown) => {
      assert.ok(error instanceof Error);
      assert.match(
        error.message,
        new RegExp(
          `^the job never finished within 100 ms; last failure: RangeError: attempt ${calls} failed$`,
        ),
      );
      assert.ok(error.cause instanceof RangeError);
      return true;
    },
  );
  const elapsed = Date.now() - started;
  assert.ok(elapsed >= 100 && elapsed < 1_000, `gave up after ${elapsed} ms`);
  assert.ok(calls >= 3, `ran the check ${calls} times`);
});

Deno.test("eventually() reports a check that kept returning false", async () => {
  await assert.rejects(
    eventually(() => false, { timeoutMs: 20 }),
    { message: "condition not met within 20 ms; last failure: the check returned false" },
  );
});
