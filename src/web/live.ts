/**
 * The overview's live numbers, sent as server-sent events.
 *
 * Rates come from the cluster-wide Redis counters (`stat:processed`,
 * `stat:failed`), sampled once a second. Nodes flush their counts every 5 s, so
 * a plain per-second delta would read 0, 0, 0, 0, 500: each point is instead
 * the average rate over the last 5 s, which holds one flush of every node.
 *
 * One sampler serves every open page. It runs while a page is open, and for
 * two minutes after the last one closes, so a reload finds its history.
 * Streams: `rates` (the last two minutes, once), then `rate` every second and
 * `summary` every 5 s; `problem` when Redis stops answering ("" once it is back).
 * @module
 */
import { messageOf } from "../log.ts";

/** One reading of the lifetime counters. */
export interface Sample {
  /** Epoch ms. */
  t: number;
  processed: number;
  failed: number;
}

/** Jobs per second at time `t` (epoch ms). */
export type RatePoint = [t: number, processed: number, failed: number];

/** What the sampler reads. */
export interface LiveSource {
  totals(): Promise<{ processed: number; failed: number }>;
  summary(): Promise<unknown>;
}

/** Timings of the sampler (tests shorten them). */
export interface LiveOptions {
  /** Between samples, ms. @default 1_000 */
  intervalMs?: number;
  /** The chart's width, ms. @default 120_000 */
  windowMs?: number;
  /** Each point averages over this span, ms. @default 5_000 */
  spanMs?: number;
  /** Samples between two `summary` events. @default 5 */
  summaryEvery?: number;
  /** How long the sampler runs on with no page open, ms. @default 120_000 */
  graceMs?: number;
}

/**
 * The rate at each sample from `from` on: the counter increase since the last
 * sample at least `spanMs` older, per second. Samples with less than `spanMs`
 * of history before them give no point: a shorter window could hold one 5 s
 * flush and read as a spike. A counter that went down (FLUSHDB) gives 0.
 */
export function ratesOf(samples: readonly Sample[], spanMs: number, from = 1): RatePoint[] {
  const points: RatePoint[] = [];
  let ref = 0;
  for (let i = Math.max(1, from); i < samples.length; i++) {
    const now = samples[i]!;
    while (ref + 1 < i && samples[ref + 1]!.t <= now.t - spanMs) ref++;
    const then = samples[ref]!;
    if (then.t > now.t - spanMs) continue;
    const seconds = (now.t - then.t) / 1000;
    const rate = (a: number, b: number) => Math.max(0, a - b) / seconds;
    points.push([
      now.t,
      round(rate(now.processed, then.processed)),
      round(rate(now.failed, then.failed)),
    ]);
  }
  return points;
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}

const encoder = new TextEncoder();
/** Events a page may leave unread before its stream is closed. */
const MAX_BACKLOG = 100;

/** One server-sent event. */
function event(name: string, data: unknown): Uint8Array {
  return encoder.encode(`event: ${name}\ndata: ${JSON.stringify(data)}\n\n`);
}

/** The sampler and its subscribers. */
export class Live {
  #source: LiveSource;
  #options: Required<LiveOptions>;
  #samples: Sample[] = [];
  #clients = new Set<ReadableStreamDefaultController<Uint8Array>>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #tick: Promise<void> | undefined;
  #ticks = 0;
  #idleSince = 0;
  #problem = "";
  #closed = false;

  constructor(source: LiveSource, options: LiveOptions = {}) {
    this.#source = source;
    this.#options = {
      intervalMs: 1_000,
      windowMs: 120_000,
      spanMs: 5_000,
      summaryEvery: 5,
      graceMs: 120_000,
      ...options,
    };
  }

  /** A new event stream for one page; cancelling it unsubscribes. */
  stream(): ReadableStream<Uint8Array> {
    let self: ReadableStreamDefaultController<Uint8Array>;
    return new ReadableStream<Uint8Array>({
      start: (controller) => {
        self = controller;
        if (this.#closed) return controller.close();
        controller.enqueue(encoder.encode("retry: 3000\n\n"));
        controller.enqueue(event("rates", this.#window()));
        if (this.#problem) controller.enqueue(event("problem", this.#problem));
        this.#clients.add(controller);
        this.#schedule();
      },
      cancel: () => this.#leave(self),
    });
  }

  /** Ends every stream and stops sampling. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const client of this.#clients) {
      try {
        client.close();
      } catch {
        // already closed by its reader
      }
    }
    this.#clients.clear();
    await this.#tick;
  }

  #leave(client: ReadableStreamDefaultController<Uint8Array>): void {
    this.#clients.delete(client);
    if (this.#clients.size === 0) this.#idleSince = Date.now();
  }

  #window(): RatePoint[] {
    const since = Date.now() - this.#options.windowMs;
    return ratesOf(this.#samples, this.#options.spanMs).filter(([t]) => t >= since);
  }

  #schedule(): void {
    if (this.#timer !== undefined || this.#tick !== undefined || this.#closed) return;
    const idle = this.#clients.size === 0 && Date.now() - this.#idleSince > this.#options.graceMs;
    if (idle) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#tick = this.#sample().finally(() => {
        this.#tick = undefined;
        this.#schedule();
      });
    }, this.#samples.length === 0 ? 0 : this.#options.intervalMs);
  }

  async #sample(): Promise<void> {
    const { windowMs, spanMs, summaryEvery } = this.#options;
    try {
      const totals = await this.#source.totals();
      const now = Date.now();
      this.#samples.push({ t: now, ...totals });
      while (this.#samples.length > 2 && this.#samples[1]!.t < now - windowMs - spanMs) {
        this.#samples.shift();
      }
      const point = ratesOf(this.#samples, spanMs, this.#samples.length - 1)[0];
      if (point) this.#send(event("rate", point));
      if (this.#ticks++ % summaryEvery === 0) {
        this.#send(event("summary", await this.#source.summary()));
      }
      this.#report("");
    } catch (error) {
      if (this.#closed) return;
      this.#report(`Redis is not answering: ${messageOf(error)}`);
    }
  }

  #report(problem: string): void {
    if (problem === this.#problem) return;
    this.#problem = problem;
    this.#send(event("problem", problem));
  }

  /** Sends to every page; one that has not read its last 100 events is dropped (it reconnects). */
  #send(chunk: Uint8Array): void {
    for (const client of this.#clients) {
      try {
        if ((client.desiredSize ?? 0) < -MAX_BACKLOG) {
          this.#leave(client);
          client.close();
        } else {
          client.enqueue(chunk);
        }
      } catch {
        this.#leave(client);
      }
    }
  }
}
