// Consent in a real browser: nothing stored and nothing sent before the
// visitor decides; on "Accept" the held events arrive with ids.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { openCollectorAndBrowser, closeCollectorAndBrowser, eventually } from "./harness.mjs";
import { openSite, browserStorage, recordBatches, recordSends, namesSentInPage, sdkReady } from "./sdk_site.mjs";

let collector, browser;
before(async () => ({ collector, browser } = await openCollectorAndBrowser()));
after(() => closeCollectorAndBrowser({ collector, browser }));

const rows = (sql) => collector.query(sql);

test("before the visitor accepts, nothing is in cookies or localStorage and nothing is sent; after, the held events arrive with ids", async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.clock.install();
  await recordSends(page);
  const batches = recordBatches(page);
  await page.goto(collector.url + "/demo/consent.html");
  await sdkReady(page);
  await page.locator("#banner").waitFor({ state: "visible" });
  assert.equal(await page.locator("#state").textContent(), "pending");

  await page.click("#signup");
  // Past every flush interval, and an explicit flush: a held event would go now.
  await page.clock.runFor(60_000);
  await page.evaluate(() => waymark("flush"));
  assert.deepEqual(await namesSentInPage(page), [], "nothing handed to fetch or sendBeacon while pending");
  assert.deepEqual(await browserStorage(page), { cookies: [], local: {} });

  await page.click("#accept");
  await page.locator("#banner").waitFor({ state: "hidden" });
  const stored = await eventually(() => rows("SELECT name, client_session_id, visitor_id, props FROM events ORDER BY ts"), (r) => r.length === 3, "3 events");
  assert.deepEqual(batches[0].events.map((e) => e.name), ["$pageview", "signup", "$consent"], "the page's first request is the one after the grant");
  assert.deepEqual(stored.map((r) => r.name), ["$pageview", "signup", "$consent"]);
  const sessionIds = new Set(stored.map((r) => r.client_session_id));
  assert.equal(sessionIds.size, 1);
  assert.match([...sessionIds][0], /^[0-9a-f-]{36}$/);
  assert.deepEqual(JSON.parse(stored[2].props), { analytics: "granted" });

  const { local } = await browserStorage(page);
  assert.equal(local["waymark.consent"], "analytics=granted");
  assert.equal(local["waymark.session"].split(".")[0], [...sessionIds][0]);

  // The choice is kept: the next page starts granted, with no banner.
  await page.reload();
  await sdkReady(page);
  assert.equal(await page.locator("#state").textContent(), "granted");
  await context.close();
});

test("declining stores only the choice, drops the held events and reports the denial without ids", async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(collector.url + "/demo/consent.html?declined");
  await sdkReady(page);
  await page.click("#signup");
  await page.click("#decline");
  await page.click("#signup");
  const stored = await eventually(
    () => rows("SELECT name, client_session_id, props FROM events WHERE url LIKE '%?declined'"),
    (r) => r.length >= 1,
    "the $consent event",
  );
  assert.deepEqual(stored, [{ name: "$consent", client_session_id: null, props: '{"analytics":"denied"}' }]);
  assert.deepEqual(await browserStorage(page), { cookies: [], local: { "waymark.consent": "analytics=denied" } });
  await context.close();
});

test("in cookie mode the ids are first-party SameSite=Lax cookies, written only after the grant", async () => {
  const page = await openSite(browser, collector, { attrs: { consent: "required", storage: "cookie", cookieDays: "30" } });
  await page.evaluate(() => waymark("track", "early"));
  assert.deepEqual(await browserStorage(page), { cookies: [], local: {} });
  await page.evaluate(() => waymark("grant"));
  const cookies = await eventually(() => page.context().cookies(), (c) => c.length >= 3, "id cookies");
  const byName = Object.fromEntries(cookies.map((c) => [c.name, c]));
  assert.deepEqual(Object.keys(byName).sort(), ["waymark_consent", "waymark_session", "waymark_visitor"]);
  const session = byName.waymark_session;
  assert.equal(session.sameSite, "Lax");
  assert.equal(session.secure, false, "http page: no Secure");
  const days = (session.expires - Date.now() / 1000) / 86400;
  assert.ok(days > 29 && days <= 30, `lifetime ${days} days`);
  const stored = await eventually(() => rows("SELECT client_session_id FROM events WHERE name = 'early'"), (r) => r.length === 1, "the held event");
  assert.equal(stored[0].client_session_id, decodeURIComponent(session.value).split(".")[0]);
  await page.context().close();
});

test("Global Privacy Control means denied: nothing is stored or sent", async () => {
  const page = await openSite(browser, collector, {
    path: "/site/gpc",
    prepare: async (p) => {
      await p.clock.install();
      await recordSends(p);
      await p.addInitScript(() => Object.defineProperty(navigator, "globalPrivacyControl", { value: true }));
    },
  });
  assert.equal(await page.evaluate(() => waymark("consent")), "denied");
  await page.evaluate(() => waymark("track", "gpc_event"));
  await page.clock.runFor(60_000);
  await page.evaluate(() => waymark("flush"));
  assert.deepEqual(await namesSentInPage(page), [], "nothing handed to fetch or sendBeacon");
  assert.deepEqual(await browserStorage(page), { cookies: [], local: {} });
  // The visitor's own choice later overrides the signal; its $consent event
  // is the first this page sends, so nothing tracked before it was queued.
  await page.evaluate(() => (waymark("grant"), waymark("flush")));
  const stored = await eventually(() => rows("SELECT name FROM events WHERE url LIKE '%/site/gpc'"), (r) => r.length >= 1, "the $consent event");
  assert.deepEqual(stored, [{ name: "$consent" }]);
  await page.context().close();
});

test("in cookie mode nothing is written to localStorage, not even the events a failed delivery left unsent", async () => {
  const page = await openSite(browser, collector, {
    path: "/site/cookie-backlog",
    attrs: { consent: "required", storage: "cookie" },
    prepare: (p) => p.route(`${collector.url}/api/collect`, (route) => route.abort("connectionrefused")),
  });
  await page.evaluate(() => (waymark("grant"), waymark("track", "unsent_in_cookie_mode"), waymark("flush")));
  await page.evaluate(() => {
    Object.defineProperty(document, "visibilityState", { value: "hidden", configurable: true });
    document.dispatchEvent(new Event("visibilitychange"));
  });
  const cookies = await eventually(() => page.context().cookies(), (c) => c.some((x) => x.name === "waymark_session"), "the session cookie");
  assert.ok(cookies.some((c) => c.name === "waymark_consent"));
  assert.equal(await page.evaluate(() => localStorage.length), 0, "localStorage stays empty in cookie mode");
  await page.context().close();
});

test("a bad configuration logs one clear error and tracks nothing", async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  const batches = recordBatches(page);
  await page.route(`${collector.url}/bad/**`, (route) =>
    route.fulfill({ contentType: "text/html", body: '<script src="/waymark.js" data-site="demo" data-storage="indexeddb"></script>' }),
  );
  await page.goto(collector.url + "/bad/");
  await sdkReady(page);
  await page.evaluate(() => waymark("track", "x"));
  assert.equal(errors.length, 1, errors.join("\n"));
  assert.match(errors[0], /option `storage` must be "localStorage", "cookie" or "none"; nothing is tracked/);
  assert.equal(batches.length, 0);
  await context.close();
});
