import assert from "node:assert/strict";
import { EventBus, type VerkEvent } from "../src/events.ts";

const running = (queue: string): VerkEvent => ({ type: "QueueRunning", queue });
const paused = (queue: string): VerkEvent => ({ type: "QueuePaused", queue });

async function readN(stream: ReadableStream<VerkEvent>, n: number): Promise<VerkEvent[]> {
  const reader = stream.getReader();
  const events: VerkEvent[] = [];
  while (events.length < n) {
    const { value, done } = await reader.read();
    if (done) break;
    events.push(value);
  }
  reader.releaseLock();
  return events;
}

Deno.test("a subscriber gets only the event types it asked for, in order", async () => {
  const bus = new EventBus();
  const stream = bus.subscribe(["QueuePaused"]);
  bus.publish(running("a"));
  bus.publish(paused("a"));
  bus.publish(running("b"));
  bus.publish(paused("b"));
  assert.deepEqual(await readN(stream, 2), [paused("a"), paused("b")]);
  await stream.cancel();
});

Deno.test("a predicate filter selects events, and each subscriber has its own stream", async () => {
  const bus = new EventBus();
  const onlyB = bus.subscribe((event) => "queue" in event && event.queue === "b");
  const all = bus.subscribe();
  bus.publish(running("a"));
  bus.publish(running("b"));
  assert.deepEqual(await readN(onlyB, 1), [running("b")]);
  assert.deepEqual(await readN(all, 2), [running("a"), running("b")]);
  await onlyB.cancel();
  await all.cancel();
});

Deno.test("a subscriber that never reads keeps at most bufferSize events and is told how many it lost", async () => {
  const bus = new EventBus();
  const stream = bus.subscribe(undefined, { bufferSize: 10 });
  for (let i = 0; i < 5_000; i++) bus.publish(running(`q${i}`));
  const events = await readN(stream, 11);
  assert.deepEqual(events.slice(0, 10).map((event) => "queue" in event && event.queue), [
    ...Array.from({ length: 10 }, (_, i) => `q${i}`),
  ]);
  assert.deepEqual(events[10], { type: "EventsDropped", count: 4_990 });
  bus.publish(running("after"));
  assert.deepEqual(await readN(stream, 1), [running("after")]);
  await stream.cancel();
});

Deno.test("a waiting reader gets a published event at once", async () => {
  const bus = new EventBus();
  const stream = bus.subscribe();
  const next = readN(stream, 1);
  bus.publish(paused("x"));
  assert.deepEqual(await next, [paused("x")]);
  await stream.cancel();
});

Deno.test("cancelling a stream unsubscribes it", async () => {
  const bus = new EventBus();
  const stream = bus.subscribe();
  assert.equal(bus.active, true);
  await stream.cancel();
  assert.equal(bus.active, false);
});

Deno.test("close ends every stream after what it buffered", async () => {
  const bus = new EventBus();
  const stream = bus.subscribe();
  bus.publish(running("a"));
  bus.close();
  const seen: VerkEvent[] = [];
  for await (const event of stream) seen.push(event);
  assert.deepEqual(seen, [running("a")]);
  const waiting = bus.subscribe();
  const reading = readN(waiting, 1);
  bus.close();
  assert.deepEqual(await reading, []);
});

Deno.test("bufferSize must be a positive integer", () => {
  assert.throws(() => new EventBus().subscribe(undefined, { bufferSize: 0 }), /bufferSize/);
});
