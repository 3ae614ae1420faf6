// Shared by the dashboard tests: a collector with a known admin password,
// signing in through the form, and sending events as a tracked page would
// (a script's POST, with no Origin: accepted by a site that lists none).
import { randomUUID } from "node:crypto";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { startCollector } from "./harness.mjs";

export const PASSWORD = "e2e-admin-password";

export function startDashboardCollector() {
  process.env.WAYMARK_DASHBOARD__ADMIN_PASSWORD = PASSWORD;
  return startCollector();
}

/** Signs in through the form; without a name, as `admin`. */
export async function signIn(page, url, { name, password = PASSWORD } = {}) {
  await page.goto(url + "/dashboard/");
  if (name) await page.fill("#sign-in-form input[name=name]", name);
  await page.fill("#sign-in-form input[name=password]", password);
  await page.click("#sign-in-form button[type=submit]");
  await page.waitForSelector("#app:not([hidden])");
  // Until the first view is drawn, a click on a tab would be undone by it.
  await page.waitForSelector("body[data-shown]", { state: "attached" });
}

/** A phone and a computer, as their browsers name themselves. */
export const IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1";
export const DESKTOP = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";

/** Posts one batch to the collector, like the SDK does (from the browser
 * `userAgent` names, when given); returns the answer. */
export async function send(url, events, site = "demo", { userAgent } = {}) {
  const now = Date.now();
  const batch = {
    site,
    sent_at: now,
    events: events.map((e) => ({ id: randomUUID(), ts: now, session_id: e.session ?? SESSION, url: "https://demo.example/", ...e })),
  };
  const headers = { "content-type": "text/plain", ...(userAgent ? { "user-agent": userAgent } : {}) };
  const r = await fetch(url + "/api/collect", { method: "POST", headers, body: JSON.stringify(batch) });
  return r.json();
}

const SESSION = randomUUID();


/** The query API's answer, asked from the signed-in page. */
export function api(page, path) {
  return page.evaluate(async (p) => {
    const r = await fetch(`/api/${p}`);
    if (!r.ok) throw new Error(`${p}: ${r.status} ${await r.text()}`);
    return r.json();
  }, path);
}

/** The dates of the last `days` days, UTC (the demo site's time zone). */
export function lastDays(days) {
  const today = new Date().toISOString().slice(0, 10);
  const d = new Date(`${today}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() - (days - 1));
  return { from: d.toISOString().slice(0, 10), to: today };
}

const axePath = join(dirname(fileURLToPath(import.meta.url)), "..", "node_modules", "axe-core", "axe.min.js");

/** axe-core finds no violation in what `selector` holds (the whole app by default), and no id is used twice. */
export async function assertAccessible(page, selector = "#app") {
  // Evaluated rather than added as a script tag: the dashboard's CSP refuses inline scripts.
  if (!(await page.evaluate(() => Boolean(window.axe)))) await page.evaluate(readFileSync(axePath, "utf8"));
  const violations = await page.evaluate(async (s) => {
    const result = await window.axe.run(document.querySelector(s));
    return result.violations.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).slice(0, 3).join(", ")})`);
  }, selector);
  assert.deepEqual(violations, [], `axe-core in ${selector}`);
  // axe-core no longer checks this itself: one id, one element.
  const duplicated = await page.evaluate(() => {
    const ids = [...document.querySelectorAll("[id]")].map((e) => e.id);
    return ids.filter((id, i) => ids.indexOf(id) !== i);
  });
  assert.deepEqual(duplicated, [], "ids used twice");
}
