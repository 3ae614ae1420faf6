// Shared by the dashboard tests: a collector with a known admin password,
// signing in through the form, and sending events as a tracked page would
// (a script's POST, with no Origin: accepted by a site that lists none).
import { randomUUID } from "node:crypto";
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
}

/** Posts one batch to the collector, like the SDK does; returns the answer. */
export async function send(url, events, site = "demo") {
  const now = Date.now();
  const batch = {
    site,
    sent_at: now,
    events: events.map((e) => ({ id: randomUUID(), ts: now, session_id: e.session ?? SESSION, url: "https://demo.example/", ...e })),
  };
  const r = await fetch(url + "/api/collect", { method: "POST", headers: { "content-type": "text/plain" }, body: JSON.stringify(batch) });
  return r.json();
}

const SESSION = randomUUID();

