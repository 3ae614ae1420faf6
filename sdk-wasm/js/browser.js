// The browser edge of the SDK: the page events, timers, storage, cookies,
// requests and console output that the Rust side (`src/web/`) reaches
// through these functions. Written in JS because every browser API reached
// from Wasm costs bytes twice (a wasm-bindgen shim on each side); here each
// is one line. No policy here: what to store, send, retry or log is
// decided in Rust. Nothing here throws into the page.
//
// The Wasm module's exports the callbacks (events, timers, answers) call,
// as js/index.js wraps them: handed over through `connect` before start.
let sdk;
export function connect(exports) {
  sdk = exports;
}

const w = globalThis;
const d = w.document;

/** Page events: single-page navigations, back-forward-cache restores,
 * visibility, page exit and (if switched on) clicks on outbound links and
 * on downloads. */
export function listen(outbound, downloads) {
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
  if (outbound || downloads) {
    on(d, "click", (e) => {
      const href = e.target?.closest?.("a[href]")?.href;
      const kind = linkKind(href, location.host, outbound, downloads);
      if (kind >= 0) sdk.linkClicked(kind, href);
    }, true);
  }
}

/** File extensions whose links count as downloads. */
const download = /\.(pdf|zip|gz|tgz|rar|7z|dmg|exe|msi|pkg|deb|rpm|apk|iso|csv|xlsx|xls|docx|doc|pptx|txt|mp3|mp4|epub)$/i;

/** A link to a file is a download (1), a link to another host outbound
 * (0), each if switched on; anything else (other schemes too) -1. */
export function linkKind(href, pageHost, outbound, downloads) {
  const url = /^https?:\/\//.test(href) && new URL(href);
  if (!url) return -1;
  if (downloads && download.test(url.pathname)) return 1;
  return outbound && url.host.toLowerCase() != pageHost.toLowerCase() ? 0 : -1;
}

/** Calls `sdk.wake(timer)` after `delayMs`, replacing that timer if armed. */
const timers = [];
export function schedule(timer, delayMs) {
  clearTimeout(timers[timer]);
  timers[timer] = setTimeout(() => sdk.wake(timer), delayMs);
}

/** The page's URL (`location.href`), as `document.URL` gives it faster. */
export const href = () => d.URL;
export const referrer = () => d.referrer;
export const title = () => d.title;
export const pageHidden = () => d.visibilityState == "hidden";
/** Global Privacy Control or Do Not Track. */
export const privacySignal = () => {
  const n = w.navigator;
  return !!n.globalPrivacyControl || n.doNotTrack == "1" || w.doNotTrack == "1";
};

const levels = ["log", "warn", "error"];
export function log(level, message) {
  console[levels[level]]("waymark:", message);
}

// Storage: `localStorage` (0), first-party cookies (1) or the page's
// memory (2, storage mode `none`). Browsers may refuse storage (private
// modes, quotas, blocked third-party frames): every failure reads as
// "absent" and writes are dropped.
const memory = new Map();
const guard = (f) => {
  try {
    return f();
  } catch {}
};

/** `; Secure; Domain=…` and the lifetime, as configured by `useCookies`. */
let cookieScope = "";
let cookieLifetimeS = 0;
export function useCookies(domain, days) {
  cookieScope = (location.protocol == "https:" ? "; Secure" : "") + (domain ? "; Domain=" + domain : "");
  cookieLifetimeS = days * 86400;
}

/** `name=value; Path=/; SameSite=Lax; Max-Age=…; Secure; Domain=…`: keys
 * become cookie names with `_` for `.`; values are URI-encoded. */
export function cookie(key, value, maxAgeS) {
  return key.replaceAll(".", "_") + "=" + encodeURIComponent(value) + "; Path=/; SameSite=Lax; Max-Age=" + maxAgeS + cookieScope;
}

export function storeGet(kind, key) {
  return guard(() => {
    if (kind > 1) return memory.get(key);
    if (!kind) return w.localStorage.getItem(key) ?? undefined;
    const name = key.replaceAll(".", "_") + "=";
    const found = d.cookie.split(";").map((c) => c.trimStart()).find((c) => c.startsWith(name));
    return found === undefined ? undefined : decodeURIComponent(found.slice(name.length));
  });
}

export function storeSet(kind, key, value) {
  guard(() => (kind > 1 ? memory.set(key, value) : kind ? (d.cookie = cookie(key, value, cookieLifetimeS)) : w.localStorage.setItem(key, value)));
}

export function storeRemove(kind, key) {
  guard(() => (kind > 1 ? memory.delete(key) : kind ? (d.cookie = cookie(key, "", 0)) : w.localStorage.removeItem(key)));
}

/** `fetch` with `keepalive` and a string body, which the browser sends as
 * `text/plain`: no CORS preflight, and the request outlives the page.
 * Resolves to the status and `Retry-After`, or rejects on a network error. */
export function post(endpoint, body) {
  return fetch(endpoint, { method: "POST", body, keepalive: true }).then((r) => [r.status, r.headers.get("retry-after") ?? undefined, r]);
}

/** Sends a batch and reports the answer to `sdk.answered(status,
 * retryAfter)`, status 0 for a network error; in debug mode names each
 * event the collector rejected. `false` when the request could not start. */
export function send(endpoint, body, debug) {
  return !!guard(() => {
    post(endpoint, body).then(
      ([status, retryAfter, response]) => {
        sdk.answered(status, retryAfter);
        if (debug && status == 200) {
          response.json().then((answer) => {
            for (const r of answer.results ?? []) {
              if (r.outcome == "rejected") log(1, "the collector rejected event " + r.id + ": " + r.message);
            }
          }, () => {});
        }
      },
      () => sdk.answered(0),
    );
    return true;
  });
}

/** As the page is hidden: `navigator.sendBeacon`, or `fetch` with
 * `keepalive` when the browser refuses the beacon (too large, or its
 * quota is used up). Acknowledgements are not awaited. */
export function sendOnHide(endpoint, body) {
  if (!beacon(endpoint, body)) guard(() => post(endpoint, body).catch(() => {}));
}

/** `navigator.sendBeacon`; `false` when the browser refused it. */
export const beacon = (endpoint, body) => !!guard(() => navigator.sendBeacon(endpoint, body));
