// The whole path with one event: script tag → SDK in Chromium → collector → SQLite.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { openCollectorAndBrowser, closeCollectorAndBrowser } from "./harness.mjs";

let collector, browser;
before(async () => ({ collector, browser } = await openCollectorAndBrowser()));
after(() => closeCollectorAndBrowser({ collector, browser }));

test("the demo page's pageview is stored with the session id the page keeps", async () => {
  const page = await browser.newPage();
  const stored = page.waitForResponse((r) => r.url().endsWith("/api/collect") && r.request().method() === "POST");
  await page.goto(collector.url + "/");
  const response = await stored;
  assert.equal(response.status(), 200);
  assert.equal((await response.json()).accepted, 1);

  const kept = await page.evaluate(() => localStorage.getItem("waymark.session"));
  const sessionId = kept.split(".")[0];
  assert.match(sessionId, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);

  const rows = collector.query("SELECT name, client_session_id, path FROM events");
  assert.deepEqual(rows, [{ name: "$pageview", client_session_id: sessionId, path: "/" }]);
  await page.close();
});

test("bad input gets a 4xx with a reason and the collector keeps serving", async () => {
  const post = (body) => fetch(collector.url + "/api/collect", { method: "POST", headers: { "content-type": "text/plain" }, body });

  const malformed = await post("{not json");
  assert.equal(malformed.status, 400);
  assert.match((await malformed.json()).message, /not a JSON batch/);

  const missing = await post(JSON.stringify({ site: "demo", events: [] }));
  assert.equal(missing.status, 400);
  assert.match((await missing.json()).message, /sent_at/);

  const health = await fetch(collector.url + "/healthz");
  assert.equal(health.status, 200);
});
