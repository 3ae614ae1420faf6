// The npm package as an app developer uses it: `npm install` the packed
// tarball into a tiny Vite app, `vite build` it, serve the build, and run
// it in Chromium against the real collector. The app is on an origin of
// its own, which the site lists in `allowed_origins` (a site that lists
// none takes only the collector's own pages).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, existsSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join, dirname, extname, normalize } from "node:path";
import { fileURLToPath } from "node:url";
import { startCollector, launchChromium, eventually } from "./harness.mjs";

const tests = join(dirname(fileURLToPath(import.meta.url)), "..");
const packed = join(tests, "..", "target", "npm");

let collector, browser, app, server;
before(async () => {
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await collector?.stop();
  server?.close();
  if (app) rmSync(app, { recursive: true, force: true });
});

/** A static file server for the built app, on a free port. */
function serve(root) {
  const types = { ".html": "text/html", ".js": "text/javascript", ".wasm": "application/wasm" };
  server = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url, "http://x").pathname)).replace(/^(\.\.[/\\])+/, "");
    const file = join(root, path.endsWith("/") ? path + "index.html" : path);
    if (!file.startsWith(root) || !existsSync(file)) return res.writeHead(404).end();
    res.writeHead(200, { "content-type": types[extname(file)] ?? "application/octet-stream" }).end(readFileSync(file));
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(`http://127.0.0.1:${server.address().port}`)));
}

test("a Vite app built against the packed npm package tracks into the collector", async () => {
  const tarballs = existsSync(packed) ? readdirSync(packed).filter((f) => f.endsWith(".tgz")) : [];
  assert.equal(tarballs.length, 1, `one packed tarball in ${packed} (run \`cargo xtask build-sdk\`)`);

  app = mkdtempSync(join(tmpdir(), "waymark-vite-"));
  cpSync(join(tests, "vite-app"), app, { recursive: true });
  execFileSync("npm", ["install", "--no-save", "--offline", "--no-audit", "--no-fund", "--silent", join(packed, tarballs[0])], { cwd: app, stdio: "inherit" });
  execFileSync(process.execPath, [join(tests, "node_modules", "vite", "bin", "vite.js"), "build", "--logLevel", "warn"], { cwd: app, stdio: "inherit" });
  const assets = readdirSync(join(app, "dist", "assets"));
  assert.ok(assets.some((f) => f.endsWith(".wasm")), `the .wasm is emitted as an asset: ${assets}`);

  const url = await serve(join(app, "dist"));
  const config = join(app, "waymark.toml");
  writeFileSync(config, `headless_browsers_are_bots = false\n[[site]]\nkey = "demo"\nallowed_origins = ["${url}"]\n`);
  collector = await startCollector(["--config", config]);
  const page = await browser.newPage();
  const errors = [];
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  await page.goto(`${url}/?collector=${encodeURIComponent(collector.url)}`);
  await page.locator("#status", { hasText: "ready, analytics granted" }).waitFor();
  const rows = await eventually(
    () => collector.query("SELECT name, props, client_session_id FROM events ORDER BY name"),
    (r) => r.length >= 2,
    "the pageview and the queued custom event",
  );
  assert.deepEqual(rows.map((r) => [r.name, JSON.parse(r.props)]), [["$pageview", {}], ["vite_app_loaded", { bundler: "vite" }]]);
  assert.equal(rows[0].client_session_id, rows[1].client_session_id);
  assert.deepEqual(errors, []);
  await page.close();

  // The consent banner ships in the package and the bundler emits it too.
  assert.ok(assets.some((f) => f.startsWith("consent-banner") && f.endsWith(".js")), `the consent banner is emitted as an asset: ${assets}`);
  const asked = await browser.newPage();
  asked.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  await asked.goto(`${url}/?banner&collector=${encodeURIComponent(collector.url)}`);
  await asked.locator("#status", { hasText: "ready, analytics pending" }).waitFor();
  await asked.getByRole("button", { name: "Yes" }).click();
  await asked.locator("#status", { hasText: "ready, analytics granted" }).waitFor();
  assert.deepEqual(errors, []);
  await asked.close();
});
