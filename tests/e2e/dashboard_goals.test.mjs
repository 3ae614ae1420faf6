// Goals in the dashboard: a page goal and an event goal with a property,
// added through the form, listed with the converted visitors, events and
// rate the API counts; the overview shows them too, and a chosen goal's
// conversions per row in the tables of visit dimensions; a goal is deleted.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { openCollectorAndBrowser, closeCollectorAndBrowser, eventually } from "./harness.mjs";
import { startDashboardCollector, signIn, send, api, lastDays, assertAccessible } from "./dashboard_harness.mjs";

let collector, browser;
before(async () => ({ collector, browser } = await openCollectorAndBrowser(startDashboardCollector)));
after(() => closeCollectorAndBrowser({ collector, browser }));

/** Four visitors: one reaches the thanks page, two sign up (one on the pro plan), one only looks. */
async function seed() {
  const visitor = (...events) => {
    const ids = { visitor_id: randomUUID(), session: randomUUID() };
    return events.map(([name, path, props], i) => ({ ...ids, name, url: `https://demo.example${path}`, ts: Date.now() - 60_000 + i * 1000, ...(props ? { props } : {}) }));
  };
  await send(collector.url, [
    ...visitor(["$pageview", "/"], ["$pageview", "/thanks"]),
    ...visitor(["$pageview", "/"], ["signup", "/", { plan: "pro" }]),
    ...visitor(["$pageview", "/"], ["signup", "/", { plan: "free" }]),
    ...visitor(["$pageview", "/"]),
  ]);
}

const cells = (page, selector) => page.$$eval(`${selector} tr`, (rows) => rows.map((r) => [...r.children].map((c) => c.textContent)));

test("goals added in the dashboard are listed with the API's conversions, also on the overview", async () => {
  await seed();
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await signIn(page, collector.url);
  await page.click("#tabs button[data-tab=goals]");
  await page.waitForSelector("#goal-rows td.none");

  await page.fill("#goal-form input[name=name]", "Thanks page");
  await page.fill("#goal-form input[name=pattern]", "/thanks");
  await page.click("#goal-form button[type=submit]");
  await page.waitForSelector("#goal-rows tr[data-goal]");
  await page.fill("#goal-form input[name=name]", "Pro sign-up");
  await page.selectOption("#goal-kind", "event");
  await page.fill("#goal-form input[name=event]", "signup");
  await page.fill("#goal-form input[name=property]", "plan");
  await page.fill("#goal-form input[name=value]", "pro");
  await page.click("#goal-form button[type=submit]");

  const { from, to } = lastDays(7);
  const figures = (await api(page, `query/overview?site=demo&from=${from}&to=${to}`)).current.goals;
  const pct = (r) => `${Math.round(r * 100)}%`;
  // Listed by name, as the API lists them.
  assert.deepEqual(figures.map((g) => [g.name, g.conversions, g.events, pct(g.rate)]), [["Pro sign-up", 1, 1, "25%"], ["Thanks page", 1, 1, "25%"]]);
  await eventually(async () => assert.deepEqual(await cells(page, "#goal-rows"), [
    ["Pro sign-up", "signup where plan = pro", "1", "1", "25%", "Delete"],
    ["Thanks page", "Viewed /thanks", "1", "1", "25%", "Delete"],
  ]));
  await assertAccessible(page);

  // The overview: each goal's figures, and one chosen for the tables.
  await page.click("#tabs button[data-tab=overview]");
  await eventually(async () => assert.deepEqual(await cells(page, "#goal-table tbody"), figures.map((g) => [g.name, "1", String(g.events), "25%"])));
  await page.selectOption("#table-goal", { label: "Pro sign-up" });
  await page.locator("#panels .panel-tabs button[data-dimension=device]").click();
  const devices = await api(page, `query/breakdown?site=demo&from=${from}&to=${to}&dimension=device`);
  const pro = devices.rows[0].goals.find((g) => g.name === "Pro sign-up");
  await eventually(async () => {
    const headers = await page.$$eval("#panels .panel:nth-child(4) thead th", (th) => th.map((h) => h.textContent));
    assert.deepEqual(headers.slice(3), ["Pro sign-up: converted", "Rate"]);
    const [row] = await cells(page, "#panels .panel:nth-child(4) tbody");
    assert.deepEqual(row.slice(3), [String(pro.conversions), pct(pro.rate)]);
  });
  assert.match(page.url(), /goal=/);
  await assertAccessible(page);

  await page.click("#tabs button[data-tab=goals]");
  page.once("dialog", (d) => d.accept());
  await page.click("button[aria-label='Delete the goal Thanks page']");
  await eventually(async () => assert.deepEqual((await cells(page, "#goal-rows")).map((r) => r[0]), ["Pro sign-up"]));
  assert.deepEqual((await api(page, "goals?site=demo")).map((g) => g.name), ["Pro sign-up"]);
  await page.close();
});
