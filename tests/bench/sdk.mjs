// `cargo xtask bench` (SDK section): what Waymark's SDK costs a page in
// Chromium, side by side with posthog-js and @snowplow/browser-tracker
// from npm, loaded in the same browser run. Prints one JSON object.
//
// - track(): median cost of one call, from 100 samples of 100 calls each
//   (after 10 warm-up samples), each sample in its own task so the SDKs'
//   own batching runs between samples; and the same including the
//   microtasks the calls queued (work still done in the caller's task). The page is cross-origin isolated,
//   which gives performance.now() 5 µs resolution (0.05 µs per call here).
// - longest task: the longest main-thread task (Chromium trace, RunTask on
//   CrRendererMain) between the SDK's script starting and the SDK being
//   ready, counting only tasks that run script (not the page's own parsing,
//   layout or paint, nor the test driver's DevTools calls), and of the task
//   the start mark falls in only the part after the mark. Its wall time is
//   what the page waits; its thread (CPU) time is printed beside it, since
//   on a loaded machine a task's wall time also counts the time the
//   renderer waited for a core. Each run's longest task is printed with
//   what it ran (its longest trace events, with script URLs), so that an
//   outlier can be told apart from the SDK's work.
// A run whose trace lacks a mark is retried, in the same browser, and
// reported under `failures` with its run number.
// Every request the SDKs make is answered 200 by a local sink.
// WAYMARK_SDK_BENCH_RUNS (default 5), _SAMPLES (100) and _ONLY (one SDK's
// name) make quicker runs while working on it.
import { createServer } from "node:http";
import { readFileSync, existsSync } from "node:fs";
import { join, dirname, extname } from "node:path";
import { fileURLToPath } from "node:url";
import { launchChromium } from "../e2e/harness.mjs";

const tests = join(dirname(fileURLToPath(import.meta.url)), "..");
const www = join(tests, "..", "www");
const files = {
  "/waymark.js": join(www, "waymark.js"),
  "/sdk/waymark_sdk.js": join(www, "sdk", "waymark_sdk.js"),
  "/sdk/waymark_sdk_bg.wasm": join(www, "sdk", "waymark_sdk_bg.wasm"),
  "/sdk/waymark_sdk_extras_bg.wasm": join(www, "sdk", "waymark_sdk_extras_bg.wasm"),
  "/posthog.js": join(tests, "node_modules", "posthog-js", "dist", "array.js"),
  "/snowplow.js": join(tests, "node_modules", "@snowplow", "browser-tracker", "dist", "index.umd.min.js"),
};
const RUNS = Number(process.env.WAYMARK_SDK_BENCH_RUNS ?? 5);
const ONLY = process.env.WAYMARK_SDK_BENCH_ONLY;
const SAMPLES = Number(process.env.WAYMARK_SDK_BENCH_SAMPLES ?? 100);

// The driver waits for ready with one DevTools call that the page answers,
// not by polling: a polling driver's callbacks would run in the page's
// own tasks and be counted as the SDK's.
const ready = `performance.mark("sdk-ready"); window.__ready = true; window.__onReady?.();`;
const pages = {
  waymark: {
    head: `<script>window.waymark = function () { (waymark.q = waymark.q || []).push(arguments); }; waymark.q = [];
      waymark("onConsent", function () { ${ready} });</script>
      <script>performance.mark("sdk-start")</script>
      <script src="/waymark.js" data-site="bench" data-endpoint="/sink/collect"></script>`,
    track: `(i) => waymark("track", "bench_event", { i: i, plan: "pro" })`,
  },
  "posthog-js": {
    head: `<script>performance.mark("sdk-start")</script><script src="/posthog.js"></script>
      <script>posthog.init("phc_bench", { api_host: location.origin + "/sink", autocapture: false, disable_session_recording: true,
        advanced_disable_decide: true, disable_surveys: true, loaded: function () { ${ready} } });</script>`,
    track: `(i) => posthog.capture("bench_event", { i: i, plan: "pro" })`,
  },
  "@snowplow/browser-tracker": {
    head: `<script>performance.mark("sdk-start")</script><script src="/snowplow.js"></script>
      <script>snowplowBrowserTracking.newTracker("sp", location.origin + "/sink", { appId: "bench", eventMethod: "post" });
        snowplowBrowserTracking.trackPageView(); ${ready}</script>`,
    track: `(i) => snowplowBrowserTracking.trackStructEvent({ category: "bench", action: "bench_event", property: "pro", value: i })`,
  },
};

function serve() {
  const types = { ".js": "text/javascript", ".wasm": "application/wasm" };
  const server = createServer((req, res) => {
    const path = new URL(req.url, "http://x").pathname;
    const isolation = { "cross-origin-opener-policy": "same-origin", "cross-origin-embedder-policy": "require-corp" };
    if (path.startsWith("/sink")) {
      req.resume();
      return res.writeHead(200, { "content-type": "application/json", ...isolation }).end("{}");
    }
    const name = path.match(/^\/bench\/(.+)\.html$/)?.[1];
    if (name && pages[decodeURIComponent(name)]) {
      const html = `<!doctype html><html><head><meta charset="utf-8"><link rel="icon" href="data:,">${pages[decodeURIComponent(name)].head}</head><body>bench</body></html>`;
      return res.writeHead(200, { "content-type": "text/html", ...isolation }).end(html);
    }
    const file = files[path];
    if (!file || !existsSync(file)) return res.writeHead(404, isolation).end();
    res.writeHead(200, { "content-type": types[extname(file)], ...isolation }).end(readFileSync(file));
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

/** The longest RunTask on the page's renderer's main thread between the two marks, in ms. */
function longestTask(trace) {
  const events = JSON.parse(trace.toString()).traceEvents;
  const mains = new Set(events.filter((e) => e.ph === "M" && e.name === "thread_name" && e.args?.name === "CrRendererMain").map((e) => `${e.pid}:${e.tid}`));
  // Tasks the test driver causes (Playwright evaluating its own scripts over
  // the DevTools protocol) are not the SDK's.
  const devtools = events.filter((e) => e.name === "Receive mojo message" && String(e.args?.chrome_mojo_event_info?.mojo_interface_tag).includes("DevTools"));
  // Tasks without the JS engine's work in them (the page's parsing, style,
  // layout, paint) are the browser's, not the SDK's. The engine's work
  // (running, compiling, collecting garbage, compiling the Wasm) on this
  // page, which holds nothing else, is the SDK's.
  const script = events.filter((e) => ["EvaluateScript", "FunctionCall", "TimerFire", "RunMicrotasks", "MajorGC", "MinorGC"].includes(e.name) || /^v8\./i.test(e.name));
  const inside = (e, task) => e.pid === task.pid && e.tid === task.tid && e.ts >= task.ts && e.ts <= task.ts + task.dur;
  const mark = (n) => events.find((e) => e.name === n && String(e.cat).includes("blink.user_timing"));
  const start = mark("sdk-start")?.ts;
  const end = mark("sdk-ready")?.ts;
  if (start === undefined || end === undefined) {
    const lacking = [start === undefined && "sdk-start", end === undefined && "sdk-ready"].filter(Boolean).join(" and ");
    throw new Error(`the trace (${events.length} events, ${mains.size} renderer main threads) lacks the ${lacking} mark`);
  }
  // Only the page's renderer: Chromium runs its own UI (the omnibox popup's
  // WebUI) in other renderers, whose tasks are not the SDK's.
  const renderer = mark("sdk-start").pid;
  const tasks = events.filter((e) => e.ph === "X" && e.name === "RunTask" && e.pid === renderer && mains.has(`${e.pid}:${e.tid}`) && e.ts + e.dur >= start && e.ts <= end)
    .filter((task) => !devtools.some((d) => inside(d, task)))
    .filter((task) => script.some((js) => inside(js, task)));
  // The task the start mark falls in is the page's own parsing up to that
  // point: only its part from the mark on is the SDK's.
  const spans = tasks.map((e) => ({ task: e, us: e.ts + e.dur - Math.max(e.ts, start) }));
  const longest = spans.reduce((a, b) => (b.us > a.us ? b : a), { task: null, us: 0 });
  // A task's thread time (`tdur`) is the CPU its thread got: far below
  // its wall time, the renderer was waiting for a core (a loaded machine).
  return {
    longest_task_ms: longest.us / 1000,
    longest_task_cpu_ms: (longest.task?.tdur ?? 0) / 1000,
    ready_ms: (end - start) / 1000,
    longest_task_ran: longest.task ? ran(longest.task, events, inside) : "",
  };
}

/** What a task ran, for the per-run figures: its three longest script,
 * compile and GC events, each with its script's file, function or mark. */
function ran(task, events, inside) {
  const what = (e) => {
    const data = e.args?.data ?? {};
    const where = data.url || e.args?.url || data.functionName || data.stackTrace?.[0]?.url || data.type || data.name || "";
    return `${e.name}${where ? ` ${String(where).replace(/^https?:\/\/[^/]+/, "")}` : ""} ${(e.dur / 1000).toFixed(1)}ms`;
  };
  return events
    .filter((e) => e.ph === "X" && !/RunTask$/.test(e.name) && e.dur > 0 && inside(e, task))
    .sort((a, b) => b.dur - a.dur)
    .slice(0, Number(process.env.WAYMARK_SDK_BENCH_RAN ?? 4))
    .map(what)
    .join("; ");
}

async function measure(browser, origin, name) {
  const context = await browser.newContext();
  try {
    return await measureIn(context, browser, origin, name);
  } finally {
    await context.close().catch(() => {});
  }
}

async function measureIn(context, browser, origin, name) {
  const page = await context.newPage();
  await browser.startTracing(page, { categories: ["toplevel", "devtools.timeline", "v8", "disabled-by-default-devtools.timeline", "blink.user_timing"] });
  await page.goto(`${origin}/bench/${encodeURIComponent(name)}.html`);
  const waited = page.evaluate(() => window.__ready || new Promise((resolve) => (window.__onReady = resolve)));
  await Promise.race([waited, new Promise((_, reject) => setTimeout(() => reject(new Error(`${name} not ready in 30 s`)), 30_000).unref())]);
  const timing = longestTask(await browser.stopTracing());
  const isolated = await page.evaluate(() => crossOriginIsolated);
  const track = await page.evaluate(async ([source, { SAMPLES }]) => {
    const track = (0, eval)(source);
    const samples = [];
    const settled = [];
    for (let s = 0; s < SAMPLES + 10; s++) {
      const t0 = performance.now();
      for (let i = 0; i < 100; i++) track(i);
      const t1 = performance.now();
      // Work an SDK defers to a microtask (Waymark's hand-over of the
      // burst to Wasm) still runs in the caller's task: measured too.
      await Promise.resolve();
      if (s >= 10) {
        samples.push(((t1 - t0) / 100) * 1000);
        settled.push(((performance.now() - t0) / 100) * 1000);
      }
      await new Promise((r) => setTimeout(r, 0));
    }
    samples.sort((a, b) => a - b);
    settled.sort((a, b) => a - b);
    return { median_us: samples[samples.length >> 1], p90_us: samples[Math.floor(samples.length * 0.9)], settled_us: settled[settled.length >> 1] };
  }, [pages[name].track, { SAMPLES }]);
  return { ...timing, track_median_us: track.median_us, track_p90_us: track.p90_us, track_settled_us: track.settled_us, isolated };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

const server = await serve();
const origin = `http://127.0.0.1:${server.address().port}`;
let browser = await launchChromium();
const results = [];
const failures = [];
try {
  const pagesIn = new WeakMap();
  const runs = Object.fromEntries(Object.keys(pages).map((n) => [n, []]));
  // Interleaved, so that background load on the machine hits every SDK alike.
  for (let run = 0; run < RUNS; run++) {
    for (const name of Object.keys(pages)) {
      if (ONLY && ONLY !== name) continue;
      // A renderer occasionally dies under an SDK's load (snowplow keeps its
      // whole queue in localStorage); such a run is retried, then skipped.
      for (let attempt = 1; attempt <= 3; attempt++) {
        try {
          const first = pagesIn.get(browser) === undefined;
          pagesIn.set(browser, 1);
          runs[name].push({ ...(await measure(browser, origin, name)), first_in_browser: first });
          break;
        } catch (error) {
          failures.push({ name, run: run + 1, attempt, error: String(error.message ?? error).split("\n")[0] });
          if (!browser.isConnected()) browser = await launchChromium();
        }
      }
    }
  }
  for (const [name, rs] of Object.entries(runs)) {
    if (!rs.length) continue;
    results.push({
      name,
      runs: rs.length,
      isolated: rs.every((r) => r.isolated),
      track_median_us: median(rs.map((r) => r.track_median_us)),
      track_p90_us: median(rs.map((r) => r.track_p90_us)),
      track_settled_us: median(rs.map((r) => r.track_settled_us)),
      longest_task_ms: median(rs.map((r) => r.longest_task_ms)),
      longest_task_max_ms: Math.max(...rs.map((r) => r.longest_task_ms)),
      longest_task_cpu_ms: median(rs.map((r) => r.longest_task_cpu_ms)),
      ready_ms: median(rs.map((r) => r.ready_ms)),
      per_run: rs.map((r) => ({ longest_task_ms: r.longest_task_ms, cpu_ms: r.longest_task_cpu_ms, ran: r.longest_task_ran, first_in_browser: r.first_in_browser })),
    });
  }
  console.log(JSON.stringify({
    chromium: browser.isConnected() ? browser.version() : "?",
    files: { "posthog-js": files["/posthog.js"], "@snowplow/browser-tracker": files["/snowplow.js"] },
    sdks: results,
    failures,
  }));
} finally {
  await browser.close();
  server.close();
}
