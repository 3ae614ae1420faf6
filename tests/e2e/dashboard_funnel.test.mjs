// Funnels in the dashboard: steps built by clicking show, per step, the
// numbers the API gives for the same steps (and the ones known from the
// events sent); the address keeps the funnel, so a reload shows it again;
// steps move, and a breakdown splits the funnel by device.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { openCollectorAndBrowser, closeCollectorAndBrowser, eventually } from "./harness.mjs";
import { startDashboardCollector, signIn, send, api, lastDays, assertAccessible, IPHONE, DESKTOP } from "./dashboard_harness.mjs";

let collector, browser;
before(async () => {
  ({ collector, browser } = await openCollectorAndBrowser(startDashboardCollector));
  await seed();
});
after(() => closeCollectorAndBrowser({ collector, browser }));

/**
 * Four visits, ten seconds between pages: home → pricing → signup (a
 * phone), home → pricing, home → docs, and pricing alone (never home).
 */
async function seed() {
  const start = Date.now() - 10 * 60_000;
  const visit = (steps, userAgent) => {
    const ids = { visitor_id: randomUUID(), session: randomUUID() };
    const events = steps.map((step, i) => ({
      ...ids, ts: start + i * 10_000,
      ...(step.startsWith("/") ? { name: "$pageview", url: `https://demo.example${step}` } : { name: step, url: "https://demo.example/pricing" }),
    }));
    return send(collector.url, events, "demo", { userAgent });
  };
  await visit(["/", "/pricing", "signup"], IPHONE);
  await visit(["/", "/pricing"], DESKTOP);
  await visit(["/", "/docs"], DESKTOP);
  await visit(["/pricing"], DESKTOP);
}

const cells = (page, selector) => page.$$eval(`${selector} tbody tr`, (rows) => rows.map((r) => [...r.children].map((c) => c.textContent)));

/** The table's rows as the API's answer for the same steps would show them. */
function rowsOf(steps, names) {
  const pct = (r) => `${Math.round(r * 100)}%`;
  const time = (ms) => (ms < 60_000 ? `${Math.round(ms / 1000)}s` : `${Math.floor(ms / 60_000)}m ${Math.round(ms / 1000) % 60}s`);
  return steps.map((s, i) => [`${i + 1}. ${names[i]}`, String(s.reached), pct(s.from_previous), pct(s.from_first), String(s.dropped),
    i === 0 || s.median_ms == null ? "–" : time(s.median_ms)]);
}

test("a funnel built by clicking shows the API's numbers per step, and a reload shows the same funnel", async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  await signIn(page, collector.url);
  await page.click("#tabs button[data-tab=funnels]");
  await page.waitForSelector("#funnel-result .none");

  // The builder starts with the home page; a second page, then an event.
  assert.equal(await page.inputValue("[aria-label='Step 1: path']"), "/");
  await page.fill("[aria-label='Step 2: path']", "/pricing");
  await page.click("#add-step");
  await page.selectOption("[aria-label='Step 3: page or event']", "event");
  await page.fill("[aria-label='Step 3: name']", "signup");
  await page.click("#funnel-form button[type=submit]");

  const names = ["Viewed /", "Viewed /pricing", "signup"];
  const { from, to } = lastDays(7);
  const answer = await api(page, `query/funnel?site=demo&from=${from}&to=${to}&step=page:/&step=page:/pricing&step=event:signup`);
  assert.deepEqual(answer.total.steps.map((s) => s.reached), [3, 2, 1], "home 3, pricing 2, signup 1: the visit to pricing alone never started");
  const expected = rowsOf(answer.total.steps, names);
  assert.deepEqual(expected.map((r) => r.slice(1, 5)), [["3", "100%", "100%", "0"], ["2", "67%", "67%", "1"], ["1", "50%", "33%", "1"]]);
  await eventually(async () => assert.deepEqual(await cells(page, "#funnel-table"), expected));
  const bars = await page.$$eval(".funnel-chart .funnel-figure", (f) => f.map((x) => x.textContent));
  assert.deepEqual(bars, ["3 visitors (100%)", "2 visitors (67%) −1 dropped", "1 visitors (33%) −1 dropped"]);
  await assertAccessible(page);

  // The address holds the funnel: reloading shows it, and the builder holds its steps.
  assert.match(page.url(), /funnel\.step=page%3A%2F&funnel\.step=page%3A%2Fpricing&funnel\.step=event%3Asignup/);
  await page.reload();
  await eventually(async () => assert.deepEqual(await cells(page, "#funnel-table"), expected));
  assert.equal(await page.getAttribute("#tabs button[aria-current=page]", "data-tab"), "funnels");
  assert.deepEqual([await page.inputValue("[aria-label='Step 2: path']"), await page.inputValue("[aria-label='Step 3: name']")], ["/pricing", "signup"]);
  await context.close();
});

test("moving a step, strict order and a breakdown by device give the API's numbers", async () => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await signIn(page, collector.url);
  await page.click("#tabs button[data-tab=funnels]");
  await page.fill("[aria-label='Step 2: path']", "/docs");
  await page.click("#add-step");
  await page.fill("[aria-label='Step 3: path']", "/pricing");
  // Pricing before docs: home → pricing → docs.
  await page.click("button[aria-label='Move step 3 up']");
  assert.deepEqual([await page.inputValue("[aria-label='Step 2: path']"), await page.inputValue("[aria-label='Step 3: path']")], ["/pricing", "/docs"]);
  await page.click("button[aria-label='Remove step 3']");
  await page.selectOption("#funnel-order", "strict");
  await page.selectOption("#funnel-within-kind", "days");
  await page.fill("#funnel-days", "3");
  await page.selectOption("#funnel-breakdown", "device");
  await page.click("#funnel-form button[type=submit]");

  const { from, to } = lastDays(7);
  const answer = await api(page, `query/funnel?site=demo&from=${from}&to=${to}&step=page:/&step=page:/pricing&order=strict&within=3&breakdown=device`);
  assert.deepEqual(answer.total.steps.map((s) => s.reached), [3, 2]);
  await eventually(async () => assert.deepEqual(await cells(page, "#funnel-table"), rowsOf(answer.total.steps, ["Viewed /", "Viewed /pricing"])));
  const byDevice = Object.fromEntries(answer.breakdown.map((b) => [b.value, b.steps.map((s) => s.reached)]));
  assert.deepEqual(byDevice, { desktop: [2, 1], mobile: [1, 1] });
  const shown = await cells(page, "#funnel-breakdown-table");
  assert.deepEqual(Object.fromEntries(shown.map(([value, ...steps]) => [value, steps])), { desktop: ["2", "1 (50%)"], mobile: ["1", "1 (100%)"] });
  assert.match(page.url(), /funnel\.order=strict/);
  assert.match(page.url(), /funnel\.within=3/);
  await page.close();
});

test("steps and settings being edited stay when the view is drawn again, until the address names another funnel", async () => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await signIn(page, collector.url);
  await page.click("#tabs button[data-tab=funnels]");
  await page.fill("[aria-label='Step 2: path']", "/pricing");
  await page.click("#add-step");
  await page.selectOption("[aria-label='Step 3: page or event']", "event");
  await page.fill("[aria-label='Step 3: name']", "signup");
  await page.selectOption("#funnel-order", "strict");
  await page.selectOption("#funnel-within-kind", "days");
  await page.fill("#funnel-days", "3");
  await page.selectOption("#funnel-breakdown", "device");

  const builder = async () => ({
    steps: await page.$$eval("#funnel-steps li", (items) => items.map((li) => [...li.querySelectorAll("select, input")].map((i) => i.value))),
    settings: await Promise.all(["#funnel-within-kind", "#funnel-days", "#funnel-order", "#funnel-count", "#funnel-breakdown"].map((s) => page.inputValue(s))),
  });
  const built = {
    steps: [["page", "/"], ["page", "/pricing"], ["event", "signup", "", ""]],
    settings: ["days", "3", "strict", "visitors", "device"],
  };
  assert.deepEqual(await builder(), built);
  // Another period redraws the view; so does another tab and back. Nothing was shown yet.
  await page.selectOption("#range", "30");
  await eventually(async () => assert.match(page.url(), /range=30/));
  assert.deepEqual(await builder(), built);
  await page.click("#tabs button[data-tab=overview]");
  await page.click("#tabs button[data-tab=funnels]");
  await page.waitForSelector("section#funnels:not([hidden])");
  assert.deepEqual(await builder(), built);
  assert.equal(await page.textContent("#funnel-result"), "Add two steps or more and show the funnel.");
  await assertAccessible(page);

  // Shown, then changed again without showing: the table is the shown funnel's, the builder the edit's.
  await page.click("#funnel-form button[type=submit]");
  await page.waitForSelector("#funnel-table");
  assert.match(page.url(), /funnel\.step=event%3Asignup/);
  await page.fill("[aria-label='Step 3: name']", "purchase");
  await page.selectOption("#range", "7");
  await eventually(async () => assert.doesNotMatch(page.url(), /range=/));
  await page.waitForSelector("#funnel-table");
  assert.equal(await page.inputValue("[aria-label='Step 3: name']"), "purchase");
  assert.equal(await page.textContent("#funnel-table tbody tr[data-step='3'] td"), "3. signup");

  // Back to before it was shown: the address names no funnel, and the builder starts afresh.
  await page.goBack();
  await page.goBack();
  await eventually(async () => assert.equal(await page.textContent("#funnel-result"), "Add two steps or more and show the funnel."));
  assert.deepEqual(await builder(), { steps: [["page", "/"], ["page", ""]], settings: ["session", "7", "loose", "visitors", ""] });
  await page.close();
});
