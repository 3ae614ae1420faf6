// Shared by the dashboard tests: a collector with a known admin password,
// signing in through the form, and sending events as a tracked page would.
import { randomUUID } from "node:crypto";
import { startCollector } from "./harness.mjs";

export const PASSWORD = "e2e-admin-password";

export function startDashboardCollector() {
  process.env.WAYMARK_DASHBOARD__ADMIN_PASSWORD = PASSWORD;
  return startCollector();
}

export async function signIn(page, url) {
  await page.goto(url + "/dashboard/");
  await page.fill("input[name=password]", PASSWORD);
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

