/**
 * The dashboard in a real headless Chromium (Debian's `chromium`, driven by
 * playwright-core): real jobs made by the engine, buttons clicked as a person
 * would. On a failed step a full-page screenshot goes to a temp dir, named in
 * the error.
 *
 * Skipped with a message when /usr/bin/chromium is missing, except with
 * CI=true, where it fails instead (.ci/run installs chromium).
 */
import assert from "node:assert/strict";
import { type Browser, chromium, type Page } from "playwright-core";
import { createWebHandler } from "../../src/web/mod.ts";
import { eventually, startRedis } from "../_helpers/redis.ts";
import { deferred, inspector, testVerk } from "../_helpers/verk.ts";
import { Broken } from "../_helpers/jobs.ts";

const CHROMIUM = "/usr/bin/chromium";
const haveChromium = (() => {
  try {
    return Deno.statSync(CHROMIUM).isFile;
  } catch {
    return false;
  }
})();
const inCi = Deno.env.get("CI") === "true";
if (!haveChromium && !inCi) {
  console.warn(
    `browser tests skipped: ${CHROMIUM} is missing (apt-get install chromium; with CI=true they fail instead)`,
  );
}

const LAUNCH_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

Deno.test({
  name: "browser: the dashboard shows and operates real jobs in Chromium",
  ignore: !haveChromium && !inCi,
  // playwright-core keeps pipes and timers of its own between steps.
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    if (!haveChromium) {
      throw new Error(`${CHROMIUM} is missing: .ci/run installs it with apt-get (chromium)`);
    }
    await using redis = await startRedis();
    await using db = inspector(redis.url);
    const gate = deferred();
    const ran: number[] = [];
    let flakyFails = true;
    await using verk = testVerk(redis.url, {
      nodeId: "browser-node",
      queues: { default: 2, slow: 1, pausable: 1 },
      workers: {
        // Fails into the retry set, with its retry an hour away (it stays there).
        Broken: {
          perform(_n: number) {
            throw new Broken("broken <b>bold</b>");
          },
          retryAt: () => new Date(Date.now() + 3_600_000),
        },
        // Fails while flakyFails is set (enqueued with no retries: straight to dead).
        Flaky: {
          perform(n: number) {
            if (flakyFails) throw new Error("flaky");
            ran.push(n);
          },
        },
        Slow: { perform: (_n: number) => gate.promise },
        Ok: { perform: () => {} },
      },
    });
    await verk.start();
    const broken = await verk.enqueueMany(
      [1, 2, 3].map((n) => ({ queue: "default", class: "Broken" as const, args: [n] as [number] })),
    );
    await verk.enqueue({ queue: "default", class: "Flaky", args: [42], maxRetryCount: 0 });
    const slow = await verk.enqueue({ queue: "slow", class: "Slow", args: [7] });
    await verk.enqueue({ queue: "pausable", class: "Ok", args: [] });
    await verk.schedule({ queue: "default", class: "Ok", args: [] }, Date.now() + 3_600_000);
    await eventually(async () =>
      await db.zcard("retry") === 3 && await db.zcard("dead") === 1 &&
      await db.llen("inprogress:slow:browser-node") === 1
    );

    await using web = createWebHandler({ redisUrl: redis.url });
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, web);
    const url = `http://127.0.0.1:${server.addr.port}`;
    let browser: Browser | undefined;
    try {
      browser = await chromium.launch({ executablePath: CHROMIUM, args: LAUNCH_ARGS });
      const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
      const errors: string[] = [];
      page.on("console", (message) => {
        if (message.type() === "error") errors.push(message.text());
      });
      page.on("pageerror", (error) => errors.push(error.message));
      const step = (name: string, fn: () => Promise<void>) =>
        t.step(name, async () => {
          try {
            await fn();
          } catch (error) {
            throw new Error(
              `${(error as Error).message}\nscreenshot: ${await screenshot(page, name)}`,
              { cause: error },
            );
          }
        });

      await step("every page loads, with no script or CSP error", async () => {
        const pages: [string, string][] = [
          ["/", "Overview"],
          ["/queues", "Queues"],
          ["/queues/default", "Queue default"],
          ["/busy", "Busy"],
          ["/retries", "Retries"],
          ["/scheduled", "Scheduled"],
          ["/dead", "Dead"],
          [`/retries/${broken[0]}`, `Job ${broken[0]}`],
        ];
        for (const [path, title] of pages) {
          await page.goto(url + path);
          assert.equal(await page.locator("h1").textContent(), title, path);
        }
        assert.equal(
          await page.locator("#error").textContent(),
          "Broken: broken <b>bold</b>",
          "the error shows as text",
        );
        assert.match((await page.locator("#backtrace").textContent())!, /browser_test\.ts:\d+/);
        assert.deepEqual(errors, []);
      });

      await step("the overview's chart fills in from the event stream", async () => {
        await page.goto(url + "/");
        await page.waitForFunction(() => {
          const { document } = globalThis as unknown as BrowserGlobals;
          const now = document.querySelector("[data-now=processed]")?.textContent ?? "";
          const line = document.querySelector("#chart polyline.processed");
          return /^\d/.test(now) && (line?.getAttribute("points") ?? "").split(" ").length >= 2;
        });
        assert.equal(await page.locator("[data-stat=dead]").textContent(), "1");
        assert.deepEqual(errors, []);
      });

      await step("a queue is paused and resumed with its button", async () => {
        await page.goto(url + "/queues");
        const row = page.locator("tr[data-queue=pausable]");
        assert.equal(await row.locator("[data-status]").textContent(), "idle");
        await row.getByRole("button", { name: "Pause" }).click();
        await page.waitForURL(/\/queues\/pausable\?done=paused/);
        assert.equal(await page.locator("[data-status]").first().textContent(), "paused");
        assert.match((await page.locator(".flash").textContent())!, /Paused on every node/);
        assert.equal(await db.sismember("verk:paused", "pausable"), 1);
        await page.getByRole("button", { name: "Resume" }).click();
        await page.waitForURL(/done=resumed/);
        assert.equal(await page.locator("[data-status]").first().textContent(), "idle");
      });

      await step("a table sorts from the keyboard", async () => {
        await page.goto(url + "/queues");
        const header = page.getByRole("button", { name: "Queue", exact: true });
        await header.focus();
        await page.keyboard.press("Enter");
        const names = () =>
          page.locator("tbody tr[data-queue]").evaluateAll((rows) =>
            rows.map((row) => row.getAttribute("data-queue"))
          );
        assert.deepEqual(await names(), ["default", "pausable", "slow"]);
        await page.keyboard.press("Enter");
        assert.deepEqual(await names(), ["slow", "pausable", "default"]);
        assert.equal(
          await page.locator("th[aria-sort]").getAttribute("aria-sort"),
          "descending",
        );
      });

      await step("Busy shows the running job, linked to its queue and its node", async () => {
        await page.goto(url + "/busy");
        const row = page.locator(`tr[data-jid="${slow}"]`);
        assert.match((await row.textContent())!, /Slow/);
        await row.getByRole("link", { name: "slow" }).click();
        await page.waitForURL(/\/queues\/slow$/);
        assert.match((await page.locator("dl.fields").textContent())!, /1 on browser-node/);
        await page.getByRole("link", { name: "browser-node" }).click();
        await page.waitForURL(/\/busy#node-browser-node$/);
      });

      await step("selected retries are deleted", async () => {
        await page.goto(url + "/retries");
        await page.getByLabel(`Select ${broken[0]}`).check();
        await page.getByLabel(`Select ${broken[1]}`).check();
        await page.getByRole("button", { name: "Delete", exact: true }).click();
        await page.waitForURL(/done=deleted/);
        assert.equal(await page.locator(".flash").textContent(), "Deleted 2 jobs.");
        assert.deepEqual(await jidsOnPage(page), [broken[2]]);
        assert.equal(await db.zcard("retry"), 1);
      });

      await step("a dead job is retried and runs", async () => {
        flakyFails = false;
        await page.goto(url + "/dead");
        await page.getByLabel("Select every job on this page").check();
        await page.getByRole("button", { name: "Retry now" }).click();
        await page.waitForURL(/done=run/);
        assert.equal(await page.locator(".flash").textContent(), "Enqueued 1 job.");
        await eventually(() => ran.includes(42), { message: "the retried job ran" });
        await page.goto(url + "/dead");
        assert.match((await page.locator("main").textContent())!, /No dead jobs/);
      });

      await step("delete all asks first, then empties the set", async () => {
        await page.goto(url + "/retries");
        await page.getByText("Delete all…").click();
        await page.getByRole("button", { name: "Yes, delete all" }).click();
        await page.waitForURL(/done=cleared/);
        assert.match((await page.locator("main").textContent())!, /No retries/);
        assert.equal(await db.zcard("retry"), 0);
      });

      await step("on a phone the page does not scroll sideways", async () => {
        await page.setViewportSize({ width: 390, height: 844 });
        for (const path of ["/", "/queues", "/busy", "/scheduled"]) {
          await page.goto(url + path);
          const overflow = await page.evaluate(() => {
            const { document, innerWidth } = globalThis as unknown as BrowserGlobals;
            return document.documentElement.scrollWidth - innerWidth;
          });
          assert.ok(overflow <= 0, `${path} is ${overflow}px too wide`);
        }
        assert.deepEqual(errors, []);
      });
    } finally {
      gate.resolve();
      await browser?.close();
      await server.shutdown();
    }
  },
});

/**
 * The little of the DOM that code run in the page uses (these files are
 * type-checked without the DOM library; strings would be eval, which the CSP
 * forbids).
 */
interface BrowserGlobals {
  document: {
    querySelector(selector: string): {
      textContent: string | null;
      getAttribute(name: string): string | null;
    } | null;
    documentElement: { scrollWidth: number };
  };
  innerWidth: number;
}

async function jidsOnPage(page: Page): Promise<(string | null)[]> {
  return await page.locator("tbody tr[data-jid]").evaluateAll((rows) =>
    rows.map((row) => row.getAttribute("data-jid"))
  );
}

let shots: string | undefined;

/** A full-page screenshot for a failed step; returns its path. */
async function screenshot(page: Page, step: string): Promise<string> {
  shots ??= await Deno.makeTempDir({ prefix: "verk-web-browser-" });
  const path = `${shots}/${step.replace(/\W+/g, "-")}.png`;
  try {
    await page.screenshot({ path, fullPage: true });
    return path;
  } catch (error) {
    return `(none: ${(error as Error).message})`;
  }
}
