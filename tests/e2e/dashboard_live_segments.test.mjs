// The live view with a segment: picked above the live table, it shows only
// the members' events, counts only the members, and says which segment it
// follows; an address whose
// segment was deleted (before or while it is shown) shows everyone, with a
// note. The collector works a segment's members out every second here.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { openCollectorAndBrowser, closeCollectorAndBrowser, startCollector, eventually } from "./harness.mjs";
import { PASSWORD, signIn, send, assertAccessible, IPHONE, DESKTOP } from "./dashboard_harness.mjs";

let collector, browser;
before(async () => ({ collector, browser } = await openCollectorAndBrowser(() => {
  process.env.WAYMARK_DASHBOARD__ADMIN_PASSWORD = PASSWORD;
  process.env.WAYMARK_DASHBOARD__LIVE_SEGMENT_REFRESH_SECONDS = "1";
  return startCollector();
})));
after(() => closeCollectorAndBrowser({ collector, browser }));

/** Saves a segment from the signed-in page; its id. */
function saveSegment(page, segment) {
  return page.evaluate(async (body) => {
    const r = await fetch("/api/segments?site=demo", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    if (!r.ok) throw new Error(await r.text());
    return (await r.json()).id;
  }, segment);
}

function deleteSegment(page, id) {
  return page.evaluate(async (id) => {
    const r = await fetch(`/api/segments/${id}?site=demo`, { method: "DELETE" });
    if (!r.ok) throw new Error(await r.text());
  }, id);
}

const visitor = () => ({ visitor_id: randomUUID(), session: randomUUID() });
const rowNames = (page) => page.$$eval("#live-stream tr", (rows) => rows.map((r) => r.dataset.name));

/** The live counters as shown: their labels, visitors now and events in the last hour. */
const counters = (page) => page.$$eval("#live .total", (cards) => cards.map((c) => [c.querySelector(".label").textContent, c.querySelector(".value").textContent]));

async function assertCounters(page, visitors, events, scope = "") {
  await eventually(async () => assert.deepEqual(await counters(page), [
    [`Visitors now (last 5 minutes${scope})`, String(visitors)],
    [`Events, last 60 minutes${scope}`, String(events)],
  ]));
}

test("a segment picked on the live tab shows and counts only its members' events and says which it is", async () => {
  const [phone, computer] = [visitor(), visitor()];
  await send(collector.url, [{ ...phone, name: "$pageview" }], "demo", { userAgent: IPHONE });
  await send(collector.url, [{ ...computer, name: "$pageview" }], "demo", { userAgent: DESKTOP });
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  await signIn(page, collector.url);
  const id = await saveSegment(page, { name: "Phones", conditions: [{ kind: "dimension", dimension: "device", value: "mobile" }] });
  // Loaded again, the picker offers it.
  await page.reload();
  await page.waitForSelector(`#segment option[value='${id}']`, { state: "attached" });

  await page.click("#tabs button[data-tab=live]");
  // The segment picker is there, the period and filters are not (they mean nothing live).
  assert.equal(await page.isVisible("#segment"), true);
  assert.equal(await page.isVisible("#range"), false);
  await eventually(async () => assert.match(await page.textContent("#live-segment"), /every visitor's events/));
  await assertCounters(page, 2, 2);
  await page.selectOption("#segment", id);
  assert.match(page.url(), new RegExp(`segment=${id}`));
  await eventually(async () => assert.match(await page.textContent("#live-segment"), /only the members of Phones: 1 visitor today/));
  // The counters count the phone alone, and say so.
  await assertCounters(page, 1, 1, ", members of Phones");

  // The computer's event is sent first; the phone's arrives, the computer's never did.
  await send(collector.url, [{ ...computer, name: "computer-click" }], "demo", { userAgent: DESKTOP });
  await send(collector.url, [{ ...phone, name: "phone-click" }], "demo", { userAgent: IPHONE });
  await page.waitForSelector("#live-stream tr[data-name='phone-click']");
  assert.deepEqual(await rowNames(page), ["phone-click"]);
  await assertCounters(page, 1, 2, ", members of Phones");
  // A new phone is in at once: its event says so, and it is counted.
  const newPhone = visitor();
  await send(collector.url, [{ ...newPhone, name: "new-phone-click" }], "demo", { userAgent: IPHONE });
  await page.waitForSelector("#live-stream tr[data-name='new-phone-click']");
  await assertCounters(page, 2, 3, ", members of Phones");
  await assertAccessible(page);

  // Everyone again: every event comes, and everyone is counted.
  await page.selectOption("#segment", "");
  await eventually(async () => assert.match(await page.textContent("#live-segment"), /every visitor's events/));
  await assertCounters(page, 3, 5);
  await send(collector.url, [{ ...computer, name: "computer-again" }], "demo", { userAgent: DESKTOP });
  await page.waitForSelector("#live-stream tr[data-name='computer-again']");
  await assertCounters(page, 3, 6);
  await context.close();
});

test("a segment that was deleted falls back to everyone with a note, in an old address and while live", async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  await signIn(page, collector.url);
  const old = await saveSegment(page, { name: "Gone soon", conditions: [{ kind: "dimension", dimension: "country", value: "DE" }] });
  await deleteSegment(page, old);

  // An address naming it: everyone, said above the report, not the API's error.
  await page.goto(`${collector.url}/dashboard/?segment=${old}`);
  await eventually(async () => assert.match(await page.textContent("#segment-note"), /no longer exists.*showing everyone/));
  assert.equal(new URL(page.url()).searchParams.get("segment"), null);
  assert.equal(await page.$eval("#segment", (s) => s.value), "");
  await page.waitForSelector("#totals .total");
  assert.equal(await page.textContent("#report-error"), "");
  await assertAccessible(page);
  // The note goes with the next change.
  await page.click("#tabs button[data-tab=sessions]");
  assert.equal(await page.textContent("#segment-note"), "");

  // Deleted while the live view follows it.
  const live = await saveSegment(page, { name: "Short-lived", conditions: [{ kind: "dimension", dimension: "device", value: "mobile" }] });
  await page.goto(`${collector.url}/dashboard/?tab=live&segment=${live}`);
  await eventually(async () => assert.match(await page.textContent("#live-segment"), /only the members of Short-lived/));
  await deleteSegment(page, live);
  await eventually(async () => assert.match(await page.textContent("#segment-note"), /no longer exists.*showing everyone/));
  await eventually(async () => assert.match(await page.textContent("#live-segment"), /every visitor's events/));
  assert.equal(new URL(page.url()).searchParams.get("segment"), null);
  await context.close();
});
