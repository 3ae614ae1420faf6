// Pages for the SDK's end-to-end tests: a page on the collector's origin
// with the real loader, configured by data-* attributes as a site owner
// would, and ways to look at what the browser stored.

/** HTML of a page that loads /waymark.js with `attrs` as data-* attributes. */
export function sitePage(attrs = {}, body = "") {
  const data = Object.entries({ site: "demo", ...attrs })
    .map(([k, v]) => `data-${k.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase())}="${v}"`)
    .join(" ");
  return `<!doctype html><html><head><meta charset="utf-8"><title>Test page</title>
<script>window.waymark = function () { (waymark.q = waymark.q || []).push(arguments); }; waymark.q = [];</script>
<script defer src="/waymark.js" ${data}></script></head><body>${body}</body></html>`;
}

/**
 * Opens `path` (default /site/) in a fresh browser context; every page under
 * /site/ on the collector's origin is `sitePage(attrs, body)`. `prepare(page)`
 * runs before navigation (clock, routes). Resolves once the SDK is running.
 */
export async function openSite(browser, collector, { attrs, body, path = "/site/", prepare } = {}) {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.on("console", (m) => process.env.WAYMARK_E2E_CONSOLE && console.log("[page]", m.text()));
  await page.route(`${collector.url}/site/**`, (route) => route.fulfill({ contentType: "text/html", body: sitePage(attrs, body) }));
  if (prepare) await prepare(page);
  await page.goto(collector.url + path);
  await sdkReady(page);
  return page;
}

export function sdkReady(page) {
  return page.waitForFunction(() => typeof window.waymark === "function" && !window.waymark.q);
}

/** Everything the page's origin keeps in the browser: cookies and localStorage. */
export async function browserStorage(page) {
  const cookies = await page.context().cookies();
  const local = await page.evaluate(() => Object.fromEntries(Object.keys(localStorage).map((k) => [k, localStorage.getItem(k)])));
  return { cookies: cookies.map((c) => c.name), local };
}

/** Polls `read` until `done(result)` (real I/O finishing, not a clock), or fails. */
export async function eventually(read, done, what, timeoutMs = 10_000) {
  const until = Date.now() + timeoutMs;
  let last;
  while (Date.now() < until) {
    last = await read();
    if (done(last)) return last;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}; last seen: ${JSON.stringify(last)}`);
}

/** Collect requests made by the page, as parsed batches. */
export function recordBatches(page) {
  const batches = [];
  page.on("request", (r) => {
    if (r.url().endsWith("/api/collect") && r.method() === "POST") {
      try { batches.push(JSON.parse(r.postData())); } catch { batches.push(null); }
    }
  });
  return batches;
}
