// The consent log end to end: a page with data-consent="required" and
// data-consent-version="v2"; one visitor grants and later withdraws, another
// declines before any grant. The dashboard's Consent view shows each
// decision with its visitor, version and page, narrows to one visitor, and
// links the same rows as CSV.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { openCollectorAndBrowser, closeCollectorAndBrowser, eventually } from "./harness.mjs";
import { startDashboardCollector, signIn } from "./dashboard_harness.mjs";
import { openSite } from "./sdk_site.mjs";

let collector, browser;
before(async () => ({ collector, browser } = await openCollectorAndBrowser(startDashboardCollector)));
after(() => closeCollectorAndBrowser({ collector, browser }));

const attrs = { consent: "required", consentVersion: "v2" };
const decisions = () => collector.query("SELECT visitor_id, client_session_id, props FROM events WHERE name = '$consent' ORDER BY ts");

/** The consent view's rows as a site owner reads them. */
const shownRows = (page) =>
  page.$$eval("#consent-rows tr", (rows) => rows.map((r) => [...r.querySelectorAll("td")].map((td) => td.textContent.trim())));

test("the consent view shows when each visitor granted, withdrew or declined, under banner v2, and one visitor's log", async () => {
  const visitorPage = await openSite(browser, collector, { attrs, path: "/site/pricing" });
  await visitorPage.evaluate(() => waymark("grant"));
  const [grant] = await eventually(decisions, (r) => r.length === 1, "the grant");
  const visitor = grant.visitor_id;
  assert.match(visitor, /^[0-9a-f-]{36}$/);
  assert.deepEqual(JSON.parse(grant.props), { analytics: "granted", version: "v2" });
  // Withdrawn later: reported with the ids it withdraws.
  await visitorPage.evaluate(() => { waymark("deny"); waymark("flush"); });
  const [, withdrawal] = await eventually(decisions, (r) => r.length === 2, "the withdrawal");
  assert.equal(withdrawal.visitor_id, visitor);
  assert.deepEqual(await visitorPage.evaluate(() => Object.keys(localStorage)), ["waymark.consent"], "the ids are forgotten");

  // Another visitor declines before granting anything: no ids are sent.
  const otherPage = await openSite(browser, collector, { attrs, path: "/site/" });
  await otherPage.evaluate(() => waymark("deny"));
  const all = await eventually(decisions, (r) => r.length === 3, "the denial");
  assert.equal(all[2].client_session_id, null);
  const dailyKey = all[2].visitor_id;
  assert.notEqual(dailyKey, visitor);

  const dashboard = await (await browser.newContext()).newPage();
  await signIn(dashboard, collector.url);
  await dashboard.click("#tabs button[data-tab=consent]");
  const rows = await eventually(() => shownRows(dashboard), (r) => r.length === 3 && r[0].length === 6, "three decisions");
  // Newest first: time, visitor, decision, version, page, as sent.
  assert.deepEqual(rows.map((r) => r.slice(1, 5)), [
    [`${dailyKey} no ids`, "analytics: denied", "v2", "/site/"],
    [visitor, "analytics: denied", "v2", "/site/pricing"],
    [visitor, "analytics: granted", "v2", "/site/pricing"],
  ]);
  assert.match(rows[2][0], /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
  assert.deepEqual(JSON.parse(rows[2][5]), { analytics: "granted", version: "v2" });
  assert.match(await dashboard.textContent("#consent-page-info"), /\(3 decisions\)/);

  // "When and how did this visitor consent?": click their id.
  await dashboard.click(`#consent-rows button.visitor >> text=${visitor}`);
  const theirs = await eventually(() => shownRows(dashboard), (r) => r.length === 2, "one visitor's decisions");
  assert.deepEqual(theirs.map((r) => [r[1], r[2]]), [[visitor, "analytics: denied"], [visitor, "analytics: granted"]]);
  assert.equal(await dashboard.inputValue("#consent-visitor"), visitor);

  // The CSV link gives the same decisions.
  const href = await dashboard.getAttribute("#export-consent", "href");
  assert.match(href, new RegExp(`visitor=${visitor}`));
  const csv = await dashboard.evaluate(async (h) => (await fetch(h)).text(), href);
  const lines = csv.trim().split("\n");
  assert.equal(lines[0], "ts,time,visitor_id,session_id,user_id,cookieless,decisions,version,path,url,props,id");
  assert.deepEqual(lines.slice(1).map((l) => l.split(",").slice(6, 9)), [["analytics=denied", "v2", "/site/pricing"], ["analytics=granted", "v2", "/site/pricing"]]);

  // Everyone again.
  await dashboard.click("#consent-everyone");
  await eventually(() => shownRows(dashboard), (r) => r.length === 3, "every decision again");
  await Promise.all([visitorPage, otherPage, dashboard].map((p) => p.context().close()));
});
