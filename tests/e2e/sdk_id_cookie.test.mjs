// The collector's HttpOnly id cookie (`id_cookie` on the site), in a real
// browser on the collector's own origin, as a site behind a reverse proxy
// would have it: the ids outlive the page's storage being cleared, and the
// cookie exists only with consent.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startCollector, launchChromium, eventually } from "./harness.mjs";
import { openSite, browserStorage, sdkReady } from "./sdk_site.mjs";

let collector, browser, dir;
before(async () => {
  dir = mkdtempSync(join(tmpdir(), "waymark-e2e-id-cookie-"));
  const config = join(dir, "waymark.toml");
  // Headless Chromium counts as a visitor here, as in the demo setup.
  writeFileSync(config, 'headless_browsers_are_bots = false\n\n[[site]]\nkey = "demo"\nid_cookie = { days = 400 }\n');
  collector = await startCollector(["--config", config]);
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await collector?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const idCookie = async (page) => (await page.context().cookies()).find((c) => c.name === "waymark_id_demo");
const pageviews = (path) => collector.query(`SELECT visitor_id, client_session_id FROM events WHERE name = '$pageview' AND url LIKE '%${path}' ORDER BY ts`);

test("after the page's storage is cleared, the next visit is the same visitor, told by the collector's HttpOnly cookie", async () => {
  const page = await openSite(browser, collector, { path: "/site/first" });
  const [first] = await eventually(() => pageviews("/site/first"), (r) => r.length === 1, "the first pageview");
  const cookie = await eventually(() => idCookie(page), (c) => c !== undefined, "the id cookie");
  assert.deepEqual(
    { httpOnly: cookie.httpOnly, secure: cookie.secure, sameSite: cookie.sameSite, path: cookie.path },
    { httpOnly: true, secure: true, sameSite: "Lax", path: "/" },
  );
  assert.ok(cookie.value.startsWith(`${first.visitor_id}.${first.client_session_id}.`), cookie.value);
  assert.ok(cookie.expires * 1000 > Date.now() + 399 * 86_400_000, "lasts 400 days, not a script cookie's 7");
  assert.equal(await page.evaluate(() => document.cookie.includes("waymark_id")), false, "scripts cannot read it");

  // What Safari does to script-written storage after 7 days without a
  // visit: cleared while none of the site's pages is open.
  await page.goto(collector.url + "/healthz");
  await page.evaluate(() => localStorage.clear());
  await page.goto(collector.url + "/site/second");
  await sdkReady(page);
  const [second] = await eventually(() => pageviews("/site/second"), (r) => r.length === 1, "the second pageview");
  assert.deepEqual(second, first, "the same visitor, in the same (still live) session");
  await eventually(async () => (await browserStorage(page)).local["waymark.visitor"], (v) => v === first.visitor_id, "the SDK keeping the restored visitor");

  // Later events of the page carry the restored ids themselves.
  await page.evaluate(() => (waymark("track", "after_restore"), waymark("flush")));
  const [later] = await eventually(
    () => collector.query("SELECT visitor_id, client_session_id FROM events WHERE name = 'after_restore'"),
    (r) => r.length === 1,
    "after_restore",
  );
  assert.deepEqual(later, first);
  await page.context().close();
});

test("without consent there is no id cookie; a grant sets it and withdrawing consent deletes it", async () => {
  const page = await openSite(browser, collector, { path: "/site/consent", attrs: { consent: "required" } });
  await page.evaluate(() => (waymark("track", "while_pending"), waymark("flush")));
  assert.equal(await idCookie(page), undefined, "nothing set before a choice");

  await page.evaluate(() => waymark("grant"));
  const cookie = await eventually(() => idCookie(page), (c) => c !== undefined, "the id cookie after the grant");
  const [granted] = await eventually(() => pageviews("/site/consent"), (r) => r.length === 1, "the held pageview");
  assert.ok(cookie.value.startsWith(granted.visitor_id + "."));

  await page.evaluate(() => (waymark("deny"), waymark("flush")));
  await eventually(() => idCookie(page), (c) => c === undefined, "the id cookie deleted after the denial");
  assert.deepEqual((await browserStorage(page)).local, { "waymark.consent": "analytics=denied" });
  await page.context().close();
});
