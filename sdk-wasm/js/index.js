// The SDK's public module: `init`, `track` and the rest, over the Wasm
// module's exports. `cargo xtask build-sdk` bundles it with wasm-bindgen's
// glue and `browser.js` into `sdk/waymark_sdk.js`, which both the script
// tag's loader (`/waymark.js`) and the npm package load. It loads the Wasm
// once, queues calls made before it is ready, and never throws into the
// page (errors go to the console).
//
// The glue's exports are imported by name, never as a namespace, so that
// the bundle leaves out what is unused.
import load, * as wasm from "./waymark_sdk.js";
import { answered, hidden, linkClicked, navigated, shown, wake } from "./waymark_sdk.js";

const nextTask = () => new Promise((resolve) => setTimeout(resolve));

let ready = null;
let running = false;
const waiting = [];

/** Runs the export `name` now if the SDK runs, else once it does. */
function call(name, f, args) {
  if (!running) {
    waiting.push([name, f, args]);
    return undefined;
  }
  try {
    return f(...args);
  } catch (error) {
    console.error(`waymark: ${name}() failed`, error);
    return undefined;
  }
}

// Once running, track() only queues the event's name, a copy of its
// properties (a plain object's, as they are now), time and page; one
// microtask per burst (or the SDK itself, before any other work) hands
// them to Wasm, so that a call never crosses into it.
const queued = [];
const drain = () => {
  const calls = queued.splice(0);
  for (let i = 0; i < calls.length; i += 4) {
    const name = calls[i];
    call("track", wasm.trackAt, [typeof name == "string" ? name : "", json(calls[i + 1]), calls[i + 2], calls[i + 3]]);
  }
};
/** Properties as they travel; empty for none, and something other than
 * an object (which the SDK reports) when they cannot be serialized. */
const json = (props) => {
  try {
    return props == null ? "" : JSON.stringify(props) ?? "?";
  } catch {
    return "?";
  }
};
const own = (props) => {
  const proto = props && typeof props == "object" ? Object.getPrototypeOf(props) : 0;
  return proto === Object.prototype || proto === null ? { ...props } : props;
};

/** `init` options as the `data-*` attributes have them: strings, each key
 * and value followed by a NUL. */
const text = (options) =>
  Object.entries(options && typeof options == "object" ? options : {})
    .filter(([, value]) => value != null)
    .map(([key, value]) => `${key}\0${typeof value == "object" || typeof value == "function" ? "(not a string, number or boolean)" : value}\0`)
    .join("");

/** Starts Waymark; resolves once the SDK runs. Call once per page. */
export function init(options) {
  if (ready) {
    console.error("waymark: init() runs once per page");
    return ready;
  }
  ready = load({ module_or_path: new URL("waymark_sdk_bg.wasm", import.meta.url) })
    // Instantiating, starting (whose first pageview comes in a task of its
    // own) and replaying the calls made meanwhile each run in their own
    // task, so that none makes a long task on the page's main thread.
    .then(nextTask)
    .then(() => {
      try {
        wasm.useQueue(drain);
        // What page events, timers and answers call back into.
        wasm.start(text(options), { navigated, hidden, shown, linkClicked, wake, answered });
      } catch (error) {
        console.error("waymark: start() failed", error);
      }
    })
    .then(nextTask)
    .then(() => {
      running = true;
      for (const [name, f, args] of waiting.splice(0)) call(name, f, args);
    })
    .catch((error) => console.error("waymark: could not load the SDK", error));
  return ready;
}

export function track(name, props) {
  if (!running) return void waiting.push(["track", track, [name, props]]);
  if (!queued.length) queueMicrotask(drain);
  queued.push(name, own(props), Date.now(), location.href);
}
export const page = () => void call("page", wasm.page, []);
export const identify = (userId) => void call("identify", wasm.identify, [userId]);
export const reset = () => void call("reset", wasm.reset, []);
export const grant = (category) => void call("grant", wasm.grant, [category]);
export const deny = (category) => void call("deny", wasm.deny, [category]);
export const consent = (category) => call("consent", wasm.consent, [category]);
export const onConsent = (listener) => void call("onConsent", wasm.onConsent, [listener]);
export const flush = () => void call("flush", wasm.flush, []);
