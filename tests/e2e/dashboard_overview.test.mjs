// The overview in Chromium shows the numbers the query API gives, before
// and after a filter clicked from a table; a screenshot is kept.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { openCollectorAndBrowser, closeCollectorAndBrowser, eventually } from "./harness.mjs";
import { startDashboardCollector, signIn, send } from "./dashboard_harness.mjs";

const artifacts = join(dirname(fileURLToPath(import.meta.url)), "..", "artifacts");

let collector, browser;
before(async () => ({ collector, browser } = await openCollectorAndBrowser(startDashboardCollector)));
after(() => closeCollectorAndBrowser({ collector, browser }));

const fmt = {
  visitors: (n) => n.toLocaleString("en-US"),
  sessions: (n) => n.toLocaleString("en-US"),
  pageviews: (n) => n.toLocaleString("en-US"),
  events: (n) => n.toLocaleString("en-US"),
  bounce_rate: (r) => `${Math.round(r * 100)}%`,
};

async function shownTotals(page) {
  return page.$$eval("#totals .total", (cards) => Object.fromEntries(cards.map((c) => [c.dataset.metric, c.querySelector(".value").textContent])));
}

async function apiTotals(page, query) {
  const body = await page.evaluate(async (q) => (await fetch(`/api/query/overview?${q}`)).json(), query);
  return Object.fromEntries(Object.entries(fmt).map(([k, f]) => [k, f(body.current.totals[k])]));
}

function range() {
  const today = new Date().toISOString().slice(0, 10);
  const d = new Date(`${today}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() - 6);
  return `site=demo&from=${d.toISOString().slice(0, 10)}&to=${today}`;
}

test("the overview's totals equal the API's, also after filtering by a clicked page", async () => {
  const sessionA = crypto.randomUUID();
  const sessionB = crypto.randomUUID();
  await send(collector.url, [
    { name: "$pageview", url: "https://demo.example/", session: sessionA },
    { name: "$pageview", url: "https://demo.example/pricing", session: sessionA },
    { name: "signup", url: "https://demo.example/pricing", session: sessionA, props: { plan: "pro" } },
    { name: "$pageview", url: "https://demo.example/pricing", session: sessionB },
    { name: "$pageview", url: "https://demo.example/docs", session: sessionB },
  ]);

  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await signIn(page, collector.url);
  await page.waitForSelector("#totals .total");
  const expected = await apiTotals(page, range());
  assert.equal(expected.pageviews, "4");
  await eventually(async () => {
    const shown = await shownTotals(page);
    for (const key of Object.keys(fmt)) assert.equal(shown[key], expected[key], key);
  });
  await page.waitForSelector("#chart .uplot");

  await page.locator("#panels tr.clickable", { hasText: "/pricing" }).first().click();
  await page.waitForSelector("#filters .chip");
  assert.equal(await page.textContent("#filters .chip"), "page is /pricing ×");
  const filtered = await apiTotals(page, range() + "&filter.page=%2Fpricing");
  assert.equal(filtered.pageviews, "2");
  await eventually(async () => {
    const shown = await shownTotals(page);
    for (const key of Object.keys(fmt)) assert.equal(shown[key], filtered[key], key);
  });

  mkdirSync(artifacts, { recursive: true });
  await page.screenshot({ path: join(artifacts, "dashboard-overview.png"), fullPage: true });
  await page.close();
});

test("the comparison with the previous period is shown, switched off, and stays off in the address", async () => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await signIn(page, collector.url);
  await page.waitForSelector("#chart .uplot");
  const before = (await page.evaluate(async (q) => (await fetch(`/api/query/overview?${q}`)).json(), range())).previous.totals;
  assert.equal(await page.textContent("#totals [data-metric=pageviews] .previous"), `previous: ${before.pageviews}`);
  const legend = () => page.$$eval("#chart .u-legend .u-series th", (s) => s.map((x) => x.textContent.replace(/:.*/, "").trim()).filter(Boolean));
  assert.deepEqual(await legend(), ["Day", "Visitors", "Pageviews", "Visitors, previous period"]);

  await page.uncheck("#compare");
  await eventually(async () => assert.equal(await page.locator("#totals .previous, #totals .change").count(), 0));
  await eventually(async () => assert.deepEqual(await legend(), ["Day", "Visitors", "Pageviews"]));
  assert.match(page.url(), /compare=off/);
  await page.reload();
  await page.waitForSelector("#chart .uplot");
  assert.equal(await page.isChecked("#compare"), false);
  assert.equal(await page.locator("#totals .previous").count(), 0);
  await page.close();
});

test("the chart's y axis is wide enough for five-digit counts", async () => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await signIn(page, collector.url);
  await page.waitForSelector("#chart .uplot");
  const { width, label } = await page.evaluate(async () => {
    const { axisWidth } = await import("/dashboard/overview.js");
    const ctx = document.createElement("canvas").getContext("2d");
    const axis = { font: ["12px system-ui, sans-serif"], ticks: { size: 10 }, gap: 5 };
    const width = axisWidth({ ctx, axes: [{}, axis] }, ["0", "5,000", "10,000"], 1, 0);
    ctx.font = axis.font[0];
    return { width, label: ctx.measureText("10,000").width / devicePixelRatio };
  });
  assert.ok(width >= label + 15, `an axis of ${width}px holds "10,000" (${label}px) and its ticks`);
  await page.close();
});

test("the dashboard and the demo site have an icon", async () => {
  const page = await browser.newPage();
  await page.goto(collector.url + "/");
  const icons = await page.evaluate(async () => {
    const link = document.querySelector('link[rel="icon"]').href;
    const answers = await Promise.all([link, "/favicon.ico"].map((u) => fetch(u)));
    return answers.map((r) => [r.status, r.headers.get("content-type")]);
  });
  assert.deepEqual(icons, [[200, "image/svg+xml"], [200, "image/svg+xml"]]);
  await page.close();
});
