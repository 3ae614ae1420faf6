// Grown past one machine, end to end: two collectors and a sessionizer on a
// ClickHouse cluster of two shards (servers the collector's
// `clickhouse_server` example starts, each a child process on free ports).
// Real Chromium visits the demo site through collector A; the shop's
// backend reports purchases for the same visitors through collector B,
// resent and out of order. Every batch also goes to a collector on SQLite;
// the dashboard API's visitors, sessions, bounces and durations must be
// the same on both.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { createInterface } from "node:readline";
import { randomUUID } from "node:crypto";
import { startCollector, launchChromium, eventually } from "./harness.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const clickhouseBin = process.env.E2E_CLICKHOUSE_BIN ?? join(root, "target", "debug", "examples", "clickhouse_server");
const collectorBin = process.env.E2E_COLLECTOR_BIN ?? join(root, "target", "debug", "waymark");
const TOKEN = "e2e-cluster-token-0123456789";
const SECRET = "e2e-cluster-secret-0123456789";

let cluster, sessionizer, a, b, sqlite, browser, configDir;

/** Spawns `bin` and resolves with the child and its first line matching `pattern`. */
function startPrinting(bin, args, pattern) {
  const child = spawn(bin, args, { stdio: ["pipe", "pipe", "inherit"], env: { ...process.env, WAYMARK_LOG: "warn" } });
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout }).on("line", (line) => {
      const m = line.match(pattern);
      if (m) resolve({ child, match: m });
    });
    child.once("exit", (code) => reject(new Error(`${bin} ${args.join(" ")} exited with ${code}`)));
  });
}

function stop(child) {
  if (!child || child.exitCode !== null) return Promise.resolve();
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  return exited;
}

const site = (store) => `headless_browsers_are_bots = false
${store}
[dashboard]
api_tokens = ["${TOKEN}"]
[[site]]
key = "demo"
secret_key = "${SECRET}"
`;

before(async () => {
  cluster = await startPrinting(clickhouseBin, ["--cluster"], /^clickhouse cluster (\S+) at (.+)$/);
  const [name, urls] = [cluster.match[1], cluster.match[2].split(" ")];
  configDir = await mkdtemp(join(tmpdir(), "waymark-cluster-"));
  const database = `e2e_${randomUUID().replaceAll("-", "")}`;
  // Each collector talks to a shard of its own.
  const store = (url) => `[store]
backend = "clickhouse"
url = "${url}"
database = "${database}"
cluster = "${name}"
shards = [${urls.map((u) => `"${u}"`).join(", ")}]
sessionizer = "separate"`;
  const write = async (file, text) => (await writeFile(join(configDir, file), text), join(configDir, file));
  const [aConfig, bConfig, sqliteConfig] = await Promise.all([
    write("a.toml", site(store(urls[0]))),
    write("b.toml", site(store(urls[1]))),
    write("sqlite.toml", site("")),
  ]);
  [a, b, sqlite] = await Promise.all([aConfig, bConfig, sqliteConfig].map((c) => startCollector(["--config", c])));
  sessionizer = (await startPrinting(collectorBin, ["sessionize", "--config", aConfig], /^waymark sessionizer running/)).child;
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await Promise.all([a?.stop(), b?.stop(), sqlite?.stop()]);
  await stop(sessionizer);
  cluster?.child.stdin.end();
  await stop(cluster?.child);
  if (configDir) await rm(configDir, { recursive: true, force: true });
});

/** A page of the demo site through collector A whose batches also go,
 * byte for byte, to the collector on SQLite. */
async function visit(context) {
  const page = await context.newPage();
  await page.route("**/api/collect", async (route) => {
    const request = route.request();
    const headers = request.headers();
    await fetch(`${sqlite.url}/api/collect`, {
      method: "POST",
      headers: { "content-type": headers["content-type"] ?? "text/plain", "user-agent": headers["user-agent"] },
      body: request.postDataBuffer(),
    });
    await route.continue();
  });
  return page;
}

async function pageview(page, path) {
  const stored = page.waitForResponse((r) => r.url().endsWith("/api/collect") && r.request().method() === "POST" && r.status() === 200);
  await page.goto(a.url + path);
  await stored;
}

/** The shop's backend: to `collector`'s server endpoint, as a backend sends. */
async function fromBackend(collector, events) {
  const r = await fetch(`${collector.url}/api/server/collect`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${SECRET}` },
    body: JSON.stringify({ site: "demo", events }),
  });
  assert.equal(r.status, 200, await r.clone().text());
}

/** The dashboard's figures of today and yesterday. */
async function figures(collector) {
  const day = (ms) => new Date(ms).toISOString().slice(0, 10);
  const q = `site=demo&from=${day(Date.now() - 86_400_000)}&to=${day(Date.now())}`;
  const get = async (path) => {
    const r = await fetch(`${collector.url}${path}`, { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(r.status, 200, await r.clone().text());
    return r.json();
  };
  const overview = await get(`/api/query/overview?${q}`);
  const page = await get(`/api/query/sessions?${q}&limit=100`);
  const { visitors, sessions, bounces, pageviews, events, avg_duration_ms } = overview.current.totals;
  return {
    totals: { visitors, sessions, bounces, pageviews, events, avg_duration_ms },
    sessions: page.sessions.map((x) => [x.start_ts, x.pageviews, x.events, x.duration_ms, x.bounce, x.entry_path, x.exit_path]).sort((p, q) => p[0] - q[0]),
  };
}

/** Whether two collectors' figures agree: counts exactly, times to within
 * 2 s (each collector corrects the browser's clock by the moment it
 * received the batch: a few milliseconds apart on a quiet machine, and
 * 0.8 s apart once on a loaded one). */
function agree(seen, expected) {
  const near = (x, y) => Math.abs(x - y) <= 2_000;
  const { avg_duration_ms: d1, ...counts1 } = seen.totals;
  const { avg_duration_ms: d2, ...counts2 } = expected.totals;
  return (
    JSON.stringify(counts1) === JSON.stringify(counts2) &&
    near(d1, d2) &&
    seen.sessions.length === expected.sessions.length &&
    seen.sessions.every((s, i) => {
      const e = expected.sessions[i];
      return near(s[0], e[0]) && near(s[3], e[3]) && JSON.stringify([s[1], s[2], s[4], s[5], s[6]]) === JSON.stringify([e[1], e[2], e[4], e[5], e[6]]);
    })
  );
}

test("Chromium through one collector and a backend through the other, on two shards, count as one collector on SQLite", async () => {
  // Two visitors in Chromium: one reads two pages, one bounces.
  const reader = await browser.newContext();
  const readerPage = await visit(reader);
  await pageview(readerPage, "/");
  await pageview(readerPage, "/?page=2");
  const bouncer = await browser.newContext();
  await pageview(await visit(bouncer), "/");
  const ids = await readerPage.evaluate(() => ({
    visitor: localStorage.getItem("waymark.visitor")?.split(".")[0],
    session: localStorage.getItem("waymark.session")?.split(".")[0],
  }));
  assert.ok(ids.visitor && ids.session, JSON.stringify(ids));

  // The reader's purchase, reported by the backend to B; the same report
  // resent to A; then an earlier event of the same visit arriving last.
  const now = Date.now();
  const purchase = { id: randomUUID(), name: "purchase", ts: now, url: `${a.url}/checkout`, visitor_id: ids.visitor, session_id: ids.session };
  const earlier = { id: randomUUID(), name: "added_to_cart", ts: now - 1_000, url: `${a.url}/cart`, visitor_id: ids.visitor, session_id: ids.session };
  for (const [collector, events] of [[b, [purchase]], [a, [purchase]], [b, [earlier]]]) {
    await fromBackend(collector, events);
  }
  for (const events of [[purchase], [earlier]]) await fromBackend(sqlite, events);

  const expected = await figures(sqlite);
  assert.deepEqual(
    [expected.totals.visitors, expected.totals.sessions, expected.totals.bounces, expected.totals.pageviews],
    [2, 2, 1, 3],
    JSON.stringify(expected),
  );
  // The sessionizer reads a second of incoming rows once it is 2 s old.
  const seen = await eventually(() => figures(a), (f) => agree(f, expected), "the cluster's sessions", 30_000).catch(() => figures(a));
  assert.ok(agree(seen, expected), `collector A on the cluster against SQLite:\n${JSON.stringify(seen)}\n${JSON.stringify(expected)}`);
  const fromB = await figures(b);
  assert.ok(agree(fromB, expected), `collector B answers the same:\n${JSON.stringify(fromB)}`);
  await reader.close();
  await bouncer.close();
});
