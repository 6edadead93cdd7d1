/**
 * The event stream: what this node does, as typed events, fanned out to any
 * number of subscribers. Each subscriber gets its own `ReadableStream`,
 * filtered to what it asked for, with a bounded buffer: a subscriber that reads
 * slowly or never never slows job processing and never grows memory; what does
 * not fit is dropped and counted, and the subscriber is told with an
 * `EventsDropped` event before its next delivered event.
 *
 * | event | fields |
 * | --- | --- |
 * | `JobStarted` | job, queue, startedAt |
 * | `JobFinished` | job, queue, startedAt, finishedAt, durationMs, latencyMs |
 * | `JobFailed` | job, queue, startedAt, failedAt, durationMs, attempt, error, outcome |
 * | `JobDead` | job (the dead-set payload), queue, reason |
 * | `QueueRunning`, `QueuePausing`, `QueuePaused` | queue |
 * | `QueueAdded` | queue, concurrency |
 * | `QueueRemoved` | queue |
 * | `NodeRecovered` | nodeId (a dead node), jobs (put back) |
 * | `EventsDropped` | count (only in the stream that lost them) |
 * @module
 */
import type { JobPayload } from "./job.ts";

/** A job started running. */
export interface JobStarted {
  /** Discriminant. */
  type: "JobStarted";
  /** The job as stored. */
  job: Readonly<JobPayload>;
  /** The queue it runs on. */
  queue: string;
  /** When it started. */
  startedAt: Date;
}

/** A job finished without error. */
export interface JobFinished {
  /** Discriminant. */
  type: "JobFinished";
  /** The job as stored. */
  job: Readonly<JobPayload>;
  /** The queue it ran on. */
  queue: string;
  /** When it started. */
  startedAt: Date;
  /** When it finished. */
  finishedAt: Date;
  /** Run time of `perform`, ms. */
  durationMs: number;
  /** Time from `enqueued_at` to the end of the run, ms (Verk Stats' "total time"). */
  latencyMs: number;
}

/** A job threw or rejected. */
export interface JobFailed {
  /** Discriminant. */
  type: "JobFailed";
  /** The job as stored before this failure. */
  job: Readonly<JobPayload>;
  /** The queue it ran on. */
  queue: string;
  /** When it started. */
  startedAt: Date;
  /** When it failed. */
  failedAt: Date;
  /** Run time until the failure, ms. */
  durationMs: number;
  /** Which run failed: 1 for the first run, 2 for the first retry … */
  attempt: number;
  /** What was thrown (an `Error` with its stack, or a wrapped value). */
  error: Error;
  /** Where the job went: the retry set, the dead set, or nowhere (`retry: false`). */
  outcome: "retry" | "dead" | "drop";
}

/** A job was moved to the dead set (retries used up, or a malformed payload). */
export interface JobDead {
  /** Discriminant. */
  type: "JobDead";
  /** The payload written to the dead set. */
  job: Readonly<JobPayload>;
  /** The queue it came from. */
  queue: string;
  /** Why. */
  reason: string;
}

/** A queue's state changed (running, pausing: no new jobs, paused: none running). */
export interface QueueStateChanged {
  /** Discriminant. */
  type: "QueueRunning" | "QueuePausing" | "QueuePaused";
  /** The queue. */
  queue: string;
}

/** A queue was added to this node. */
export interface QueueAdded {
  /** Discriminant. */
  type: "QueueAdded";
  /** The queue. */
  queue: string;
  /** Its concurrency. */
  concurrency: number;
}

/** A queue was removed from this node (its unfinished jobs were put back). */
export interface QueueRemoved {
  /** Discriminant. */
  type: "QueueRemoved";
  /** The queue. */
  queue: string;
}

/** This node found a dead node and put its in-progress jobs back on their queues. */
export interface NodeRecovered {
  /** Discriminant. */
  type: "NodeRecovered";
  /** The dead node's id. */
  nodeId: string;
  /** How many jobs were put back. */
  jobs: number;
}

/** Events this subscriber missed because its buffer was full. */
export interface EventsDropped {
  /** Discriminant. */
  type: "EventsDropped";
  /** How many were dropped since the last delivered event. */
  count: number;
}

/**
 * Every event, discriminated by `type`.
 *
 * @example Reacting to failures
 * ```ts
 * import type { VerkEvent } from "@verk/verk";
 * function onEvent(event: VerkEvent) {
 *   if (event.type === "JobFailed") console.error(event.job.class, event.error.stack);
 * }
 * ```
 */
export type VerkEvent =
  | JobStarted
  | JobFinished
  | JobFailed
  | JobDead
  | QueueStateChanged
  | QueueAdded
  | QueueRemoved
  | NodeRecovered
  | EventsDropped;

/** The name of an event type. */
export type VerkEventType = VerkEvent["type"];

/**
 * Which events a subscriber wants: a list of types, or a predicate.
 *
 * @example
 * ```ts
 * import type { EventFilter } from "@verk/verk";
 * const failures: EventFilter = ["JobFailed", "JobDead"];
 * const slowJobs: EventFilter = (event) => event.type === "JobFinished" && event.durationMs > 1000;
 * ```
 */
export type EventFilter = readonly VerkEventType[] | ((event: VerkEvent) => boolean);

/** Options of one subscription. */
export interface SubscribeOptions {
  /**
   * Events buffered for this subscriber before new ones are dropped (and counted).
   * @default 1000
   */
  bufferSize?: number;
}

interface Subscriber {
  accepts: (event: VerkEvent) => boolean;
  /** Undelivered events from `head` on; at most `capacity` plus one drop marker. */
  buffer: VerkEvent[];
  head: number;
  capacity: number;
  /** Resolves a pending read with the next event (or ends the stream with undefined). */
  waiting: ((event: VerkEvent | undefined) => void) | undefined;
  closed: boolean;
}

/** One source of events, fanned out to bounded per-subscriber streams. */
export class EventBus {
  #subscribers = new Set<Subscriber>();

  /** Whether anyone listens: publishers skip building events when not. */
  get active(): boolean {
    return this.#subscribers.size > 0;
  }

  /** Sends an event to every subscriber that wants it, never blocking. */
  publish(event: VerkEvent): void {
    for (const subscriber of this.#subscribers) {
      if (subscriber.accepts(event)) offer(subscriber, event);
    }
  }

  /** A new stream of the events `filter` selects; cancelling it unsubscribes. */
  subscribe(filter?: EventFilter, options: SubscribeOptions = {}): ReadableStream<VerkEvent> {
    const capacity = options.bufferSize ?? 1000;
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`events: bufferSize must be a positive integer: got ${capacity}`);
    }
    const subscriber: Subscriber = {
      accepts: acceptsOf(filter),
      buffer: [],
      head: 0,
      capacity,
      waiting: undefined,
      closed: false,
    };
    this.#subscribers.add(subscriber);
    return new ReadableStream<VerkEvent>({
      pull: (controller) => {
        const next = take(subscriber);
        if (next) return controller.enqueue(next);
        if (subscriber.closed) return controller.close();
        return new Promise<void>((resolve) => {
          subscriber.waiting = (event) => {
            if (event) controller.enqueue(event);
            else controller.close();
            resolve();
          };
        });
      },
      cancel: () => {
        this.#subscribers.delete(subscriber);
      },
    }, { highWaterMark: 0 });
  }

  /** Ends every subscriber's stream once it has read what is buffered (on stop). */
  close(): void {
    for (const subscriber of this.#subscribers) {
      subscriber.closed = true;
      const end = subscriber.waiting;
      subscriber.waiting = undefined;
      end?.(undefined);
    }
    this.#subscribers.clear();
  }
}

function offer(subscriber: Subscriber, event: VerkEvent): void {
  if (subscriber.waiting) {
    const deliver = subscriber.waiting;
    subscriber.waiting = undefined;
    return deliver(event);
  }
  const { buffer } = subscriber;
  const last = buffer[buffer.length - 1];
  if (buffer.length - subscriber.head < subscriber.capacity) {
    buffer.push(event);
  } else if (last?.type === "EventsDropped") {
    last.count++; // the marker sits where the lost events would have been
  } else {
    buffer.push({ type: "EventsDropped", count: 1 });
  }
}

function take(subscriber: Subscriber): VerkEvent | undefined {
  const { buffer } = subscriber;
  if (subscriber.head >= buffer.length) return undefined;
  const event = buffer[subscriber.head++];
  if (subscriber.head === buffer.length || subscriber.head >= 1024) {
    buffer.splice(0, subscriber.head);
    subscriber.head = 0;
  }
  return event;
}

function acceptsOf(filter: EventFilter | undefined): (event: VerkEvent) => boolean {
  if (filter === undefined) return () => true;
  if (typeof filter === "function") return filter;
  const types = new Set<string>(filter);
  return (event) => types.has(event.type);
}
