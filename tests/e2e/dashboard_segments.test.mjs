// Segments in the dashboard: one built by clicking (a device and an event
// done), saved, applied from the picker to the overview, whose figures are
// the API's for that segment; the address keeps the whole view (segment,
// custom period, tab, filters), so a reload shows it again and back steps
// out of the last change. The segment is then edited and deleted. One
// being built keeps what was entered when the view is drawn again, on its
// own site only.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openCollectorAndBrowser, closeCollectorAndBrowser, startCollector, eventually } from "./harness.mjs";
import { PASSWORD, signIn, send, api, lastDays, assertAccessible, IPHONE, DESKTOP } from "./dashboard_harness.mjs";

// The demo site, and a second one whose segments are its own.
const configDir = mkdtempSync(join(tmpdir(), "waymark-e2e-segments-"));
let collector, browser;
before(async () => ({ collector, browser } = await openCollectorAndBrowser(() => {
  const config = join(configDir, "waymark.toml");
  writeFileSync(config, [
    "headless_browsers_are_bots = false",
    "[[site]]", 'key = "demo"', 'name = "Demo site"',
    "[[site]]", 'key = "shop"', 'name = "The shop"',
  ].join("\n"));
  process.env.WAYMARK_DASHBOARD__ADMIN_PASSWORD = PASSWORD;
  return startCollector(["--config", config]);
})));
after(async () => {
  await closeCollectorAndBrowser({ collector, browser });
  rmSync(configDir, { recursive: true, force: true });
});

/** Three visitors: on phones, one who signed up and one who did not; on a computer, one who read the docs. */
async function seed() {
  const visitor = () => ({ visitor_id: randomUUID(), session: randomUUID() });
  const [signedUp, looked, reader] = [visitor(), visitor(), visitor()];
  const at = (v, path, extra = {}) => ({ ...v, name: "$pageview", url: `https://demo.example${path}`, ...extra });
  await send(collector.url, [at(signedUp, "/"), at(signedUp, "/pricing"), at(signedUp, "/pricing", { name: "signup", props: { plan: "pro" } })], "demo", { userAgent: IPHONE });
  await send(collector.url, [at(looked, "/"), at(looked, "/pricing")], "demo", { userAgent: IPHONE });
  await send(collector.url, [at(reader, "/"), at(reader, "/docs")], "demo", { userAgent: DESKTOP });
}

const shownTotals = (page) => page.$$eval("#totals .total", (cards) => Object.fromEntries(cards.map((c) => [c.dataset.metric, c.querySelector(".value").textContent])));

async function assertTotalsAre(page, query) {
  const body = await api(page, `query/overview?${query}`);
  const expected = Object.fromEntries(["visitors", "sessions", "pageviews", "events"].map((k) => [k, body.current.totals[k].toLocaleString("en-US")]));
  await eventually(async () => {
    const shown = await shownTotals(page);
    for (const key of Object.keys(expected)) assert.equal(shown[key], expected[key], key);
  });
  return expected;
}

test("a segment built by clicking filters the overview to the API's figures, and the address brings the view back", async () => {
  await seed();
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  await signIn(page, collector.url);
  await page.waitForSelector("#totals .total");
  await eventually(async () => assert.equal((await shownTotals(page)).visitors, "3"));

  // Build: device is mobile AND did signup.
  await page.click("#tabs button[data-tab=segments]");
  await page.waitForSelector("#segment-rows td.none");
  await page.fill("#segment-name", "Phones that signed up");
  await page.selectOption("[aria-label='Condition 1: dimension']", "device");
  await page.fill("[aria-label='Condition 1: value']", "mobile");
  await page.click("#add-condition");
  await page.selectOption("[aria-label='Condition 2: kind']", "did");
  await page.selectOption("[aria-label='Condition 2: page or event']", "event");
  await page.fill("[aria-label='Condition 2: name']", "signup");
  await page.click("#save-segment");
  const row = page.locator("#segment-rows tr", { hasText: "Phones that signed up" });
  await eventually(async () => assert.equal(await row.locator("td").nth(1).textContent(), "Device is mobile AND did signup"));
  await assertAccessible(page);

  const [saved] = await api(page, "segments?site=demo");
  assert.deepEqual(saved.conditions, [
    { kind: "dimension", dimension: "device", value: "mobile" },
    { kind: "did", condition: { kind: "event", name: "signup" } },
  ]);

  // Apply it, on a custom period of the last three days.
  await page.click("button[aria-label='Apply Phones that signed up to the reports']");
  await page.waitForSelector("section#overview:not([hidden])");
  assert.equal(await page.inputValue("#segment"), saved.id);
  const { from, to } = lastDays(3);
  await page.selectOption("#range", "custom");
  await page.fill("#from", from);
  await page.dispatchEvent("#from", "change");
  const period = `site=demo&from=${from}&to=${to}`;
  const inSegment = await assertTotalsAre(page, `${period}&segment=${saved.id}`);
  assert.deepEqual(inSegment, { visitors: "1", sessions: "1", pageviews: "2", events: "3" }, "only the phone that signed up");

  // The same segment on the other reports: one person, one session.
  await page.click("#tabs button[data-tab=people]");
  assert.equal((await api(page, `query/people?${period}&segment=${saved.id}`)).total, 1);
  await eventually(async () => assert.equal(await page.locator("#people-rows tr[data-person]").count(), 1));
  await page.click("#tabs button[data-tab=sessions]");
  await eventually(async () => assert.equal(await page.textContent("#page-info"), "Page 1 of 1 (1 sessions)"));
  await page.click("#tabs button[data-tab=overview]");

  // A filter on top, clicked from the pages table.
  await page.locator("#panels tr.clickable", { hasText: "/pricing" }).first().click();
  await page.waitForSelector("#filters .chip");
  await assertTotalsAre(page, `${period}&segment=${saved.id}&filter.page=%2Fpricing`);

  // The address is the view: another tab opened on it shows the same.
  const address = page.url();
  assert.match(address, new RegExp(`segment=${saved.id}`));
  const again = await context.newPage();
  await again.goto(address);
  await again.waitForSelector("#totals .total");
  assert.equal(await again.inputValue("#segment"), saved.id);
  assert.equal(await again.inputValue("#range"), "custom");
  assert.equal(await again.isVisible("#from"), true, "the custom dates are shown");
  assert.deepEqual([await again.inputValue("#from"), await again.inputValue("#to")], [from, to]);
  assert.equal(await again.getAttribute("#tabs button[aria-current=page]", "data-tab"), "overview");
  assert.equal(await again.textContent("#filters .chip"), "page is /pricing ×");
  await assertTotalsAre(again, `${period}&segment=${saved.id}&filter.page=%2Fpricing`);
  await assertAccessible(again);

  // In the first tab, back: the filter goes; forward: it is there again.
  await page.goBack();
  await eventually(async () => assert.equal(await page.locator("#filters .chip").count(), 0));
  await assertTotalsAre(page, `${period}&segment=${saved.id}`);
  await page.goForward();
  await eventually(async () => assert.equal(await page.textContent("#filters .chip"), "page is /pricing ×"));

  // Everyone again from the picker.
  await page.selectOption("#segment", "");
  await page.locator("#filters .chip").click();
  await assertTotalsAre(page, period);
  await context.close();
});

test("a saved segment is edited to OR, with every kind of condition, and deleted", async () => {
  const page = await browser.newPage();
  await signIn(page, collector.url);
  await page.click("#tabs button[data-tab=segments]");
  await page.click("button[aria-label='Edit Phones that signed up']");
  assert.equal(await page.textContent("#segment-form-title"), "Edit Phones that signed up");
  await page.fill("#segment-name", "Phones or sign-ups");
  await page.selectOption("#segment-match", "any");
  // Every other kind of condition: a page visited, a number of sessions, not identified.
  for (const [i, kind] of [[3, "did"], [4, "sessions"], [5, "identified"]]) {
    await page.click("#add-condition");
    await page.selectOption(`[aria-label='Condition ${i}: kind']`, kind);
  }
  await page.selectOption("[aria-label='Condition 3: page or event']", "page");
  await page.fill("[aria-label='Condition 3: path']", "/pricing*");
  await page.fill("[aria-label='Condition 4: sessions']", "3");
  await page.selectOption("[aria-label='Condition 5: identified']", "no");
  await page.click("#save-segment");
  const row = page.locator("#segment-rows tr", { hasText: "Phones or sign-ups" });
  await eventually(async () => assert.equal(await row.locator("td").nth(1).textContent(),
    "Device is mobile OR did signup OR did view /pricing* OR at least 3 sessions OR not identified"));
  const segments = await api(page, "segments?site=demo");
  assert.deepEqual(segments.map((s) => [s.name, s.match]), [["Phones or sign-ups", "any"]]);
  assert.deepEqual(segments[0].conditions.slice(2), [
    { kind: "did", condition: { kind: "page", pattern: "/pricing*" } },
    { kind: "sessions", at_least: 3 },
    { kind: "identified", identified: false },
  ]);
  assert.deepEqual(await page.$$eval("#segment option", (o) => o.map((x) => x.textContent)), ["Everyone", "Phones or sign-ups"]);

  page.once("dialog", (d) => d.accept());
  await page.click("button[aria-label='Delete Phones or sign-ups']");
  await page.waitForSelector("#segment-rows td.none");
  assert.deepEqual(await api(page, "segments?site=demo"), []);
  assert.deepEqual(await page.$$eval("#segment option", (o) => o.map((x) => x.textContent)), ["Everyone"]);
  await page.close();
});

test("a segment being built keeps its unsaved conditions when the view is drawn again, on its own site", async () => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await signIn(page, collector.url);
  await page.click("#tabs button[data-tab=segments]");
  await page.fill("#segment-name", "Half built");
  await page.selectOption("#segment-match", "any");
  await page.selectOption("[aria-label='Condition 1: dimension']", "country");
  await page.fill("[aria-label='Condition 1: value']", "DE");
  await page.click("#add-condition");
  await page.selectOption("[aria-label='Condition 2: kind']", "did");
  await page.selectOption("[aria-label='Condition 2: page or event']", "event");
  await page.fill("[aria-label='Condition 2: name']", "signup");
  await page.fill("[aria-label='Condition 2: property']", "plan");
  await page.fill("[aria-label='Condition 2: equals']", "pro");

  const builder = async () => ({
    name: await page.inputValue("#segment-name"),
    match: await page.inputValue("#segment-match"),
    conditions: await page.$$eval("#segment-conditions li", (items) => items.map((li) => [...li.querySelectorAll("select, input")].map((i) => i.value))),
  });
  const built = {
    name: "Half built",
    match: "any",
    conditions: [["dimension", "country", "DE"], ["did", "event", "signup", "plan", "pro"]],
  };
  assert.deepEqual(await builder(), built);
  // Another tab, a period chosen there, and back; then back and forward through the history.
  await page.click("#tabs button[data-tab=overview]");
  await page.selectOption("#range", "30");
  await page.waitForSelector("#totals .total");
  await page.click("#tabs button[data-tab=segments]");
  await page.waitForSelector("section#segments:not([hidden])");
  assert.deepEqual(await builder(), built);
  await page.goBack();
  await page.waitForSelector("section#overview:not([hidden])");
  await page.goForward();
  await page.waitForSelector("section#segments:not([hidden])");
  assert.deepEqual(await builder(), built);
  await assertAccessible(page);
  // Another site has a builder of its own; back on this one, the draft is there.
  await page.selectOption("#site", "shop");
  await eventually(async () => assert.equal(await page.inputValue("#segment-name"), ""));
  assert.equal(await page.textContent("#segment-form-title"), "New segment");
  await page.selectOption("#site", "demo");
  await eventually(async () => assert.deepEqual(await builder(), built));

  // What is saved is what was built.
  await page.click("#save-segment");
  await eventually(async () => assert.equal(await page.textContent("#segments-status"), "Saved Half built."));
  const [saved] = (await api(page, "segments?site=demo")).filter((s) => s.name === "Half built");
  assert.deepEqual([saved.match, saved.conditions], ["any", [
    { kind: "dimension", dimension: "country", value: "DE" },
    { kind: "did", condition: { kind: "event", name: "signup", property: "plan", value: "pro" } },
  ]]);
  await page.close();
});
