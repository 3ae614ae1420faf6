// The dashboard in Chromium: sign-in, the live view as a visit arrives, the
// installation checker, and tracked text shown as text.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { openCollectorAndBrowser, closeCollectorAndBrowser, eventually } from "./harness.mjs";
import { startDashboardCollector, signIn, send } from "./dashboard_harness.mjs";

let collector, browser;
before(async () => ({ collector, browser } = await openCollectorAndBrowser(startDashboardCollector)));
after(() => closeCollectorAndBrowser({ collector, browser }));

test("a wrong password is refused and the right one sets a strict, secure, http-only session cookie", async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(collector.url + "/dashboard/");
  await page.fill("input[name=password]", "not it");
  await page.click("#sign-in-form button[type=submit]");
  await eventually(async () => assert.equal(await page.textContent("#sign-in-error"), "the name or password is not right"));
  assert.equal(await page.isVisible("#app"), false);

  await signIn(page, collector.url);
  const [cookie] = await context.cookies();
  assert.equal(cookie.name, "waymark_session");
  // Chromium keeps a Secure cookie from http://127.0.0.1: loopback counts as a secure origin.
  assert.deepEqual([cookie.httpOnly, cookie.secure, cookie.sameSite], [true, true, "Strict"]);
  assert.equal(await page.evaluate(() => document.cookie), "", "scripts cannot read the session");
  await context.close();
});

test("a visit to the demo page arrives in the live view and the counter counts its visitor", async () => {
  const context = await browser.newContext();
  const dashboard = await context.newPage();
  await signIn(dashboard, collector.url);
  await dashboard.click("button[data-tab=live]");
  const before = Number(await dashboard.textContent("#live-visitors"));

  const visitor = await browser.newContext();
  const demo = await visitor.newPage();
  await demo.goto(collector.url + "/");

  await dashboard.waitForSelector("#live-stream tr[data-name='$pageview']");
  assert.equal(await dashboard.textContent("#live-stream tr td.event-name"), "$pageview");
  await eventually(async () => assert.equal(Number(await dashboard.textContent("#live-visitors")), before + 1));
  await visitor.close();
  await context.close();
});

test("an event named like HTML is shown as text everywhere and runs no script", async () => {
  const name = "<img src=x onerror=alert(1)>";
  const context = await browser.newContext();
  const page = await context.newPage();
  const dialogs = [];
  page.on("dialog", (d) => { dialogs.push(d.message()); d.dismiss(); });
  await signIn(page, collector.url);
  await page.click("button[data-tab=check]");
  await page.waitForFunction(() => document.querySelector("#snippet").textContent !== "");

  const answer = await send(collector.url, [{ name, url: "https://demo.example/<b>bold</b>", props: { note: "<script>alert(2)</script>" } }, { name: "" }]);
  assert.equal(answer.accepted, 1);

  await page.waitForSelector("#check-log li.stored");
  const stored = await page.textContent("#check-log li.stored strong");
  assert.equal(stored, name);
  assert.match(await page.textContent("#check-log li.stored dl"), /<script>alert\(2\)<\/script>/);
  const refused = await page.textContent("#check-log li.rejected");
  assert.match(refused, /Refused \(name_empty\): event 1: `name` is empty/);

  await page.click("button[data-tab=live]");
  assert.equal(await page.textContent("#live-stream tr td.event-name"), name);

  await page.click("button[data-tab=overview]");
  const cell = page.locator("#panels td", { hasText: name });
  await cell.waitFor();
  assert.equal(await cell.textContent(), name);

  assert.equal(await page.locator("main img, main script, main b").count(), 0, "no element was made from tracked text");
  assert.deepEqual(dialogs, []);
  await context.close();
});
