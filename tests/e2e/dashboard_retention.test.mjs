// Retention in the dashboard: visitors first seen on different days come
// back on known days; the daily cohorts' triangle shows the share active in
// each following day as the API counts it, with a curve, and the address
// keeps the cohort settings.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { openCollectorAndBrowser, closeCollectorAndBrowser, eventually } from "./harness.mjs";
import { startDashboardCollector, signIn, send, api, lastDays, assertAccessible } from "./dashboard_harness.mjs";

let collector, browser;
before(async () => ({ collector, browser } = await openCollectorAndBrowser(startDashboardCollector)));
after(() => closeCollectorAndBrowser({ collector, browser }));

/** Noon (UTC, the demo site's zone) `days` ago. */
function noon(days) {
  const d = new Date(`${new Date().toISOString().slice(0, 10)}T12:00:00Z`);
  d.setUTCDate(d.getUTCDate() - days);
  return d.getTime();
}

/**
 * A and B first come five days ago; A comes back (and signs up) four days
 * ago and again three days ago, B three days ago; C first comes four days ago.
 */
async function seed() {
  const visits = { A: [5, 4, 3], B: [5, 3], C: [4] };
  const events = [];
  for (const [name, days] of Object.entries(visits)) {
    const visitor_id = randomUUID();
    for (const day of days) {
      const session = randomUUID();
      events.push({ visitor_id, session, name: "$pageview", url: "https://demo.example/", ts: noon(day) });
      // A signs up on their second visit.
      if (name === "A" && day === 4) events.push({ visitor_id, session, name: "signup", url: "https://demo.example/", ts: noon(day) + 60_000, props: { plan: "pro" } });
    }
  }
  events.sort((a, b) => a.ts - b.ts);
  await send(collector.url, events);
}

const cells = (page) => page.$$eval("#retention-table tbody tr", (rows) => rows.map((r) => [...r.children].map((c) => c.textContent)));

test("daily cohorts show the share of each cohort active on each following day, as the API counts them", async () => {
  await seed();
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await signIn(page, collector.url);
  await page.click("#tabs button[data-tab=retention]");
  await page.waitForSelector("#retention-table");
  await page.selectOption("#retention-by", "day");
  await page.click("#retention-form button[type=submit]");

  const { from, to } = lastDays(7);
  const answer = await api(page, `query/retention?site=demo&from=${from}&to=${to}&by=day`);
  const pct = (r) => `${Math.round(r * 100)}%`;
  const periods = answer.curve.length;
  const expected = answer.cohorts.map((c) => [c.start, String(c.size), ...Array.from({ length: periods }, (_, i) => (i < c.share.length ? pct(c.share[i]) : ""))]);
  const fiveDaysAgo = new Date(noon(5)).toISOString().slice(0, 10);
  const first = expected.find((row) => row[0] === fiveDaysAgo);
  assert.deepEqual(first.slice(1, 5), ["2", "100%", "50%", "100%"], "A and B; A the next day; both two days later");
  await eventually(async () => assert.deepEqual(await cells(page), expected));
  assert.equal(await page.textContent("#retention-table thead th:nth-child(4)"), "Day 1");
  await page.waitForSelector("#retention-chart .uplot");
  await assertAccessible(page);

  assert.match(page.url(), /retention\.by=day/);
  await page.reload();
  await eventually(async () => assert.deepEqual(await cells(page), expected));
  assert.equal(await page.inputValue("#retention-by"), "day");
  await page.close();
});

test("cohorts counted from a first event start on the day of that event", async () => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await signIn(page, collector.url);
  await page.click("#tabs button[data-tab=retention]");
  await page.waitForSelector("#retention-table");
  await page.selectOption("#retention-by", "day");
  await page.selectOption("#retention-first-kind", "event");
  await page.fill("[aria-label='First event: name']", "signup");
  await page.fill("[aria-label='First event: property']", "plan");
  await page.fill("[aria-label='First event: equals']", "pro");
  await page.click("#retention-form button[type=submit]");

  const { from, to } = lastDays(7);
  const answer = await api(page, `query/retention?site=demo&from=${from}&to=${to}&by=day&first_event=${encodeURIComponent("event:signup:plan=pro")}`);
  const fourDaysAgo = new Date(noon(4)).toISOString().slice(0, 10);
  assert.deepEqual(answer.cohorts.filter((c) => c.size > 0).map((c) => [c.start, c.size, c.active.slice(0, 2)]), [[fourDaysAgo, 1, [1, 1]]], "A alone, back the next day");
  await eventually(async () => {
    const row = (await cells(page)).find((r) => r[0] === fourDaysAgo);
    assert.deepEqual(row.slice(1, 4), ["1", "100%", "100%"]);
  });
  assert.equal(await page.textContent("#retention-table thead th:first-child"), "Cohort (first event)");
  assert.match(page.url(), /retention\.first_event=event%3Asignup%3Aplan%3Dpro/);
  await page.reload();
  await page.waitForSelector("#retention-table");
  assert.equal(await page.inputValue("[aria-label='First event: name']"), "signup");
  await page.close();
});
