/**
 * A demo of Verk Web with real jobs: a throwaway redis-server, a Verk node
 * running a few queues (fast jobs, slow ones, failures into retries and dead,
 * scheduled jobs, a paused queue) under a steady load, and the dashboard.
 *
 *   deno run -A scripts/web_demo.ts                      # serve until Ctrl-C
 *   deno run -A scripts/web_demo.ts --screenshots docs   # PNGs of each page, then exit
 *
 * Screenshots need /usr/bin/chromium (Debian's `chromium` package).
 * @module
 */
import { chromium } from "playwright-core";
import { Verk, type WorkerObject } from "../mod.ts";
import { serveWeb } from "../src/web/mod.ts";
import { startRedis } from "../tests/_helpers/redis.ts";

class PaymentDeclined extends Error {
  override name = "PaymentDeclined";
}

const shotsDir = Deno.args[0] === "--screenshots" ? Deno.args[1] ?? "docs" : undefined;
await using redis = await startRedis();
const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    });
  });

await using verk = new Verk({
  redisUrl: redis.url,
  nodeId: "web-demo",
  queues: { default: 10, mailers: 5, reports: 2 },
  heartbeat: 5_000,
  pollInterval: 500,
  shutdownTimeout: 1_000,
  startJobLogLevel: "debug",
  doneJobLogLevel: "debug",
  failJobLogLevel: "debug",
  workers: {
    ResizeImage: { perform: () => sleep(5 + Math.random() * 40) },
    SendEmail: {
      perform(to: string) {
        if (Math.random() < 0.08) throw new Error(`SMTP 451 for ${to}: try again later`);
      },
    },
    ChargeCard: {
      perform(order: number) {
        throw new PaymentDeclined(`card declined for order ${order}`);
      },
    },
    RenderTemplate: {
      perform(_template: string) {
        throw new SyntaxError("unexpected token < in template at 1:1");
      },
    },
    MonthlyReport: {
      perform(_month: string) {
        return sleep(600_000, this.job.signal);
      },
    } satisfies WorkerObject<[string]>,
  },
});
await verk.start();

// Failures: retries (several attempts left) and dead jobs (none left).
await verk.enqueueMany(
  Array.from({ length: 6 }, (_, i) => ({
    queue: "default",
    class: "ChargeCard",
    args: [4100 + i],
  })),
);
await verk.enqueueMany(
  Array.from({ length: 3 }, (_, i) => ({
    queue: "default",
    class: "ChargeCard",
    args: [5200 + i],
    maxRetryCount: 0,
  })),
);
// Args are untrusted data: the dashboard shows this as text.
await verk.enqueue({
  queue: "mailers",
  class: "RenderTemplate",
  args: ['<script>alert("args are data")</script>'],
  maxRetryCount: 0,
});
// Long jobs for the Busy page, scheduled jobs, and a paused queue with a backlog.
await verk.enqueue({ queue: "reports", class: "MonthlyReport", args: ["2026-11"] });
await verk.enqueue({ queue: "reports", class: "MonthlyReport", args: ["2026-10"] });
for (let i = 1; i <= 4; i++) {
  await verk.schedule(
    { queue: "mailers", class: "SendEmail", args: [`reminder-${i}@example.com`] },
    Date.now() + i * 3_600_000,
  );
}
await verk.pauseQueue("imports");
await verk.enqueueMany(
  Array.from({ length: 42 }, (_, i) => ({
    queue: "imports",
    class: "ImportCsv",
    args: [`s3://uploads/batch-${i}.csv`, { dryRun: false }],
  })),
);

// A steady load with a burst every 20 s, so the chart has a shape.
let ticks = 0;
const load = setInterval(() => {
  const burst = ticks++ % 20 < 4 ? 60 : 12;
  verk.enqueueMany([
    ...Array.from({ length: burst }, (_, i) => ({
      queue: "default",
      class: "ResizeImage",
      args: [`img-${ticks}-${i}.png`, 640],
    })),
    ...Array.from({ length: 4 }, (_, i) => ({
      queue: "mailers",
      class: "SendEmail",
      args: [`user${ticks * 4 + i}@example.com`],
    })),
  ]).catch(() => {});
}, 1_000);

const stop = new AbortController();
const server = serveWeb({
  redisUrl: redis.url,
  port: shotsDir ? 0 : 9292,
  signal: stop.signal,
  onListen: ({ port }) => console.log(`demo dashboard on http://127.0.0.1:${port}/`),
});

try {
  if (shotsDir) await screenshots(`http://127.0.0.1:${server.addr.port}`, shotsDir);
  else await new Promise((resolve) => Deno.addSignalListener("SIGINT", () => resolve(null)));
} finally {
  clearInterval(load);
  stop.abort();
  await server.finished;
}

async function screenshots(url: string, dir: string): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  const browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    // The sampler fills the chart from the first page view on: give it 40 s of history.
    await page.goto(`${url}/`);
    await sleep(40_000);
    await page.reload();
    await sleep(3_000);
    const shoot = async (path: string, name: string) => {
      if (path) await page.goto(url + path);
      await page.screenshot({ path: `${dir}/web-${name}.png` });
      console.log(`${dir}/web-${name}.png`);
    };
    await shoot("", "overview");
    await shoot("/queues", "queues");
    await shoot("/busy", "busy");
    await shoot("/retries", "retries");
    await page.goto(`${url}/dead`);
    const row = page.locator("tr[data-jid]", { hasText: "RenderTemplate" });
    const jid = await row.getAttribute("data-jid");
    await shoot(`/dead/${jid}`, "job");
  } finally {
    await browser.close();
  }
}
