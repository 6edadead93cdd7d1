/**
 * "Never lose a job", with real processes: 20,000 jobs through 3 worker
 * processes that reach Redis through a proxy, while workers are killed with
 * SIGKILL and restarted, Redis is killed and restarted (AOF, fsync always) and
 * the proxy cuts every connection. Every jid must run, nothing may stay in a
 * queue, in progress or in `schedule`/`retry`, and the dead set must hold
 * exactly the jobs designed to die. Then every node's loop for every queue
 * must still take jobs.
 *
 * `CHAOS_LOG=<file>` writes the workers' logs (outages, recoveries) to a file.
 */
import assert from "node:assert/strict";
import { type JobInput, RedisUnavailableError, Verk } from "../mod.ts";
import { type ChildWorker, spawnChild } from "./_helpers/process.ts";
import { eventually, startRedis, type TestRedis } from "./_helpers/redis.ts";
import { startTcpProxy } from "./_helpers/tcp_proxy.ts";
import { inspector } from "./_helpers/verk.ts";

const TOTAL = 20_000;
const BATCHES = 100;
/** Time between enqueue batches: the jobs arrive over about 30 s, while the chaos runs. */
const BATCH_EVERY_MS = 280;
const QUEUES = ["alpha", "beta"];
/** How long everything may take to settle once the chaos is over. */
const SETTLE_MS = 45_000;

type Kind = "ok" | "flaky" | "doomed" | "scheduled";

interface Planned {
  job: JobInput;
  kind: Kind;
  /** How many runs the job needs when nothing goes wrong. */
  runs: number;
}

function randomJid(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/**
 * The jobs: 1 in 20 fails to dead at once (maxRetryCount 0), 1 in 10 fails once
 * or twice and then succeeds (retries come back after 200 ms), 1 in 20 is
 * scheduled 2–4 s ahead, the rest just run. Each sleeps 0–6 ms, so some are
 * always in progress when a worker dies.
 */
function plan(): Planned[] {
  return Array.from({ length: TOTAL }, (_, i) => {
    const kind: Kind = i % 20 === 0
      ? "doomed"
      : i % 10 === 5
      ? "flaky"
      : i % 20 === 7
      ? "scheduled"
      : "ok";
    const failures = kind === "doomed" ? -1 : kind === "flaky" ? 1 + (i % 3 === 0 ? 1 : 0) : 0;
    const job: JobInput = {
      queue: QUEUES[(i >> 4) % QUEUES.length]!, // every kind on both queues
      class: "Chaos",
      args: [failures, i % 7],
      jid: randomJid(),
      maxRetryCount: kind === "doomed" ? 0 : 5,
    };
    return { job, kind, runs: failures < 0 ? 1 : failures + 1 };
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)]!;

/**
 * Enqueues the plan in BATCHES batches, one every BATCH_EVERY_MS. A batch that
 * fails with RedisUnavailableError (Redis restarting) is sent again with the
 * same jids; it may have been written the first time, so those jids may be
 * stored twice. Returns the jids that were sent more than once.
 */
async function produce(url: string, planned: Planned[]): Promise<Set<string>> {
  const resent = new Set<string>();
  const producer = new Verk({ redisUrl: url, enqueueTimeout: 1_000 });
  const send = async (jobs: Planned[], write: (jobs: Planned[]) => Promise<unknown>) => {
    for (let attempt = 1;; attempt++) {
      try {
        await write(jobs);
        return;
      } catch (error) {
        if (!(error instanceof RedisUnavailableError) || attempt === 50) throw error;
        for (const { job } of jobs) resent.add(job.jid!);
        await sleep(200);
      }
    }
  };
  try {
    const size = Math.ceil(planned.length / BATCHES);
    for (let start = 0; start < planned.length; start += size) {
      const batch = planned.slice(start, start + size);
      const now = batch.filter((entry) => entry.kind !== "scheduled");
      const later = batch.filter((entry) => entry.kind === "scheduled");
      await send(now, (jobs) => producer.enqueueMany(jobs.map((entry) => entry.job)));
      await Promise.all(
        later.map((entry) =>
          send(
            [entry],
            ([one]) => producer.schedule(one!.job, Date.now() + 2_000 + Math.random() * 2_000),
          )
        ),
      );
      await sleep(BATCH_EVERY_MS);
    }
  } finally {
    await producer.stop();
  }
  return resent;
}

/** One of the three worker processes, restarted with the same environment. */
class Slot {
  child: ChildWorker | undefined;
  nodeId = "";
  #expectedExit = false;
  #all: ChildWorker[] = [];

  constructor(
    readonly name: string,
    readonly env: Record<string, string>,
    readonly crashes: string[],
  ) {}

  async start(): Promise<void> {
    const child = spawnChild("chaos_worker.ts", this.env);
    this.child = child;
    this.#all.push(child);
    this.#expectedExit = false;
    child.status.then((status) => {
      if (!this.#expectedExit) {
        this.crashes.push(`${this.name} exited by itself (${JSON.stringify(status)})`);
      }
    });
    await child.waitFor("started ", 30_000);
    this.nodeId = /started (\S+)/.exec(child.output())![1]!;
  }

  /**
   * Kills the process (SIGKILL, or SIGTERM for a graceful stop) and waits for its
   * exit; a graceful stop that takes over 10 s is reported and ended with SIGKILL.
   */
  async stop(signal: "SIGKILL" | "SIGTERM"): Promise<Deno.CommandStatus> {
    const child = this.child!;
    this.#expectedExit = true;
    child.process.kill(signal);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const overdue = new Promise<"overdue">((resolve) => {
      timer = setTimeout(() => resolve("overdue"), 10_000);
    });
    if (await Promise.race([child.status, overdue]) === "overdue") {
      this.crashes.push(`${this.name} did not stop within 10 s of ${signal}`);
      child.process.kill("SIGKILL");
    }
    clearTimeout(timer);
    return await child.status;
  }

  output(): string {
    return this.#all.map((child) => child.output()).join("\n--- restart ---\n");
  }
}

/**
 * The chaos: every 1–2 s one event (plus restart time), in this order, the victims chosen at
 * random (the first kill hits the worker with a generated node id, so its id
 * changes at least once). Returns what happened, for the log.
 */
async function unleash(
  slots: Slot[],
  redis: TestRedis,
  proxy: ReturnType<typeof startTcpProxy>,
): Promise<string[]> {
  const happened: string[] = [];
  const began = Date.now();
  const note = (what: string): void => {
    happened.push(`${((Date.now() - began) / 1000).toFixed(1)}s ${what}`);
  };
  const cut = () => Promise.resolve(note(`cut ${proxy.cut()} connections`));
  const restartLater = async (slot: Slot) => {
    await sleep(200 + Math.random() * 800);
    await slot.start();
    note(`${slot.name} back as ${slot.nodeId}`);
  };
  const kill = async (slot: Slot, signal: "SIGKILL" | "SIGTERM" = "SIGKILL") => {
    const was = slot.nodeId;
    await slot.stop(signal);
    note(`${signal} ${slot.name} (${was})`);
    await restartLater(slot);
  };
  const events: (() => Promise<void>)[] = [
    () => kill(slots[2]!),
    cut,
    () => kill(pick(slots)),
    cut,
    () => kill(pick(slots)),
    async () => {
      await redis.kill("SIGKILL");
      note("Redis killed");
      await sleep(700);
      await redis.restart();
      note("Redis back");
    },
    cut,
    () => Promise.all([kill(slots[0]!), kill(slots[2]!)]).then(() => {}),
    cut,
    () => kill(pick(slots), "SIGTERM"),
    async () => {
      await cut();
      await kill(pick(slots));
    },
    () => kill(pick(slots)),
    cut,
    () => Promise.all([kill(slots[1]!), cut()]).then(() => {}),
    () => kill(pick(slots)),
    cut,
  ];
  for (const event of events) {
    await sleep(1_000 + Math.random() * 1_000);
    await event();
  }
  return happened;
}

Deno.test({
  name: "chaos: 20,000 jobs survive killed workers, a Redis restart and cut connections",
  // Needs a Redis of its own to kill.
  ignore: Boolean(Deno.env.get("VERK_TEST_REDIS_URL")),
  async fn() {
    await using redis = await startRedis({ appendOnly: true });
    await using proxy = startTcpProxy(redis.port);
    await using db = inspector(redis.url);
    const crashes: string[] = [];
    const env = {
      VERK_REDIS_URL: proxy.url(redis.db),
      VERK_QUEUES: QUEUES.map((queue) => `${queue}:10`).join(","),
      VERK_HEARTBEAT: "400",
      VERK_POLL_INTERVAL: "200",
      VERK_SHUTDOWN_TIMEOUT: "500",
      CHAOS_RECORD_URL: redis.url,
    };
    const slots = [
      new Slot("worker-a", { ...env, VERK_NODE_ID: "chaos-a" }, crashes),
      new Slot("worker-b", { ...env, VERK_NODE_ID: "chaos-b" }, crashes),
      new Slot("worker-c", { ...env, VERK_GENERATE_NODE_ID: "true" }, crashes),
    ];
    const planned = plan();
    const began = Date.now();
    try {
      await Promise.all(slots.map((slot) => slot.start()));
      const [resent, happened] = await Promise.all([
        produce(redis.url, planned),
        unleash(slots, redis, proxy),
      ]);
      console.log(`chaos after ${Date.now() - began} ms:\n  ${happened.join("\n  ")}`);

      const byJid = new Map(planned.map((entry) => [entry.job.jid!, entry]));
      const doomed = planned.filter((entry) => entry.kind === "doomed").map((e) => e.job.jid!);
      const runs = await eventually(async () => {
        const seen = await collectRuns(db);
        const missing = planned.filter((entry) => {
          const run = seen.get(entry.job.jid!);
          return run === undefined || (entry.kind !== "doomed" && !run.succeeded);
        });
        assert.equal(missing.length, 0, `${missing.length} jobs have not run to the end`);
        assert.deepEqual(await db.keys("queue:*"), []);
        assert.deepEqual(await db.keys("inprogress:*"), []);
        assert.equal(await db.zcard("schedule"), 0);
        assert.equal(await db.zcard("retry"), 0);
        assert.ok(await db.zcard("dead") >= doomed.length, "doomed jobs still to die");
        return seen;
      }, { timeoutMs: SETTLE_MS, intervalMs: 500, message: "every job settled" });
      console.log(`settled after ${Date.now() - began} ms`);

      // The dead set holds exactly the jobs designed to die, each once (twice only when its
      // enqueue was sent twice), with their error.
      const dead = (await db.zrange("dead", 0, -1)).map((member) => JSON.parse(member));
      assert.deepEqual([...new Set(dead.map((job) => job.jid))].sort(), [...doomed].sort());
      const twice = dead.filter((job, i) => dead.findIndex((other) => other.jid === job.jid) !== i);
      assert.deepEqual(twice.filter((job) => !resent.has(job.jid)), []);
      for (const job of dead) {
        assert.equal(job.error_class, "Error");
        assert.match(job.error_message, /chaos failure on attempt 1/);
      }
      // Every live node is registered; nodes that died were recovered and forgotten.
      const live = slots.map((slot) => slot.nodeId).sort();
      await eventually(async () => {
        assert.deepEqual((await db.smembers("verk_nodes")).sort(), live);
      }, { timeoutMs: 5_000 });
      assert.deepEqual(crashes, []);

      const extra = [...runs].filter(([jid, run]) => run.count > byJid.get(jid)!.runs);
      const extraRuns = extra.reduce(
        (sum, [jid, run]) => sum + run.count - byJid.get(jid)!.runs,
        0,
      );
      const resentExtra = extra.filter(([jid]) => resent.has(jid)).length;
      console.log(
        `${extra.length} of ${TOTAL} jobs ran more often than needed (${extraRuns} extra runs; ` +
          `${resentExtra} of those jobs were in an enqueue batch sent again, ${resent.size} jids ` +
          `in all); ${await db.hlen("verk:recoveries")} jobs were put back from crashed nodes`,
      );

      await probeEveryLoop(slots, redis.url, db);

      // A graceful stop of every worker leaves nothing behind.
      for (const slot of slots) assert.equal((await slot.stop("SIGTERM")).code, 0);
      assert.deepEqual(await db.keys("inprogress:*"), []);
      assert.deepEqual(await db.smembers("verk_nodes"), []);
    } catch (error) {
      for (const slot of slots) console.error(`==== ${slot.name}\n${tail(slot.output(), 60)}`);
      throw error;
    } finally {
      for (const slot of slots) await slot.child?.[Symbol.asyncDispose]();
      const logFile = Deno.env.get("CHAOS_LOG");
      if (logFile) {
        await Deno.writeTextFile(
          logFile,
          slots.map((slot) => `==== ${slot.name}\n${slot.output()}`).join("\n"),
        );
      }
    }
  },
});

/**
 * No loop may be silently dead (with three nodes, the others would hide it):
 * 30 one-second jobs per queue need all 3 × 10 slots at once, so every node's
 * loop for every queue must take some of them within the first second.
 */
async function probeEveryLoop(
  slots: Slot[],
  url: string,
  db: ReturnType<typeof inspector>,
): Promise<void> {
  const producer = new Verk({ redisUrl: url });
  const probes = QUEUES.flatMap((queue) =>
    Array.from({ length: 30 }, (_, i) => ({
      queue,
      class: "Chaos",
      args: [0, 1_000],
      jid: `probe-${queue}-${i}`,
    }))
  );
  await producer.enqueueMany(probes);
  await producer.stop();
  const ranBy = await eventually(async () => {
    const members = (await db.smembers("runs")).filter((member) => member.startsWith("probe-"));
    if (members.length < probes.length) return null;
    return new Set(members.map((member) => {
      const [jid, , , node] = member.split("|");
      return `${node} ${jid!.split("-")[1]}`;
    }));
  }, { timeoutMs: 10_000, message: "probe jobs ran" });
  const expected = slots.flatMap((slot) => QUEUES.map((queue) => `${slot.nodeId} ${queue}`));
  assert.deepEqual([...ranBy].sort(), expected.sort(), "every node ran probes on every queue");
}

/** Per jid: how many runs were recorded, and whether one of them succeeded. */
async function collectRuns(
  db: ReturnType<typeof inspector>,
): Promise<Map<string, { count: number; succeeded: boolean }>> {
  const seen = new Map<string, { count: number; succeeded: boolean }>();
  let cursor = "0";
  do {
    const [next, members] = await db.sscan("runs", cursor, "COUNT", 5_000);
    cursor = next;
    for (const member of members) {
      const [jid, , outcome] = member.split("|");
      if (jid!.startsWith("probe-")) continue;
      const entry = seen.get(jid!) ?? { count: 0, succeeded: false };
      entry.count++;
      entry.succeeded ||= outcome === "ok";
      seen.set(jid!, entry);
    }
  } while (cursor !== "0");
  return seen;
}

function tail(text: string, lines: number): string {
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}
