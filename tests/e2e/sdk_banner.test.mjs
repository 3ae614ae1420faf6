// The built-in consent banner (`data-consent-banner`) in a real browser
// against the real collector: nothing stored or sent with ids before a
// choice, Accept and Reject one click each, Reject stores only the choice,
// `waymark("consentSettings")` and the settings button reopen it with focus
// handled, a keyboard-only visitor can choose, axe-core finds no
// violations, and it shifts nothing on the page, whose CSS is hostile.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { openCollectorAndBrowser, closeCollectorAndBrowser, eventually } from "./harness.mjs";
import { openSite, browserStorage, recordSends, sentInPage, namesSentInPage } from "./sdk_site.mjs";

const axePath = join(dirname(fileURLToPath(import.meta.url)), "..", "node_modules", "axe-core", "axe.min.js");

let collector, browser;
before(async () => ({ collector, browser } = await openCollectorAndBrowser()));
after(() => closeCollectorAndBrowser({ collector, browser }));

const rows = (sql) => collector.query(sql);

// A page whose own CSS would wreck a banner that did not scope its styles:
// every direct child of a flex <body> becomes a block with margins (a host
// element that made a box would push the content down), and buttons,
// paragraphs and links are restyled.
const hostile = `<style>
  body { display: flex; flex-direction: column; gap: 2rem; margin: 0; }
  body > * { display: block !important; margin: 1rem !important; padding: 1rem !important; }
  button, p, a, div { color: red !important; background: yellow !important; font-size: 40px !important; position: static !important; }
</style>`;
const body = `${hostile}<main><h1>Shop</h1><p id="content">Content that must not move.</p>
<button id="before" onclick="waymark('consentSettings')">Our privacy settings</button></main>`;

const bannerAttrs = {
  consent: "required",
  consentBanner: "",
  consentBannerText: "Shop would like to measure its visits.",
  consentPolicyUrl: "/privacy",
  consentPolicyLabel: "Our privacy policy",
};

/** A page of the site with the banner on (and `attrs` beside), with sends recorded. */
function openBannerPage(path, { attrs = {}, prepare } = {}) {
  return openSite(browser, collector, {
    path,
    body,
    attrs: { ...bannerAttrs, ...attrs },
    prepare: async (page) => {
      await recordSends(page);
      await prepare?.(page);
    },
  });
}

const banner = (page) => page.locator("waymark-consent .banner");
const settingsButton = (page) => page.locator("waymark-consent .settings");
const accept = (page) => page.getByRole("button", { name: "Accept" });
const reject = (page) => page.getByRole("button", { name: "Reject" });

/** What has focus: the page's element's id, or the banner's element (its
 * class or its text) inside its shadow root. */
const focused = (page) =>
  page.evaluate(() => {
    const active = document.activeElement;
    const inner = active?.shadowRoot?.activeElement;
    if (inner) return `banner:${inner.className || inner.textContent}`;
    return active?.id || active?.tagName;
  });

/** Lets the banner's entrance animation end (it runs on the document's own timeline). */
const settled = (page) =>
  page.evaluate(() => Promise.all(document.querySelector("waymark-consent").shadowRoot.getAnimations().map((a) => a.finished)));

test("before a choice the banner shows, and nothing is stored or sent", async () => {
  const page = await openBannerPage("/site/banner-pending", { prepare: (p) => p.clock.install() });
  await banner(page).waitFor({ state: "visible" });
  assert.equal(await page.evaluate(() => waymark("consent")), "pending");
  assert.equal(await page.getByRole("region", { name: "Shop would like to measure its visits. Our privacy policy" }).count(), 1);
  assert.equal(await page.getByRole("link", { name: "Our privacy policy" }).getAttribute("href"), "/privacy");

  await page.evaluate(() => waymark("track", "browsing"));
  // Past every flush interval, and an explicit flush: a held event would go now.
  await page.clock.runFor(60_000);
  await page.evaluate(() => waymark("flush"));
  assert.deepEqual(await namesSentInPage(page), [], "nothing handed to fetch or sendBeacon while pending");
  assert.deepEqual(await browserStorage(page), { cookies: [], local: {} });
  assert.deepEqual(rows("SELECT name FROM events WHERE url LIKE '%/site/banner-pending'"), []);
  await page.context().close();
});

test("Accept, one click: the choice is stored and the held events reach the collector with ids", async () => {
  const page = await openBannerPage("/site/banner-accept");
  await page.evaluate(() => waymark("track", "browsing"));
  await accept(page).click();
  await banner(page).waitFor({ state: "hidden" });
  assert.equal(await page.evaluate(() => waymark("consent")), "granted");
  const stored = await eventually(
    () => rows("SELECT name, client_session_id, props FROM events WHERE url LIKE '%/site/banner-accept' ORDER BY ts"),
    (r) => r.length === 3,
    "3 events",
  );
  assert.deepEqual(stored.map((r) => r.name), ["$pageview", "browsing", "$consent"]);
  for (const row of stored) assert.match(row.client_session_id, /^[0-9a-f-]{36}$/);
  assert.deepEqual(JSON.parse(stored[2].props), { analytics: "granted" });
  const { local } = await browserStorage(page);
  assert.equal(local["waymark.consent"], "analytics=granted");
  assert.ok(local["waymark.session"] && local["waymark.visitor"], `ids stored after the grant: ${JSON.stringify(local)}`);

  // The choice is kept: the next page starts granted and shows no banner.
  await page.reload();
  await eventually(() => page.evaluate(() => window.waymark && !window.waymark.q && waymark("consent")), (s) => s === "granted", "granted after reload");
  assert.equal(await banner(page).isVisible(), false);
  await page.context().close();
});

test("Reject, one click: only the choice is stored, and no id is ever sent", async () => {
  const page = await openBannerPage("/site/banner-reject");
  await page.evaluate(() => waymark("track", "browsing"));
  await reject(page).click();
  await banner(page).waitFor({ state: "hidden" });
  await page.evaluate(() => (waymark("track", "after_reject"), waymark("flush")));
  const stored = await eventually(
    () => rows("SELECT name, client_session_id, props FROM events WHERE url LIKE '%/site/banner-reject'"),
    (r) => r.length >= 1,
    "the $consent event",
  );
  assert.deepEqual(stored, [{ name: "$consent", client_session_id: null, props: '{"analytics":"denied"}' }]);
  assert.deepEqual(await browserStorage(page), { cookies: [], local: { "waymark.consent": "analytics=denied" } });
  const events = (await sentInPage(page)).flatMap((s) => s.body.events);
  assert.deepEqual(events.map((e) => e.name), ["$consent"]);
  for (const event of events) assert.ok(!("session_id" in event) && !("visitor_id" in event), `no ids in ${JSON.stringify(event)}`);
  await page.context().close();
});

test("waymark(\"consentSettings\") reopens the banner with focus in it; a choice closes it and focus returns; Escape leaves the choice as it was", async () => {
  const page = await openBannerPage("/site/banner-reopen");
  await reject(page).click();
  await banner(page).waitFor({ state: "hidden" });

  // The page's own "privacy settings" button calls waymark("consentSettings").
  await page.click("#before");
  await banner(page).waitFor({ state: "visible" });
  await eventually(() => focused(page), (f) => f === "banner:banner", "focus in the banner");
  await accept(page).click();
  await banner(page).waitFor({ state: "hidden" });
  assert.equal(await focused(page), "before", "focus is back on the button that opened it");
  assert.equal(await page.evaluate(() => waymark("consent")), "granted");

  // Escape closes a reopened banner without choosing.
  await page.click("#before");
  await eventually(() => focused(page), (f) => f === "banner:banner", "focus in the banner");
  await page.keyboard.press("Escape");
  await banner(page).waitFor({ state: "hidden" });
  assert.equal(await focused(page), "before");
  assert.equal(await page.evaluate(() => waymark("consent")), "granted");
  await page.context().close();
});

test("the optional settings button appears once the visitor has chosen and reopens the banner", async () => {
  const page = await openBannerPage("/site/banner-link", { attrs: { consentSettingsLink: "Cookie choices" } });
  assert.equal(await settingsButton(page).isVisible(), false, "no settings button while the banner asks");
  await accept(page).click();
  await settingsButton(page).waitFor({ state: "visible" });
  assert.equal(await settingsButton(page).textContent(), "Cookie choices");
  await page.getByRole("button", { name: "Cookie choices" }).click();
  await banner(page).waitFor({ state: "visible" });
  assert.equal(await settingsButton(page).isVisible(), false);
  await eventually(() => focused(page), (f) => f === "banner:banner", "focus in the banner");
  await reject(page).click();
  await settingsButton(page).waitFor({ state: "visible" });
  assert.equal(await focused(page), "banner:settings", "focus is back on the settings button");
  assert.equal(await page.evaluate(() => waymark("consent")), "denied");
  await page.context().close();
});

test("keyboard only: Tab reaches the policy link, Accept and Reject first; Escape does not choose; Enter and Space choose", async () => {
  for (const [key, button, state] of [["Enter", "Accept", "granted"], [" ", "Reject", "denied"]]) {
    const page = await openBannerPage(`/site/banner-keys-${state}`, { attrs: { consentSettingsLink: "" } });
    await banner(page).waitFor({ state: "visible" });
    await page.keyboard.press("Tab");
    assert.equal(await focused(page), "banner:Our privacy policy", "the banner comes first in the tab order");
    await page.keyboard.press("Tab");
    assert.equal(await focused(page), "banner:Accept");
    await page.keyboard.press("Escape");
    assert.equal(await banner(page).isVisible(), true, "Escape does not close a banner that still asks");
    assert.equal(await page.evaluate(() => waymark("consent")), "pending");
    await page.keyboard.press("Tab");
    assert.equal(await focused(page), "banner:Reject");
    await page.keyboard.press("Tab");
    assert.equal(await focused(page), "before", "the page's own content follows");
    await page.keyboard.press("Shift+Tab");
    if (button === "Accept") await page.keyboard.press("Shift+Tab");
    assert.equal(await focused(page), `banner:${button}`);
    await page.keyboard.press(key === " " ? "Space" : key);
    await banner(page).waitFor({ state: "hidden" });
    assert.equal(await page.evaluate(() => waymark("consent")), state);
    assert.equal(await focused(page), "banner:settings", "focus lands on the settings button that replaced the banner");

    // Reopening and choosing again, by keyboard alone.
    await page.keyboard.press("Enter");
    await banner(page).waitFor({ state: "visible" });
    assert.equal(await focused(page), "banner:banner");
    await page.keyboard.press("Tab");
    await page.keyboard.press("Tab");
    assert.equal(await focused(page), "banner:Accept");
    await page.keyboard.press("Space");
    await banner(page).waitFor({ state: "hidden" });
    assert.equal(await page.evaluate(() => waymark("consent")), "granted");
    await page.context().close();
  }
});

test("axe-core finds no violations in the banner, open or closed to its settings button", async () => {
  const page = await openBannerPage("/site/banner-axe", { attrs: { consentSettingsLink: "" } });
  await banner(page).waitFor({ state: "visible" });
  await settled(page);
  await page.addScriptTag({ path: axePath });
  const audit = () =>
    page.evaluate(async () => {
      const result = await axe.run(document.querySelector("waymark-consent"));
      return { passes: result.passes.map((r) => r.id), violations: result.violations.map((v) => ({ id: v.id, nodes: v.nodes.map((n) => n.target) })) };
    });
  const open = await audit();
  assert.deepEqual(open.violations, []);
  for (const rule of ["button-name", "color-contrast", "aria-allowed-attr", "landmark-unique"]) assert.ok(open.passes.includes(rule), `${rule} was checked: ${open.passes}`);
  await reject(page).click();
  await settingsButton(page).waitFor({ state: "visible" });
  assert.deepEqual((await audit()).violations, []);
  await page.context().close();
});

test("the banner appears with no layout shift, fixed at the bottom, Accept and Reject alike, whatever the page's CSS", async () => {
  const page = await openBannerPage("/site/banner-layout", {
    prepare: (p) =>
      p.addInitScript(() => {
        window.__shifts = [];
        new PerformanceObserver((list) => window.__shifts.push(...list.getEntries().map((e) => e.value))).observe({ type: "layout-shift", buffered: true });
        document.addEventListener("DOMContentLoaded", () => (window.__contentTop = document.getElementById("content").getBoundingClientRect().top));
      }),
  });
  await banner(page).waitFor({ state: "visible" });
  await settled(page);
  // Two frames: any shift the banner caused has been reported by then.
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  const seen = await page.evaluate(() => {
    const root = document.querySelector("waymark-consent").shadowRoot;
    const box = root.querySelector(".banner").getBoundingClientRect();
    const [a, r] = [...root.querySelectorAll("button[value]")].map((b) => {
      const s = getComputedStyle(b);
      return { width: b.offsetWidth, height: b.offsetHeight, color: s.color, background: s.backgroundColor, font: s.font };
    });
    return {
      shifts: window.__shifts,
      moved: document.getElementById("content").getBoundingClientRect().top - window.__contentTop,
      host: getComputedStyle(document.querySelector("waymark-consent")).display,
      position: getComputedStyle(root.querySelector(".banner")).position,
      gapToBottom: innerHeight - box.bottom,
      accept: a,
      reject: r,
    };
  });
  assert.deepEqual(seen.shifts, [], "no layout-shift entries");
  assert.equal(seen.moved, 0, "the page's content did not move");
  assert.equal(seen.host, "contents", "the host makes no box, despite `body > * { display: block !important }`");
  assert.equal(seen.position, "fixed");
  assert.ok(seen.gapToBottom >= 0 && seen.gapToBottom < 40, `at the bottom of the viewport (${seen.gapToBottom}px above it)`);
  assert.deepEqual(seen.accept, seen.reject, "Accept and Reject are the same size and style");
  assert.notEqual(seen.accept.color, "rgb(255, 0, 0)", "the page's `button { color: red !important }` does not reach in");

  // Under prefers-reduced-motion the banner does not animate.
  await page.emulateMedia({ reducedMotion: "reduce" });
  await page.evaluate(() => waymark("consentSettings"));
  const animations = await page.evaluate(() => document.querySelector("waymark-consent").shadowRoot.getAnimations().length);
  assert.equal(animations, 0);
  await page.context().close();
});

test("without data-consent-banner the page downloads no banner, and consentSettings says what it needs", async () => {
  const errors = [];
  const requested = [];
  const page = await openSite(browser, collector, {
    path: "/site/banner-off",
    attrs: { consent: "required" },
    prepare: (p) => {
      p.on("console", (m) => m.type() === "error" && errors.push(m.text()));
      p.on("request", (r) => requested.push(new URL(r.url()).pathname));
    },
  });
  await page.evaluate(() => waymark("consentSettings"));
  assert.ok(!requested.includes("/sdk/consent-banner.js"), requested.join(" "));
  assert.equal(await page.locator("waymark-consent").count(), 0);
  assert.deepEqual(errors, ["waymark: consentSettings() needs consentBanner on"]);
  await page.context().close();
});
