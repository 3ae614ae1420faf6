// The SDK's public module: `init`, `track` and the rest, over the Wasm
// module's exports. `cargo xtask build-sdk` bundles it with wasm-bindgen's
// glue and `browser.js` into `sdk/waymark_sdk.js`, which both the script
// tag's loader (`/waymark.js`) and the npm package load. It loads the Wasm
// once, queues calls made before it is ready, and never throws into the
// page (errors go to the console).
//
// One queue holds the calls made before the SDK runs: `[name, a, b]`, as
// the loader's `waymark(name, a, b)` stub collects them, which `init`
// takes over (the loader hands its own array in), so that the loader and
// this module never keep two.
//
// The consent banner is its own module (`consent-banner.js`, next to this
// one), imported only when `consentBanner` is on, so that a site without
// it downloads none of it; its options never reach the Wasm config.
//
// Only strings, numbers and booleans cross into Wasm. The glue's exports
// are used by name, never as a namespace value, so that the bundle leaves
// out what is unused. The Wasm is instantiated here, from the glue's
// import object (the bundle script exports it), not by wasm-bindgen's own
// loader, whose fallbacks for old call styles every page would download.
import { __wbg_get_imports as imports, __wbg_finalize_init as started } from "./waymark_sdk.js";
import * as wasm from "./waymark_sdk.js";
import { connect, consentAnswer } from "./browser.js";

const nextTask = () => new Promise((resolve) => setTimeout(resolve));
const text = (value) => (typeof value == "string" ? value : "");

let ready = null;
/** The banner's `open`, once it is loaded (when switched on). */
let banner;
let running = false;
let waiting = [];

function attempt(name, f, args) {
  try {
    return f(...args);
  } catch (error) {
    console.error(`waymark: ${name}() failed`, error);
    return undefined;
  }
}

// Once running, track() only queues the event's name, a copy of its
// properties (a plain object's, as they are now), time and page; one
// microtask per burst (or any other call into the SDK, first) hands them
// to Wasm, so that a call never crosses into it.
const queued = [];
function drain() {
  const calls = queued.splice(0);
  for (let i = 0; i < calls.length; i += 4) attempt("track", wasm.trackAt, [text(calls[i]), json(calls[i + 1]), calls[i + 2], calls[i + 3]]);
}
/** Properties as they travel; empty for none, and something other than
 * an object (which the SDK reports) when they cannot be serialized. */
function json(props) {
  try {
    return props == null ? "" : JSON.stringify(props) ?? "?";
  } catch {
    return "?";
  }
}
const own = (props) => {
  const proto = props && typeof props == "object" ? Object.getPrototypeOf(props) : 0;
  return proto === Object.prototype || proto === null ? { ...props } : props;
};

/** A public call: run now (after the tracked events before it) if the SDK
 * runs, else queued as `[name, a, b]` until it does. */
const api = {};
const when = (name, f) =>
  (api[name] = (a, b) => (running ? (drain(), attempt(name, f, [a, b])) : void waiting.push([name, a, b])));

/** An on/off option as given: `data-debug` with no value (`""`) is on,
 * as HTML attributes are; the Wasm config checks the value itself. */
const switchedOn = (value) => value != null && `${value}` != "false";

/** The consent banner's options, which are not the Wasm config's. */
const bannerOption = /^consent(Banner|Policy|Accept|Reject|Settings)/;
/** `init` options as the `data-*` attributes have them: strings, each key
 * and value followed by a NUL. */
const options = (given) =>
  Object.entries(given)
    .filter(([key, value]) => value != null && !bannerOption.test(key))
    .map(([key, value]) => `${key}\0${typeof value == "object" || typeof value == "function" ? "(not a string, number or boolean)" : value}\0`)
    .join("");

/** Starts Waymark; resolves once the SDK runs. Call once per page.
 * `calls` (the loader's) are calls made before, as `[name, a, b]`. */
export function init(given, calls) {
  if (ready) {
    console.error("waymark: init() runs once per page");
    return ready;
  }
  if (Array.isArray(calls)) {
    calls.push(...waiting);
    waiting = calls;
  }
  given = given && typeof given == "object" ? given : {};
  // `data-consent-banner` with no value is "": on. `?no-inline` keeps
  // bundlers (Vite inlines small assets) from putting the banner into
  // every app's own bundle; servers ignore it.
  if (switchedOn(given.consentBanner))
    banner = import(new URL("consent-banner.js?no-inline", import.meta.url)).then(
      (m) => m.mount(api, given),
      (error) => console.error("waymark: could not load consent-banner.js", error),
    );
  // Debug output, link autocapture and ids kept in cookies live in a
  // module of their own (see sdk-wasm/Cargo.toml), which only the pages
  // that switch one on download, in place of the smaller one. Each URL is
  // written out whole, for bundlers to find both files.
  const url = ["debug", "outboundLinks", "fileDownloads"].some((key) => switchedOn(given[key])) || `${given.storage}`.trim() == "cookie"
    ? new URL("waymark_sdk_extras_bg.wasm", import.meta.url)
    : new URL("waymark_sdk_bg.wasm", import.meta.url);
  ready = WebAssembly.instantiateStreaming(fetch(url), imports())
    // A server that does not say `application/wasm`: from the bytes.
    .catch(() => fetch(url).then((r) => r.arrayBuffer()).then((bytes) => WebAssembly.instantiate(bytes, imports())))
    .then((r) => started(r.instance, r.module))
    // Instantiating, starting (whose first pageview comes in a task of its
    // own) and replaying the calls made meanwhile each run in their own
    // task, so that none makes a long task on the page's main thread.
    .then(nextTask)
    .then(() => {
      // What page events, timers and answers call back into.
      const back = (name, f) => (...args) => (drain(), attempt(name, f, args));
      connect({
        navigated: back("navigated", wasm.navigated),
        hidden: back("hidden", wasm.hidden),
        shown: back("shown", wasm.shown),
        linkClicked: back("linkClicked", wasm.linkClicked),
        turnEnded: back("turnEnded", wasm.turnEnded),
        flushTimerFired: back("flushTimerFired", wasm.flushTimerFired),
        answered: back("answered", wasm.answered),
      });
      attempt("start", wasm.start, [options(given)]);
    })
    .then(nextTask)
    .then(() => {
      running = true;
      // An unknown name fails like any call, with its name in the console.
      for (const [name, a, b] of waiting.splice(0)) attempt(name, api[name], [a, b]);
    })
    .catch((error) => console.error("waymark: could not load the SDK", error));
  return ready;
}

export function track(name, props) {
  if (!running) return void waiting.push(["track", name, props]);
  if (!queued.length) queueMicrotask(drain);
  // `document.URL` is `location.href`, read in a fifth of the time.
  queued.push(name, own(props), Date.now(), document.URL);
}
api.track = track;

// Consent: the SDK says whether a decision changed the state; the
// listeners are told here, outside Wasm (they may call back into it).
const listeners = [];
function tell(listener, state) {
  try {
    listener("analytics", state);
  } catch (error) {
    console.error("waymark: an onConsent() listener failed", error);
  }
}
const decide = (name, state, f) => when(name, (category) => void (f(text(category)) && listeners.forEach((l) => tell(l, state))));

export const page = when("page", () => void wasm.page());
export const identify = when("identify", (userId) => void wasm.identify(text(userId)));
export const reset = when("reset", () => void wasm.reset());
export const grant = decide("grant", "granted", wasm.grant);
export const deny = decide("deny", "denied", wasm.deny);
const stateOf = (category) => (wasm.consent(category), consentAnswer());
export const consent = when("consent", (category) => stateOf(text(category)));
/** Calls `listener(category, state)` now with the current state, and again
 * on every change: a consent banner shows itself on `"pending"`. */
export const onConsent = when("onConsent", (listener) => {
  if (typeof listener != "function") return void console.error("waymark: onConsent() needs a function");
  listeners.push(listener);
  const state = stateOf("");
  if (state) tell(listener, state);
});
export const flush = when("flush", () => void wasm.flush());
/** Opens the consent banner again (with `consentBanner` on), for the
 * visitor to change their choice. */
export const consentSettings = when("consentSettings", () =>
  banner ? void banner.then((open) => open?.()) : console.error("waymark: consentSettings() needs consentBanner on"));
