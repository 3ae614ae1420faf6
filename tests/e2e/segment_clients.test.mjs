// Clients no one here wrote, pointed at the collector's Segment-compatible
// API (/v1/*) by their host setting alone: Segment's Python library (run as
// a child process from the venv `cargo xtask test` installs), its Node
// library, and analytics-next in Chromium on a page of another origin. What
// they send is read back as a user would: the export API and sqlite3.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createServer } from "node:http";
import { readFile, writeFile, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, dirname, basename } from "node:path";
import { fileURLToPath } from "node:url";
import { randomUUID } from "node:crypto";
import { promisify } from "node:util";
import { Analytics } from "@segment/analytics-node";
import { startCollector, launchChromium, eventually } from "./harness.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..");
const python = process.env.E2E_SEGMENT_PYTHON ?? join(root, "target", "pyenv", "bin", "python");
const WRITE_KEY = "wk-shop-e2e-0123456789";
const TOKEN = "e2e-segment-token-0123456789";

let collector, browser, pages, configDir;

/** The page analytics-next runs on: another origin than the collector's. */
function startPageServer() {
  const umd = join(root, "tests", "node_modules", "@segment", "analytics-next", "dist", "umd");
  const server = createServer(async (req, res) => {
    const path = new URL(req.url, "http://x").pathname;
    if (path === "/shop/") {
      res.writeHead(200, { "content-type": "text/html" });
      return res.end(shopPage(collector.url));
    }
    // The library and the chunks it may load, from its npm package.
    const file = path.match(/^\/analytics-next\/(?:bundles\/)?([\w.-]+\.js)$/)?.[1];
    if (file) {
      try {
        const body = await readFile(join(umd, basename(file)));
        res.writeHead(200, { "content-type": "text/javascript" });
        return res.end(body);
      } catch {}
    }
    res.writeHead(404).end();
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve({ server, url: `http://127.0.0.1:${server.address().port}` })));
}

/** A shop page that loads analytics-next with its settings given inline
 * (no settings fetched from a CDN) and its API host set to the collector. */
function shopPage(collectorUrl) {
  const apiHost = collectorUrl.replace(/^http:\/\//, "") + "/v1";
  const segmentio = { apiKey: WRITE_KEY, apiHost, protocol: "http" };
  return `<!doctype html><html><head><meta charset="utf-8"><title>Shop | Pricing</title>
<script src="/analytics-next/index.js"></script>
<script>
  const analytics = AnalyticsNext.AnalyticsBrowser.load(
    { writeKey: ${JSON.stringify(WRITE_KEY)}, cdnURL: location.origin, cdnSettings: { integrations: { "Segment.io": ${JSON.stringify(segmentio)} } } },
    { integrations: { "Segment.io": ${JSON.stringify({ apiHost, protocol: "http" })} } },
  );
  window.sent = Promise.all([analytics.page(), analytics.track("Clicked Buy", { plan: "pro", seats: 3 })])
    .then(async ([page, track]) => ({ anonymousId: (await analytics.user()).anonymousId(), failed: [page, track].filter((c) => c.failedDelivery()).length }));
</script></head><body><h1>Pricing</h1></body></html>`;
}

before(async () => {
  pages = await startPageServer();
  configDir = await mkdtemp(join(tmpdir(), "waymark-segment-"));
  const config = join(configDir, "waymark.toml");
  await writeFile(config, `headless_browsers_are_bots = false
[dashboard]
api_tokens = ["${TOKEN}"]
[[site]]
key = "shop"
write_key = "${WRITE_KEY}"
allowed_origins = ["${pages.url}"]
`);
  collector = await startCollector(["--config", config]);
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await collector?.stop();
  pages?.server.close();
  if (configDir) await rm(configDir, { recursive: true, force: true });
});

/** Everything stored for one visitor, through the export API. */
async function exported(selector) {
  const r = await fetch(`${collector.url}/api/lifecycle/export?site=shop&${new URLSearchParams(selector)}`, {
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  assert.equal(r.status, 200, await r.clone().text());
  return r.json();
}

function byName(events) {
  return Object.fromEntries(events.map((e) => [e.name === "$pageview" ? `$pageview ${e.path}` : e.name, e]));
}

/** What one of each call looks like once stored, whichever client sent it. */
function assertStoredMapping({ events, sessions }, { anonymousId, userId }) {
  const names = events.map((e) => e.name).sort();
  assert.deepEqual(names, ["$identify", "$identify", "$pageview", "$pageview", "Order Completed"]);
  assert.ok(events.every((e) => e.visitor_id === anonymousId), "anonymousId is the visitor");
  const e = byName(events);
  const page = e["$pageview /docs/install"];
  assert.equal(page.url, "https://shop.example/docs/install");
  assert.equal(page.title, "Installing");
  assert.equal(page.referrer, "https://search.example/");
  assert.deepEqual(JSON.parse(page.props), { name: "Docs", category: "Help" });
  const screen = e["$pageview /Order%20Details"];
  assert.equal(screen.host, "com.example.shop");
  assert.equal(screen.title, "Order Details");
  const order = events.find((x) => x.name === "Order Completed");
  assert.equal(order.user_id, userId);
  assert.deepEqual(JSON.parse(order.props), { total: 42.5, currency: "EUR", "shipping.method": "express", "shipping.days": 2 });
  assert.deepEqual([order.utm_source, order.utm_medium, order.utm_campaign], ["newsletter", "email", "spring"]);
  const identify = events.find((x) => x.name === "$identify" && !JSON.parse(x.props).previous_id);
  const alias = events.find((x) => x.name === "$identify" && JSON.parse(x.props).previous_id);
  assert.deepEqual(JSON.parse(identify.props), { plan: "pro", "address.city": "Lyon" });
  assert.equal(identify.user_id, userId);
  assert.deepEqual([alias.user_id, JSON.parse(alias.props).previous_id], [userId, anonymousId]);
  assert.equal(sessions.length, 1, "one visit");
  assert.deepEqual([sessions[0].pageviews, sessions[0].events, sessions[0].user_id], [2, 5, userId]);
}

test("segment-analytics-python's calls are stored as the mapping says, and sending them again counts once", async () => {
  const anonymousId = randomUUID();
  const userId = `py-user-${anonymousId.slice(0, 8)}`;
  const send = () => promisify(execFile)(python, [join(root, "tests", "python", "segment_send.py"), collector.url, WRITE_KEY, anonymousId, userId, anonymousId]);
  await send().catch((e) => assert.fail(`the Python client failed (is target/pyenv installed? cargo xtask test does it): ${e.stderr || e.message}`));
  assertStoredMapping(await exported({ visitor: anonymousId }), { anonymousId, userId });
  await send();
  const again = await exported({ visitor: anonymousId });
  assert.equal(again.events.length, 5, "the resend is a duplicate of each");
  assert.deepEqual(collector.query(`SELECT count(*) AS n FROM events WHERE visitor_id = '${anonymousId}'`), [{ n: 5 }]);
});

test("@segment/analytics-node's calls are stored as the mapping says, and a resent message counts once", async () => {
  const anonymousId = randomUUID();
  const userId = `node-user-${anonymousId.slice(0, 8)}`;
  const client = () => new Analytics({ writeKey: WRITE_KEY, host: collector.url, flushAt: 20, flushInterval: 200, maxRetries: 1 });
  const errors = [];
  const analytics = client().on("error", (e) => errors.push(e));
  const messageId = (call) => `node-${anonymousId}-${call}`;
  analytics.page({
    anonymousId, name: "Docs", category: "Help", messageId: messageId("page"),
    properties: { url: "https://shop.example/docs/install", title: "Installing", referrer: "https://search.example/" },
  });
  analytics.screen({ anonymousId, name: "Order Details", properties: { order: 7 }, context: { app: { namespace: "com.example.shop" } }, messageId: messageId("screen") });
  const order = {
    anonymousId, userId, event: "Order Completed", messageId: messageId("track"),
    properties: { total: 42.5, currency: "EUR", shipping: { method: "express", days: 2 }, coupon: null },
    context: { campaign: { source: "newsletter", medium: "email", name: "spring" } },
  };
  analytics.track(order);
  analytics.identify({ userId, anonymousId, traits: { plan: "pro", address: { city: "Lyon" } }, messageId: messageId("identify") });
  analytics.alias({ previousId: anonymousId, userId, messageId: messageId("alias") });
  await analytics.closeAndFlush();
  assert.deepEqual(errors, []);
  assertStoredMapping(await exported({ visitor: anonymousId }), { anonymousId, userId });

  // A retry after a lost answer: the same message again, from another process's client.
  const retry = client();
  retry.track(order);
  await retry.closeAndFlush();
  assert.equal((await exported({ visitor: anonymousId })).events.length, 5);
});

test("@segment/analytics-next in Chromium sends a page and a track from the shop's origin into the same visit", async () => {
  const context = await browser.newContext();
  const outside = [];
  // Nothing may leave for the internet (a settings CDN, Segment's API).
  await context.route("**/*", (route) => {
    const url = route.request().url();
    if (url.startsWith(pages.url) || url.startsWith(collector.url)) return route.continue();
    outside.push(url);
    return route.abort();
  });
  const page = await context.newPage();
  const problems = [];
  page.on("pageerror", (e) => problems.push(String(e)));
  page.on("console", (m) => m.type() === "error" && problems.push(m.text()));
  await page.goto(`${pages.url}/shop/?ref=e2e`);
  const sent = await page.evaluate(() => window.sent);
  assert.deepEqual(problems, []);
  assert.equal(sent.failed, 0, "both calls delivered");
  const { events, sessions } = await eventually(() => exported({ visitor: sent.anonymousId }), (d) => d.events.length === 2, "the page's two events");
  const e = byName(events);
  const view = e["$pageview /shop/"];
  assert.equal(view.url, `${pages.url}/shop/?ref=e2e`);
  assert.equal(view.title, "Shop | Pricing");
  assert.equal(view.browser, "Chrome", "enriched from the browser's own request");
  const click = e["Clicked Buy"];
  assert.deepEqual(JSON.parse(click.props), { plan: "pro", seats: 3 });
  assert.equal(click.path, "/shop/");
  assert.equal(sessions.length, 1);
  assert.deepEqual([sessions[0].pageviews, sessions[0].entry_path, sessions[0].bounce], [1, "/shop/", false]);
  assert.deepEqual(outside, []);
  await context.close();
});

test("bad input is refused with a reason and the rest of the batch is kept; a wrong write key is 401 to the client", async () => {
  const anonymousId = randomUUID();
  const post = (body, key = WRITE_KEY) =>
    fetch(`${collector.url}/v1/batch`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: "Basic " + Buffer.from(`${key}:`).toString("base64") },
      body: JSON.stringify(body),
    });
  const deep = Object.fromEntries(Array.from({ length: 70 }, (_, i) => [`k${i}`, i]));
  const message = (messageId, extra) => ({ type: "track", messageId, anonymousId, event: "Checked", timestamp: new Date().toISOString(), ...extra });
  const mixed = await post({
    batch: [
      message("bad-1", { properties: { nested: deep } }),
      message("good-1"),
      { type: "track", messageId: "bad-2", event: "Nobody", timestamp: new Date().toISOString() },
    ],
  });
  assert.equal(mixed.status, 200);
  const answer = await mixed.json();
  assert.deepEqual(answer.results.map((r) => r.reason ?? r.outcome), ["too_many_props", "accepted", "identity_missing"]);
  assert.match(answer.results[0].message, /70 properties, more than allowed \(64\)/);

  const big = await post({ batch: Array.from({ length: 60 }, (_, i) => message(`big-${i}`, { properties: { pad: "p".repeat(10_000) } })) });
  assert.equal(big.status, 413);
  assert.equal((await big.json()).error, "body_too_large");

  const wrong = await post({ batch: [message("good-2")] }, "wk-not-this-sites-key-000");
  assert.deepEqual([wrong.status, (await wrong.json()).error], [401, "bad_write_key"]);
  // The Node client reports it, and gives up on that batch (no retry of a 401).
  const errors = [];
  const analytics = new Analytics({ writeKey: "wk-not-this-sites-key-000", host: collector.url, maxRetries: 3 }).on("error", (e) => errors.push(e));
  analytics.track({ anonymousId, event: "Lost", messageId: "lost-1" });
  await analytics.closeAndFlush();
  assert.match(String(errors[0]?.reason ?? errors[0]), /401/);

  assert.deepEqual((await exported({ visitor: anonymousId })).events.map((e) => e.id.length && e.name), ["Checked"]);
});
