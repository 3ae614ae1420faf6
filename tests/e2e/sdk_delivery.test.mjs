// Delivery in a real browser against the real collector: flush on page
// hide, retry while the collector is unreachable, recovery after a reload,
// and the 30-minute session rule on Playwright's clock.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openCollectorAndBrowser, closeCollectorAndBrowser, startCollector, eventually } from "./harness.mjs";
import { openSite, browserStorage, sitePage, sdkReady, recordSends, sentInPage, namesSentInPage } from "./sdk_site.mjs";

let collector, browser;
before(async () => ({ collector, browser } = await openCollectorAndBrowser()));
after(() => closeCollectorAndBrowser({ collector, browser }));

const named = (name) => collector.query(`SELECT name, client_session_id FROM events WHERE name = '${name}'`);
const collect = (collector) => `${collector.url}/api/collect`;
// Long enough that only a page hide (or a full batch) sends.
const slow = { flushIntervalMs: "600000" };

test("events still queued when the page is left arrive through the page-hide beacon", async () => {
  const page = await openSite(browser, collector, { attrs: slow, prepare: async (p) => (await p.clock.install(), await recordSends(p)) });
  await page.evaluate(() => ["left_1", "left_2", "left_3"].forEach((n) => waymark("track", n)));
  // Nine of the ten minutes of the interval pass on the page's clock.
  await page.clock.runFor(9 * 60_000);
  assert.deepEqual(await namesSentInPage(page), ["$pageview"], "only the landing pageview went; the rest is held for the interval");
  await page.goto("about:blank");
  for (const name of ["left_1", "left_2", "left_3"]) {
    await eventually(() => named(name), (r) => r.length === 1, name);
  }
  await page.context().close();
});

test("a tab switched to the background sends its queue when it becomes hidden", async () => {
  const page = await openSite(browser, collector, { attrs: slow, path: "/site/hidden" });
  await page.evaluate(() => waymark("track", "before_hidden"));
  await page.evaluate(() => {
    Object.defineProperty(document, "visibilityState", { value: "hidden", configurable: true });
    document.dispatchEvent(new Event("visibilitychange"));
  });
  await eventually(() => named("before_hidden"), (r) => r.length === 1, "before_hidden");
  await page.context().close();
});

test("events tracked while the collector is unreachable arrive once it is back, each exactly once", async () => {
  const page = await openSite(browser, collector, {
    path: "/site/down",
    prepare: async (p) => {
      await p.clock.install();
      await recordSends(p);
      await p.route(collect(collector), (route) => route.abort("connectionrefused"));
    },
  });
  for (let i = 0; i < 30; i++) await page.evaluate((i) => waymark("track", "while_down", { i }), i);
  // An hour of outage, on the page's clock: retries back off instead of hammering.
  for (let minute = 0; minute < 60; minute += 10) {
    await page.clock.runFor(10 * 60_000);
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(r)));
  }
  const attempts = (await sentInPage(page)).length;
  assert.ok(attempts >= 3 && attempts <= 30, `${attempts} attempts in an hour`);
  const { local } = await browserStorage(page);
  assert.equal(local["waymark.queue"].split("\n").length, 31, "pageview and 30 events kept for a reload");

  await page.unroute(collect(collector));
  await page.clock.runFor(6 * 60_000);
  const rows = await eventually(() => collector.query("SELECT props FROM events WHERE name = 'while_down'"), (r) => r.length >= 30, "30 events");
  assert.deepEqual(rows.map((r) => JSON.parse(r.props).i).sort((a, b) => a - b), [...Array(30).keys()]);
  await eventually(() => browserStorage(page), (s) => !("waymark.queue" in s.local), "the persisted queue emptied");
  await page.context().close();
});

test("a 503 with Retry-After is retried no sooner than the collector asked", async () => {
  let answered = 0;
  const debug = [];
  const page = await openSite(browser, collector, {
    path: "/site/busy",
    attrs: { debug: "true" },
    prepare: async (p) => {
      p.on("console", (m) => debug.push(m.text()));
      await p.clock.install();
      await recordSends(p);
      await p.route(collect(collector), (route) =>
        ++answered === 1 ? route.fulfill({ status: 503, headers: { "retry-after": "120" }, body: '{"error":"unavailable"}' }) : route.continue(),
      );
    },
  });
  // The SDK says when it has read the answer and armed its retry.
  await eventually(() => debug, (d) => d.some((l) => l.includes("delivery failed with 503; retry in 120000 ms")), "the 503 read");
  await page.clock.runFor(119_000);
  assert.equal((await sentInPage(page)).length, 1, "no retry before 120 s");
  await page.clock.runFor(2_000);
  assert.equal((await sentInPage(page)).length, 2, "retried at 120 s");
  await eventually(() => collector.query("SELECT name FROM events WHERE url LIKE '%/site/busy'"), (r) => r.length === 1, "the retried pageview");
  await page.context().close();
});

test("events left unsent by a page are sent by the next page after a reload", async () => {
  // The first page sends to a closed port (fetch and the page-hide beacon
  // both fail); the reloaded page sends to the collector again.
  const attrs = { site: "demo", endpoint: "http://127.0.0.1:9/api/collect" };
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.route(`${collector.url}/site/**`, (route) => route.fulfill({ contentType: "text/html", body: sitePage(attrs) }));
  await page.goto(collector.url + "/site/reload");
  await sdkReady(page);
  await page.evaluate(() => waymark("track", "before_reload"));
  await eventually(() => browserStorage(page), (s) => (s.local["waymark.queue"] ?? "").includes("before_reload"), "the persisted queue");
  delete attrs.endpoint;
  await page.reload();
  await sdkReady(page);
  const rows = await eventually(() => named("before_reload"), (r) => r.length === 1, "before_reload");
  const pageviews = collector.query("SELECT url FROM events WHERE name = '$pageview' AND url LIKE '%/site/reload'");
  assert.equal(pageviews.length, 2, "both pages' pageviews, each once");
  assert.equal(rows.length, 1);
  await context.close();
});

test("a session rolls over after 31 idle minutes but not after 29, on the browser's clock", async () => {
  const page = await openSite(browser, collector, { path: "/site/idle", prepare: (p) => p.clock.install() });
  await page.clock.fastForward("29:00");
  await page.evaluate(() => waymark("track", "after_29_idle"));
  await page.clock.fastForward("31:00");
  await page.evaluate(() => waymark("track", "after_31_idle"));
  await page.evaluate(() => waymark("flush"));
  await page.clock.runFor(10_000);
  const first = await eventually(() => collector.query("SELECT client_session_id FROM events WHERE url LIKE '%/site/idle' AND name = '$pageview'"), (r) => r.length === 1, "pageview");
  const at29 = await eventually(() => named("after_29_idle"), (r) => r.length === 1, "after_29_idle");
  const at31 = await eventually(() => named("after_31_idle"), (r) => r.length === 1, "after_31_idle");
  assert.equal(at29[0].client_session_id, first[0].client_session_id, "29 minutes idle: same session");
  assert.notEqual(at31[0].client_session_id, at29[0].client_session_id, "31 minutes idle: a new session");
  const { local } = await browserStorage(page);
  assert.equal(local["waymark.session"].split(".")[0], at31[0].client_session_id);
  await page.context().close();
});

// The collector sends the site's rule in every answer of POST /api/collect
// (`BatchResponse.session`); the SDK adopts it for its client sessions.
test("a site configured with a 5-minute session timeout rolls the visitor's client session after 5 idle minutes", async () => {
  const dir = mkdtempSync(join(tmpdir(), "waymark-e2e-config-"));
  const config = join(dir, "waymark.toml");
  // Headless Chromium counts as a visitor here, as in the demo setup.
  writeFileSync(config, 'headless_browsers_are_bots = false\n\n[[site]]\nkey = "demo"\nsession_timeout_minutes = 5\n');
  const shortSessions = await startCollector(["--config", config]);
  try {
    const debug = [];
    const page = await openSite(browser, shortSessions, {
      path: "/site/five-minutes",
      attrs: { debug: "true" },
      prepare: async (p) => (p.on("console", (m) => debug.push(m.text())), await p.clock.install()),
    });
    await eventually(() => debug, (d) => d.some((l) => l.includes("session rule: the site's")), "the site's rule adopted from the answer");
    await page.clock.fastForward("06:00");
    await page.evaluate(() => (waymark("track", "after_6_idle"), waymark("flush")));
    const rows = await eventually(
      () => shortSessions.query("SELECT name, client_session_id FROM events WHERE url LIKE '%/site/five-minutes' ORDER BY ts"),
      (r) => r.some((x) => x.name === "after_6_idle"),
      "after_6_idle",
    );
    const [pageview, later] = [rows.find((r) => r.name === "$pageview"), rows.find((r) => r.name === "after_6_idle")];
    assert.notEqual(later.client_session_id, pageview.client_session_id, "6 idle minutes: a new client session under the site's 5-minute rule");
    assert.match((await browserStorage(page)).local["waymark.session"], /\.300000\.86400000$/, "the rule kept with the session");
    await page.context().close();
  } finally {
    await shortSessions.stop();
  }
});
