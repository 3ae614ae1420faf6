// Shared set-up for the end-to-end tests: a real collector on a free port
// with a fresh SQLite database, and Debian's Chromium driven by playwright-core.
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { createInterface } from "node:readline";
import { chromium } from "playwright-core";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const collectorBin = process.env.E2E_COLLECTOR_BIN ?? join(root, "target", "debug", "waymark");

/** Starts the collector; resolves once it prints where it listens. */
export async function startCollector(extraArgs = []) {
  const dataDir = mkdtempSync(join(tmpdir(), "waymark-e2e-"));
  const child = spawn(collectorBin, ["serve", "--listen", "127.0.0.1:0", "--data-dir", dataDir, ...extraArgs], {
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, WAYMARK_LOG: process.env.WAYMARK_LOG ?? "warn" },
  });
  const url = await new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    lines.on("line", (line) => {
      const m = line.match(/listening on (http:\/\/\S+)/);
      if (m) resolve(m[1]);
    });
    child.once("exit", (code) => reject(new Error(`collector exited with ${code} before listening`)));
  });
  const dbPath = join(dataDir, "waymark.db");
  return {
    url,
    dbPath,
    /** Rows from the collector's SQLite file, read as a user would with sqlite3. */
    query(sql) {
      const out = execFileSync("sqlite3", ["-json", dbPath, sql], { encoding: "utf8" });
      return out.trim() ? JSON.parse(out) : [];
    },
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        await exited;
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export const chromiumArgs = [
  "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
  "--no-first-run", "--disable-quic",
];

export function launchChromium() {
  return chromium.launch({ executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium", args: chromiumArgs });
}

/** A collector (from `start`) and Chromium for one test file's `before`. */
export async function openCollectorAndBrowser(start = startCollector) {
  return { collector: await start(), browser: await launchChromium() };
}

/** Closes what `openCollectorAndBrowser` opened, in the file's `after`. */
export async function closeCollectorAndBrowser({ collector, browser }) {
  await browser?.close();
  await collector?.stop();
}

/**
 * Polls `read` until `done(result)` holds, and resolves to that result; with
 * no `done`, until `read` stops throwing (an assertion inside it). For real
 * I/O finishing (a request reaching the collector, the page redrawing),
 * never for time passing: tests move time with Playwright's clock.
 */
export async function eventually(read, done = () => true, what = "the condition", timeoutMs = 10_000) {
  const until = Date.now() + timeoutMs;
  let last, failure;
  for (;;) {
    try {
      last = await read();
      failure = undefined;
      if (done(last)) return last;
    } catch (e) {
      failure = e;
    }
    if (Date.now() > until) throw failure ?? new Error(`timed out waiting for ${what}; last seen: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
