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

/**
 * Records, in the page and as they happen, every batch it hands to `fetch`
 * or `navigator.sendBeacon` (call in `prepare`, before the SDK loads). A
 * request the page started shows up here synchronously, so "nothing was
 * sent" can be asserted right after an explicit flush, with no waiting.
 */
export function recordSends(page) {
  return page.addInitScript(() => {
    const sent = (window.__waymarkSent = []);
    const keep = (via, url, body) => {
      try {
        if (String(url).endsWith("/api/collect")) sent.push({ via, body: JSON.parse(body) });
      } catch {}
    };
    const fetch = window.fetch.bind(window);
    window.fetch = (url, init) => (keep("fetch", url, init?.body), fetch(url, init));
    const beacon = navigator.sendBeacon.bind(navigator);
    navigator.sendBeacon = (url, body) => (keep("beacon", url, body), beacon(url, body));
  });
}

/** What `recordSends` saw so far: `{via, body}` with the parsed batch. */
export const sentInPage = (page) => page.evaluate(() => window.__waymarkSent);

/** The names of the events in what `recordSends` saw. */
export const namesSentInPage = async (page) => (await sentInPage(page)).flatMap((s) => s.body.events.map((e) => e.name));

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
