import assert from "node:assert/strict";
import { Live, type LiveSource, ratesOf } from "../../src/web/live.ts";
import { createWebHandler } from "../../src/web/mod.ts";
import { startRedis } from "../_helpers/redis.ts";
import { inspector } from "../_helpers/verk.ts";
import { ORIGIN } from "../_helpers/web.ts";

Deno.test("ratesOf() averages each point over the span, so 5 s flushes do not read as spikes", () => {
  // A node flushing 50 jobs every 5 s, sampled every second.
  const samples = Array.from({ length: 16 }, (_, i) => ({
    t: i * 1000,
    processed: Math.floor(i / 5) * 50,
    failed: Math.floor(i / 5) * 5,
  }));
  const points = ratesOf(samples, 5000);
  assert.equal(points.length, 11, "no point before a whole span of history");
  assert.deepEqual(points[0], [5000, 10, 1]);
  assert.deepEqual(points.map(([, p, f]) => [p, f]), Array(11).fill([10, 1]));
  assert.deepEqual(
    ratesOf([{ t: 0, processed: 100, failed: 9 }, { t: 5000, processed: 0, failed: 0 }], 5000),
    [[5000, 0, 0]],
    "counters that went down (FLUSHDB) give 0",
  );
  assert.deepEqual(ratesOf(samples, 5000, 15), [points[10]], "from: only the newest points");
});

/** Reads server-sent events from a stream until `count` of them have come. */
async function readEvents(
  stream: ReadableStream<Uint8Array>,
  count: number,
): Promise<{ event: string; data: unknown }[]> {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  const events: { event: string; data: unknown }[] = [];
  while (events.length < count) {
    const { value, done } = await reader.read();
    if (done) break;
    text += value;
    let end;
    while ((end = text.indexOf("\n\n")) >= 0) {
      const block = text.slice(0, end);
      text = text.slice(end + 2);
      const event = /^event: (.*)$/m.exec(block)?.[1];
      const data = /^data: (.*)$/m.exec(block)?.[1];
      if (event && data !== undefined) events.push({ event, data: JSON.parse(data) });
    }
  }
  await reader.cancel();
  return events;
}

Deno.test("Live streams the history, then a rate per sample and a summary every few samples", async () => {
  let processed = 0;
  let calls = 0;
  const source: LiveSource = {
    totals: () => Promise.resolve({ processed: processed += 10, failed: 0 }),
    summary: () => Promise.resolve({ dead: ++calls }),
  };
  const live = new Live(source, { intervalMs: 20, spanMs: 40, summaryEvery: 3 });
  try {
    const events = await readEvents(live.stream(), 6);
    assert.deepEqual(events[0], { event: "rates", data: [] });
    const names = events.map((e) => e.event);
    assert.ok(names.includes("summary"), names.join());
    const rates = events.filter((e) => e.event === "rate").map((e) => e.data as number[]);
    assert.ok(rates.length >= 2);
    for (const [, rate] of rates) assert.ok(rate! > 0, `rate ${rate}`);
    // A second page gets the history gathered so far at once.
    const [history] = await readEvents(live.stream(), 1);
    assert.equal(history!.event, "rates");
    assert.ok((history!.data as unknown[]).length >= 2);
  } finally {
    await live.close();
  }
});

Deno.test("Live reports a Redis that stops answering, and when it is back", async () => {
  let failing = true;
  const live = new Live({
    totals: () =>
      failing
        ? Promise.reject(new Error("ECONNREFUSED"))
        : Promise.resolve({ processed: 1, failed: 0 }),
    summary: () => Promise.resolve({}),
  }, { intervalMs: 10 });
  try {
    const stream = live.stream();
    const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (!text.includes("ECONNREFUSED")) text += (await reader.read()).value;
    assert.match(text, /event: problem\ndata: "Redis is not answering: ECONNREFUSED"/);
    failing = false;
    while (!text.includes('event: problem\ndata: ""')) text += (await reader.read()).value;
    await reader.cancel();
  } finally {
    await live.close();
  }
});

Deno.test("Live drops a page that reads nothing, and close() ends every stream", async () => {
  const live = new Live({
    totals: () => Promise.resolve({ processed: 1, failed: 0 }),
    summary: () => Promise.resolve({}),
  }, { intervalMs: 1, summaryEvery: 1 });
  const stalled = live.stream().getReader(); // not read for a while: its backlog grows
  const reading = live.stream().getReader();
  for (let i = 0; i < 20; i++) await reading.read();
  await new Promise((resolve) => setTimeout(resolve, 500));
  assert.equal(await drain(stalled), true, "the stalled page's stream was closed");
  await live.close();
  assert.equal(await drain(reading), true, "close() ends the others");
});

/** Reads what is queued; true when the stream ended. */
async function drain(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<boolean> {
  for (let i = 0; i < 1000; i++) {
    const result = await reader.read();
    if (result.done) return true;
  }
  return false;
}

Deno.test("web: /live is an event stream of the Redis counters", async () => {
  await using redis = await startRedis();
  await using db = inspector(redis.url);
  await db.set("stat:processed", 10);
  await using web = createWebHandler({ redisUrl: redis.url });
  const response = await web(new Request(`${ORIGIN}/live`));
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-type"), "text/event-stream; charset=utf-8");
  const events = await readEvents(response.body!, 2);
  assert.deepEqual(events[0], { event: "rates", data: [] });
  assert.equal(events[1]!.event, "summary");
  assert.equal((events[1]!.data as { processed: number }).processed, 10);
});
