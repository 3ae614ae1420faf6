// The browser edge of the SDK: the page events, timers, storage, cookies,
// requests and console output that the Rust side (`src/web/`) reaches
// through these named functions. Written in JS because every browser API
// reached from Wasm costs bytes twice (a wasm-bindgen shim on each side);
// here each is one line. These functions only perform and report: what to
// store, send, retry, arm or log, which clicks count and what a cookie's
// attributes are is decided in Rust (`src/core/`). Nothing here throws
// into the page.
//
// The Wasm module's exports the callbacks (events, timers, answers) call,
// as js/index.js wraps them: handed over through `connect` before start.
let sdk;
export function connect(exports) {
  sdk = exports;
}

const w = globalThis;
const d = w.document;
const n = w.navigator;
const guard = (f) => {
  try {
    return f();
  } catch {}
};

/** Page events: single-page navigations, back-forward-cache restores,
 * visibility, page exit and (with `clicks`) clicks on links. */
export function listen(clicks) {
  const history = w.history;
  for (const method of ["pushState", "replaceState"]) {
    const original = history[method];
    // The original runs first and its result is returned.
    history[method] = function () {
      const result = original.apply(this, arguments);
      sdk.navigated(false);
      return result;
    };
  }
  const on = (target, type, handler, capture) => target.addEventListener(type, handler, capture);
  on(w, "popstate", () => sdk.navigated(false));
  on(w, "hashchange", () => sdk.navigated(false));
  on(w, "pageshow", (e) => {
    if (e.persisted) {
      sdk.shown();
      sdk.navigated(true);
    }
  });
  on(w, "pagehide", () => sdk.hidden());
  on(d, "visibilitychange", () => (d.visibilityState == "hidden" ? sdk.hidden() : sdk.shown()));
  if (clicks) {
    on(d, "click", (e) => {
      const href = e.target?.closest?.("a[href]")?.href;
      if (href) sdk.linkClicked(href);
    }, true);
  }
}

/** Calls `sdk.turnEnded()` in a task of its own. */
export const endTurnSoon = () => setTimeout(() => sdk.turnEnded());

/** Calls `sdk.flushTimerFired()` after `delayMs`, replacing the armed timer. */
let flushTimer;
export function armFlushTimer(delayMs) {
  clearTimeout(flushTimer);
  flushTimer = setTimeout(() => sdk.flushTimerFired(), delayMs);
}

export const now = Date.now;
/** The page's URL (`location.href`), as `document.URL` gives it faster. */
export const href = () => d.URL;
export const referrer = () => d.referrer;
export const title = () => d.title;
export const pageHidden = () => d.visibilityState == "hidden";
/** The browser's CSPRNG, filling the bytes it is given. */
export const fillRandom = (bytes) => void w.crypto.getRandomValues(bytes);
export const globalPrivacyControl = () => !!n.globalPrivacyControl;
/** `navigator.doNotTrack` as the browser has it; the SDK decides what it means. */
export const doNotTrack = () => String(n.doNotTrack ?? w.doNotTrack);

/** The consent state the `consent` export hands back (see src/web/mod.rs). */
let consentState = "";
export const consentIs = (state) => void (consentState = state);
export const consentAnswer = () => consentState;

export const log = (error, message) => console[error ? "error" : "log"]("waymark:", message);

// Storage. Browsers may refuse it (private modes, quotas, blocked
// third-party frames): every failure reads as "absent" and writes are
// dropped.
export const localGet = (key) => guard(() => w.localStorage.getItem(key) ?? undefined);
export const localSet = (key, value) => guard(() => w.localStorage.setItem(key, value));
export const localRemove = (key) => guard(() => w.localStorage.removeItem(key));

/** The URI-decoded value of the cookie `name`, if set. */
export function readCookie(name) {
  return guard(() => {
    const found = d.cookie.split(";").map((c) => c.trimStart()).find((c) => c.startsWith(name + "="));
    return found === undefined ? undefined : decodeURIComponent(found.slice(name.length + 1));
  });
}

/** `document.cookie = name=value` (URI-encoded) with `attributes` as given. */
export const writeCookie = (name, value, attributes) => guard(() => (d.cookie = name + "=" + encodeURIComponent(value) + attributes));

/** `Retry-After` (delta seconds, or an HTTP date read by the browser's
 * date parser) in ms from `nowMs`; -1 without a readable one. */
export const retryAfterMs = (value, nowMs) =>
  value == null ? -1 : /^\s*\d+\s*$/.test(value) ? value * 1000 : Math.max(0, Date.parse(value) - nowMs) || -1;

/** `fetch` with `keepalive` and a string body, which the browser sends as
 * `text/plain`: no CORS preflight, and the request outlives the page. With
 * the page's cookies, as a beacon has them: a collector on the site's own
 * subdomain may keep the ids in a cookie of its own.
 * Resolves to the status, `Retry-After` in ms (-1 without one) and the
 * answer's JSON (`{}` when it has none), or rejects on a network error. */
export function post(endpoint, body) {
  return fetch(endpoint, { method: "POST", body, keepalive: true, credentials: "include" }).then((r) =>
    r.json().catch(() => ({})).then((answer) => [r.status, retryAfterMs(r.headers.get("retry-after"), Date.now()), answer]),
  );
}

/** Sends a batch and reports the answer: `sdk.answered(status, retryAfter,
 * timeoutMs, maxMs, rejected, ids)`: status 0 for a network error; the
 * site's session rule, or zeros; each event the collector rejected as an
 * `id: message` line; the ids the collector's id cookie restored, as
 * `visitor session`, or empty. `false` when the request could not start. */
export function send(endpoint, body) {
  return !!guard(() => {
    post(endpoint, body).then(
      ([status, retryAfter, answer]) => {
        const rule = answer?.session;
        const rejected = (answer?.results ?? []).filter((r) => r.outcome == "rejected").map((r) => r.id + ": " + r.message);
        const ids = answer?.ids;
        sdk.answered(status, retryAfter, rule?.timeout_ms ?? 0, rule?.max_ms ?? 0, rejected.join("\n"), ids ? ids.visitor_id + " " + (ids.session_id ?? "") : "");
      },
      () => sdk.answered(0, -1, 0, 0, "", ""),
    );
    return true;
  });
}

/** `navigator.sendBeacon`; `false` when the browser refused it (too
 * large, or its quota is used up). */
export const beacon = (endpoint, body) => !!guard(() => n.sendBeacon(endpoint, body));

/** `fetch` with `keepalive` as the page goes; its answer is not awaited. */
export const sendUnanswered = (endpoint, body) => guard(() => post(endpoint, body).catch(() => {}));
