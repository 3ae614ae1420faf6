// Several dashboard users: an admin adds a viewer limited to one site from
// the Users view; the viewer signs in and sees only that site, and the
// collector refuses them the other one.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startCollector, launchChromium, eventually } from "./harness.mjs";
import { PASSWORD, signIn } from "./dashboard_harness.mjs";

const configDir = mkdtempSync(join(tmpdir(), "waymark-e2e-users-"));
let collector, browser;

before(async () => {
  const config = join(configDir, "waymark.toml");
  writeFileSync(config, [
    "headless_browsers_are_bots = false",
    "[[site]]", 'key = "demo"', 'name = "Demo site"',
    "[[site]]", 'key = "shop"', 'name = "The shop"',
  ].join("\n"));
  process.env.WAYMARK_DASHBOARD__ADMIN_PASSWORD = PASSWORD;
  collector = await startCollector(["--config", config]);
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await collector?.stop();
  rmSync(configDir, { recursive: true, force: true });
});

const siteOptions = (page) => page.$$eval("#site option", (options) => options.map((o) => o.textContent));

test("an admin adds a viewer limited to one site; the viewer signs in and sees only that site", async () => {
  const admin = await browser.newContext();
  const page = await admin.newPage();
  await signIn(page, collector.url);
  assert.deepEqual(await siteOptions(page), ["Demo site", "The shop"]);

  await page.getByRole("button", { name: "Users" }).click();
  await page.locator("#user-rows tr[data-user=admin]").waitFor();
  const form = page.locator("#user-form");
  await form.getByLabel("Name").fill("vi");
  await form.getByLabel("Password").fill("vi's own password");
  await form.getByLabel("Role").selectOption("viewer");
  await form.getByLabel("All sites").uncheck();
  await form.getByLabel("The shop").check();
  await form.getByRole("button", { name: "Add user" }).click();
  const row = page.locator("#user-rows tr[data-user=vi]");
  await row.waitFor();
  assert.equal(await row.locator("td").nth(2).textContent(), "The shop Change");
  assert.equal(await row.getByLabel("Role of vi").inputValue(), "viewer");

  // The sites can be changed later, from the row: give the demo too, then take it back.
  await row.getByRole("button", { name: "Change the sites of vi" }).click();
  await row.getByLabel("Demo site").check();
  await row.getByRole("button", { name: "Save" }).click();
  await eventually(async () => assert.equal(await page.locator("#user-rows tr[data-user=vi] td").nth(2).textContent(), "Demo site, The shop Change"));
  await page.locator("#user-rows tr[data-user=vi]").getByRole("button", { name: "Change the sites of vi" }).click();
  await page.locator("#user-rows tr[data-user=vi]").getByLabel("Demo site").uncheck();
  await page.locator("#user-rows tr[data-user=vi]").getByRole("button", { name: "Save" }).click();
  await eventually(async () => assert.equal(await page.locator("#user-rows tr[data-user=vi] td").nth(2).textContent(), "The shop Change"));
  await admin.close();

  const viewer = await browser.newContext();
  const vpage = await viewer.newPage();
  await signIn(vpage, collector.url, { name: "vi", password: "vi's own password" });
  await eventually(async () => assert.deepEqual(await siteOptions(vpage), ["The shop"]));
  assert.equal(await vpage.locator("#users-tab").isHidden(), true, "no Users view for a viewer");
  assert.match(await vpage.locator("#signed-in-as").textContent(), /vi \(viewer\)/);
  // Goals and segments are saved by admins: a viewer sees them, not the forms.
  await vpage.click("#tabs button[data-tab=goals]");
  await vpage.locator("#goal-rows td.none").waitFor();
  assert.equal(await vpage.innerText("#goal-rows td.none"), "No goals yet");
  assert.equal(await vpage.locator("#goal-form").isHidden(), true);
  await vpage.click("#tabs button[data-tab=segments]");
  await vpage.locator("#segment-rows td.none").waitFor();
  assert.equal(await vpage.locator("#segment-form").isHidden(), true);
  const refused = await vpage.evaluate(async () => {
    const r = await fetch("/api/query/overview?site=demo");
    return [r.status, (await r.json()).error];
  });
  assert.deepEqual(refused, [403, "forbidden"]);
  await viewer.close();
});
