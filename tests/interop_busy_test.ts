/**
 * Sidekiq's Busy page against a running Deno node: real Sidekiq 6.4 API and
 * web UI read the node's process record, and its Quiet and Stop buttons work.
 */
import assert from "node:assert/strict";
import { eventually, startRedis } from "./_helpers/redis.ts";
import { rubySide, sidekiqTest } from "./_helpers/ruby.ts";
import { deferred, testVerk } from "./_helpers/verk.ts";

interface ProcessView {
  identity: string;
  hostname: string;
  pid: number;
  queues: string[];
  labels: string[];
  concurrency: number;
  busy: number;
  quiet: boolean;
  started_at: number;
  beat: number;
  rss: number;
}

interface BusyView {
  processes: ProcessView[];
  work: { process: string; queue: string; jid: string; args: unknown[]; run_at: number }[];
  stats: { processes: number; busy: number };
}

const READ_BUSY = `
processes = Sidekiq::ProcessSet.new.map do |p|
  { "identity" => p.identity, "hostname" => p["hostname"], "pid" => p["pid"],
    "queues" => p.queues, "labels" => p.labels, "concurrency" => p["concurrency"],
    "busy" => p["busy"], "quiet" => p.stopping?, "started_at" => p["started_at"],
    "beat" => p["beat"], "rss" => p["rss"] }
end
work = []
Sidekiq::WorkSet.new.each do |process, _tid, w|
  work << { "process" => process, "queue" => w["queue"], "jid" => w["payload"]["jid"],
            "args" => w["payload"]["args"], "run_at" => w["run_at"] }
end
stats = Sidekiq::Stats.new
stats.fetch_stats_slow!
report({ "processes" => processes, "work" => work,
         "stats" => { "processes" => stats.processes_size, "busy" => stats.workers_size } })
`;

sidekiqTest(
  "a Deno node shows on Sidekiq's Busy page, and its Quiet and Stop buttons work",
  async (t) => {
    await using redis = await startRedis();
    await using ruby = await rubySide(redis);
    const web = await ruby.startWeb();
    const gate = deferred();
    const started = deferred();
    await using verk = testVerk(redis.url, {
      queues: { default: 3, low: 2 },
      workers: {
        Hold: {
          async perform(_name: string, _n: number) {
            started.resolve();
            await gate.promise;
          },
        },
      },
    });
    const stopped = verk.stopOnSignals([]); // resolves however the node stops
    await verk.start();
    const jid = await verk.enqueue({ queue: "default", class: "Hold", args: ["héllo", 1] });
    await started.promise;
    const identity = await eventually(async () => {
      const members = await redis.command("SMEMBERS", "processes") as string[];
      return members.find((member) => member.includes(`:${Deno.pid}:`)) ?? null;
    });

    await t.step(
      "Sidekiq's API lists the node with its queues, concurrency and running job",
      async () => {
        const view = await eventually(async () => {
          const busy = await ruby.run<BusyView>(READ_BUSY);
          return busy.processes[0]?.busy === 1 ? busy : null;
        }, { message: "the Deno node reported busy 1" });
        assert.equal(view.processes.length, 1);
        const node = view.processes[0]!;
        assert.equal(node.identity, identity);
        assert.equal(node.pid, Deno.pid);
        assert.equal(node.hostname, Deno.hostname());
        assert.deepEqual(node.queues, ["default", "low"]);
        assert.equal(node.concurrency, 5);
        assert.equal(node.quiet, false);
        assert.ok(node.labels.includes("node 1"), node.labels.join());
        const now = Date.now() / 1000;
        assert.ok(Math.abs(node.started_at - now) < 30 && Math.abs(node.beat - now) < 30);
        assert.ok(node.rss > 1000, `rss ${node.rss} KB`);
        assert.deepEqual(view.stats, { processes: 1, busy: 1 });
        assert.equal(view.work.length, 1);
        const [job] = view.work;
        assert.deepEqual(
          { process: job!.process, queue: job!.queue, jid: job!.jid, args: job!.args },
          { process: identity, queue: "default", jid, args: ["héllo", 1] },
        );
        assert.ok(Math.abs(job!.run_at - now) < 30);
      },
    );

    await t.step("the record has Sidekiq's keys and TTLs, :work mirroring :workers", async () => {
      assert.deepEqual(
        (await redis.command("HKEYS", identity) as string[]).sort(),
        ["beat", "busy", "info", "quiet", "rss", "rtt_us"],
      );
      for (const key of [identity, `${identity}:workers`, `${identity}:work`]) {
        const ttl = await redis.command("TTL", key) as number;
        assert.ok(ttl > 50 && ttl <= 60, `TTL of ${key}: ${ttl}`);
      }
      assert.deepEqual(
        await redis.command("HGETALL", `${identity}:work`),
        await redis.command("HGETALL", `${identity}:workers`),
      );
    });

    await t.step("the web UI's Busy page answers 200 and shows the node and its job", async () => {
      const page = await web.get("/busy");
      assert.equal(page.status, 200);
      assert.ok(page.body.includes(`${Deno.hostname()}:${Deno.pid}`), "process row");
      assert.ok(page.body.includes("default, low"), "queues");
      assert.ok(page.body.includes(jid), "running job");
      assert.ok(page.body.includes("Hold"), "job class");
    });

    await t.step("Quiet: the node takes no new job, finishes the running one", async () => {
      assert.equal(await web.submit("/busy", { identity, quiet: "1" }), 302);
      await eventually(async () => {
        const busy = await ruby.run<BusyView>(READ_BUSY);
        return busy.processes[0]?.quiet === true;
      }, { message: "Sidekiq sees the node quiet" });
      assert.match((await web.get("/busy")).body, /label-danger">quiet</);
      const waiting = await verk.enqueue({ queue: "default", class: "Hold", args: ["next", 2] });
      gate.resolve();
      // The running job's ack goes out in the call that would also have fetched `waiting`.
      await eventually(async () => (await redis.command("LLEN", "inprogress:default:1")) === 0);
      const queued = await redis.command("LRANGE", "queue:default", 0, -1) as string[];
      assert.equal(queued.length, 1);
      assert.equal(JSON.parse(queued[0]!).jid, waiting);
    });

    await t.step("Stop: the node stops gracefully and leaves the Busy page", async () => {
      assert.equal(await web.submit("/busy", { identity, stop: "1" }), 302);
      await stopped;
      const busy = await ruby.run<BusyView>(READ_BUSY);
      assert.deepEqual(busy.processes, []);
      assert.equal(await redis.command("EXISTS", identity, `${identity}:workers`), 0);
      assert.equal(await redis.command("LLEN", "queue:default"), 1, "the waiting job is kept");
      assert.equal((await web.get("/busy")).status, 200);
    });
  },
);
