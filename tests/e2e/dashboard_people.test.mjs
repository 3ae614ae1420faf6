// People in the dashboard: two visitors, a phone and a computer, both
// identified as the same user; searched in People, that user is one person
// with both devices, and their journey shows both devices' visits in time
// order, each with its events; the address keeps the person shown.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { openCollectorAndBrowser, closeCollectorAndBrowser, eventually } from "./harness.mjs";
import { startDashboardCollector, signIn, send, api, lastDays, assertAccessible, IPHONE, DESKTOP } from "./dashboard_harness.mjs";

let collector, browser;
before(async () => ({ collector, browser } = await openCollectorAndBrowser(startDashboardCollector)));
after(() => closeCollectorAndBrowser({ collector, browser }));

const HOUR = 3_600_000;

/** Ann on her phone three hours ago, on her computer an hour ago; someone else, never identified. */
async function seed() {
  const now = Date.now();
  const phone = { visitor_id: randomUUID(), session: randomUUID() };
  const computer = { visitor_id: randomUUID(), session: randomUUID() };
  const stranger = { visitor_id: randomUUID(), session: randomUUID() };
  const page = (ids, path, ts, extra = {}) => ({ ...ids, name: "$pageview", url: `https://demo.example${path}`, ts, ...extra });
  const identify = (ids, path, ts) => ({ ...ids, name: "$identify", url: `https://demo.example${path}`, ts, user_id: "ann-1" });
  await send(collector.url, [
    page(phone, "/", now - 3 * HOUR),
    identify(phone, "/", now - 3 * HOUR + 5_000),
    page(phone, "/pricing", now - 3 * HOUR + 20_000, { user_id: "ann-1" }),
  ], "demo", { userAgent: IPHONE });
  await send(collector.url, [
    page(computer, "/docs", now - HOUR),
    identify(computer, "/docs", now - HOUR + 5_000),
    { ...computer, name: "signup", url: "https://demo.example/docs", ts: now - HOUR + 30_000, user_id: "ann-1" },
  ], "demo", { userAgent: DESKTOP });
  await send(collector.url, [page(stranger, "/", now - 2 * HOUR)], "demo", { userAgent: DESKTOP });
}

const cells = (page, selector) => page.$$eval(`${selector} tr`, (rows) => rows.map((r) => [...r.children].map((c) => c.textContent)));

test("a user identified on a phone and a computer is one person whose journey shows both devices in time order", async () => {
  await seed();
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await signIn(page, collector.url);
  await page.click("#tabs button[data-tab=people]");
  await eventually(async () => assert.equal((await cells(page, "#people-rows")).length, 2), undefined, "two people: Ann and the stranger");

  await page.fill("#people-query", "ann");
  await page.click("#people-search button[type=submit]");
  const { from, to } = lastDays(7);
  const listed = await api(page, `query/people?site=demo&from=${from}&to=${to}&search=ann`);
  assert.equal(listed.people.length, 1);
  const ann = listed.people[0];
  assert.equal(ann.sessions, 2);
  assert.deepEqual([...ann.devices].sort(), ["desktop", "mobile"]);
  await eventually(async () => {
    const [row] = await cells(page, "#people-rows");
    assert.deepEqual([row[0], row[3], row[4]], ["ann-1", "2", ann.devices.join(", ")]);
  });
  await assertAccessible(page);

  await page.click("#people-rows button:has-text('ann-1')");
  await page.waitForSelector("#person:not([hidden]) .visit");
  assert.equal(await page.textContent("#person-title"), "User ann-1");
  assert.match(await page.textContent("#person-summary"), /^2 visits on 2 devices, 2 visitor ids/);
  const visits = await page.$$eval("#person-visits > li", (items) => items.map((li) => ({
    device: li.querySelector(".device").textContent,
    events: [...li.querySelectorAll(".journey li")].map((e) => `${e.querySelector("strong").textContent} ${e.querySelector(".path").textContent}`),
  })));
  assert.deepEqual(visits.map((v) => v.events), [
    ["$pageview /", "$identify /", "$pageview /pricing"],
    ["$pageview /docs", "$identify /docs", "signup /docs"],
  ], "the phone's visit first: it came first");
  assert.deepEqual(visits.map((v) => v.device.split(" · ")[0]), ["mobile", "desktop"]);
  const journey = await api(page, "query/people/journey?site=demo&user=ann-1");
  assert.deepEqual(visits.map((v) => v.device), journey.visits.map((v) => [v.device, v.browser, v.os].filter(Boolean).join(" · ")));
  await assertAccessible(page);

  // The person is in the address: a reload shows the journey again; back is the list.
  assert.match(page.url(), /people\.user=ann-1/);
  await page.reload();
  await page.waitForSelector("#person:not([hidden]) .visit");
  assert.equal(await page.locator("#person-visits > li").count(), 2);
  await page.click("#back-to-people");
  await eventually(async () => assert.deepEqual((await cells(page, "#people-rows")).map((r) => r[0]), ["ann-1"]));
  await page.close();
});
