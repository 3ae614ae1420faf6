// Pageviews in a real browser: single-page-app navigations counted once
// each, back-forward-cache restores, engagement time, link autocapture.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { openCollectorAndBrowser, closeCollectorAndBrowser, eventually } from "./harness.mjs";
import { openSite, sdkReady } from "./sdk_site.mjs";

let collector, browser;
before(async () => ({ collector, browser } = await openCollectorAndBrowser()));
after(() => closeCollectorAndBrowser({ collector, browser }));

// In the order they happened: by time, and by arrival within one
// millisecond (a batch is stored in the order it was sent).
const pageviews = () => collector.query("SELECT url FROM events WHERE name = '$pageview' ORDER BY ts, rowid").map((r) => new URL(r.url).pathname + new URL(r.url).hash);

test("each single-page-app navigation is one pageview in the order they happened, however many history events it fires", async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(collector.url + "/demo/spa.html");
  await sdkReady(page);
  // The landing pageview goes at once, in a request of its own; the
  // collector corrects each request's times by when it was sent, so two
  // requests a few milliseconds apart could swap. The rest go together.
  await eventually(pageviews, (v) => v.length === 1, "the landing pageview");
  await page.click("text=Pricing"); // pushState + replaceState of the same URL
  await page.click("text=Docs");
  await page.click("#hash"); // hashchange and popstate for one navigation
  await page.goBack(); // popstate back to /docs
  await page.evaluate(() => history.replaceState({}, "", location.href)); // same URL: not a navigation
  await page.evaluate(() => waymark("flush"));
  const expected = ["/demo/spa.html", "/demo/spa/pricing", "/demo/spa/docs", "/demo/spa/docs#details", "/demo/spa/docs"];
  const seen = await eventually(pageviews, (v) => v.length >= expected.length, "5 pageviews");
  assert.deepEqual(seen, expected);
  await context.close();
});

test("a page restored from the back-forward cache counts again, and visible time is reported as engagement", async () => {
  const page = await openSite(browser, collector, { path: "/site/bfcache" });
  await page.evaluate(() => window.dispatchEvent(new PageTransitionEvent("pageshow", { persisted: true })));
  await page.evaluate(() => waymark("flush"));
  const views = await eventually(
    () => collector.query("SELECT name FROM events WHERE url LIKE '%/site/bfcache' AND name = '$pageview'"),
    (r) => r.length >= 2,
    "2 pageviews",
  );
  assert.equal(views.length, 2);
  await page.close({ runBeforeUnload: true });
  const engagement = await eventually(
    () => collector.query("SELECT engaged_ms FROM events WHERE url LIKE '%/site/bfcache' AND name = '$engagement'"),
    (r) => r.length >= 1,
    "an $engagement event",
  );
  assert.ok(engagement.every((r) => r.engaged_ms > 0));
});

test("outbound links and file downloads are captured when switched on", async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(collector.url + "/demo/spa.html");
  await sdkReady(page);
  await page.click("#outbound");
  await page.click("#download");
  await page.click("text=Sign up (custom event)");
  await page.evaluate(() => waymark("flush"));
  const rows = await eventually(
    () => collector.query("SELECT name, props FROM events WHERE name IN ('$outbound', '$download', 'signup') ORDER BY ts"),
    (r) => r.length >= 3,
    "3 events",
  );
  assert.deepEqual(rows.map((r) => [r.name, JSON.parse(r.props)]), [
    ["$outbound", { url: "https://example.org/" }],
    ["$download", { url: collector.url + "/demo/files/report.pdf" }],
    ["signup", { plan: "pro", seats: 3 }],
  ]);
  await context.close();
});

test("a page without debug output, link capture or cookie storage loads the smaller module; one with any of them loads the extras module in its place", async () => {
  /** Opens a page with `attrs`; resolves to the Wasm files it fetched, the console's lines and the page. */
  const open = async (path, attrs) => {
    const wasm = [];
    const lines = [];
    const page = await openSite(browser, collector, {
      path,
      attrs,
      body: `<a id="out" href="https://example.org/away">away</a>`,
      prepare: (p) => {
        p.on("request", (r) => r.url().endsWith(".wasm") && wasm.push(new URL(r.url()).pathname));
        p.on("console", (m) => lines.push(m.text()));
      },
    });
    await eventually(() => collector.query(`SELECT name FROM events WHERE url LIKE '%${path}' AND name = '$pageview'`), (r) => r.length === 1, `the pageview of ${path}`);
    return { wasm, lines, page };
  };

  const plain = await open("/site/modules-plain", {});
  assert.deepEqual(plain.wasm, ["/sdk/waymark_sdk_bg.wasm"]);
  await plain.page.context().close();

  const links = await open("/site/modules-links", { outboundLinks: "" });
  assert.deepEqual(links.wasm, ["/sdk/waymark_sdk_extras_bg.wasm"]);
  // The page stays: the link leads to a host the test cannot reach.
  await links.page.evaluate(() => document.getElementById("out").addEventListener("click", (e) => e.preventDefault()));
  await links.page.click("#out");
  await links.page.evaluate(() => waymark("flush"));
  const outbound = await eventually(
    () => collector.query("SELECT props FROM events WHERE url LIKE '%/site/modules-links' AND name = '$outbound'"),
    (r) => r.length === 1,
    "the $outbound click",
  );
  assert.deepEqual(JSON.parse(outbound[0].props), { url: "https://example.org/away" });
  await links.page.context().close();

  const debug = await open("/site/modules-debug", { debug: "true" });
  assert.deepEqual(debug.wasm, ["/sdk/waymark_sdk_extras_bg.wasm"]);
  assert.ok(debug.lines.some((l) => l.startsWith("waymark: queued $pageview")), debug.lines.join("\n"));
  await debug.page.context().close();

  const cookies = await open("/site/modules-cookie", { storage: "cookie" });
  assert.deepEqual(cookies.wasm, ["/sdk/waymark_sdk_extras_bg.wasm"]);
  const kept = await cookies.page.context().cookies();
  assert.ok(kept.some((c) => c.name == "waymark_visitor"), kept.map((c) => c.name).join(", "));
  await cookies.page.context().close();
});

test("events tracked just before a navigation keep their order, page and properties as they were at the call", async () => {
  const page = await openSite(browser, collector, { path: "/site/before-nav" });
  await sdkReady(page);
  await page.evaluate(() => {
    // One task: track() only queues, and the navigation must not overtake it.
    const props = { step: 1 };
    waymark("track", "queued_first", props);
    props.step = 2;
    waymark("track", "queued_second", props);
    history.pushState({}, "", "/site/after-nav");
    waymark("flush");
  });
  const rows = await eventually(
    () => collector.query("SELECT name, url, props FROM events WHERE name IN ('queued_first', 'queued_second') OR url LIKE '%/site/after-nav' ORDER BY rowid"),
    (r) => r.length >= 3,
    "2 events and the pageview",
  );
  assert.deepEqual(rows.map((r) => [r.name, new URL(r.url).pathname, JSON.parse(r.props)]), [
    ["queued_first", "/site/before-nav", { step: 1 }],
    ["queued_second", "/site/before-nav", { step: 2 }],
    ["$pageview", "/site/after-nav", {}],
  ]);
  await page.context().close();
});

test("an event tracked in the same task as the page being hidden is sent with the page-hide flush", async () => {
  const page = await openSite(browser, collector, { path: "/site/hide-same-task" });
  await sdkReady(page);
  const beaconed = await page.evaluate(async () => {
    // What the page-hide flush hands to sendBeacon, still sent for real.
    const bodies = [];
    const send = navigator.sendBeacon.bind(navigator);
    navigator.sendBeacon = (url, body) => (bodies.push(body), send(url, body));
    waymark("track", "tracked_then_hidden");
    window.dispatchEvent(new PageTransitionEvent("pagehide"));
    return (await Promise.all(bodies.map((b) => new Response(b).text()))).join("\n");
  });
  assert.match(beaconed, /tracked_then_hidden/);
  const rows = await eventually(
    () => collector.query("SELECT name FROM events WHERE name = 'tracked_then_hidden'"),
    (r) => r.length >= 1,
    "the event tracked as the page was hidden",
  );
  assert.equal(rows.length, 1);
  await page.context().close();
});

test("a server that sends the Wasm without its application/wasm type still gets the page's pageview", async () => {
  const page = await openSite(browser, collector, {
    path: "/site/plain-wasm",
    prepare: (p) =>
      p.route("**/sdk/waymark_sdk_bg.wasm", async (route) => {
        const response = await route.fetch();
        await route.fulfill({ response, headers: { ...response.headers(), "content-type": "application/octet-stream" } });
      }),
  });
  const views = await eventually(() => collector.query("SELECT name FROM events WHERE url LIKE '%/site/plain-wasm'"), (r) => r.length === 1, "the pageview");
  assert.deepEqual(views, [{ name: "$pageview" }]);
  await page.context().close();
});
