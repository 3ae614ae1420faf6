// Waymark's built-in consent banner. Shown while analytics consent is
// `pending`, and again on `waymark("consentSettings")` or its optional
// "Privacy settings" button, it asks the visitor and hands the answer to
// the SDK's public consent API (`grant`, `deny`, `onConsent`). It decides
// nothing and stores nothing itself: the consent state machine and the one
// stored choice stay in the SDK's Rust core.
//
// Plain JS, not Rust: it is DOM from end to end, which Wasm could only
// reach through glue larger than this file. `index.js` imports it only when
// `consentBanner` is on, so a site without it downloads none of it; `cargo
// xtask build-sdk` minifies it next to the SDK (`sdk/consent-banner.js`,
// and `dist/` in the npm package).
//
// Policy for the page:
// - It never blocks the page or moves it: fixed at the bottom, over the
//   content, with no backdrop and no focus trap; its host element makes no
//   box (`display: contents`), so inserting it shifts nothing, even in a
//   flex or grid body.
// - The page's CSS cannot restyle it: everything lives in a shadow root,
//   and the host's own styles are reset inline with `!important`.
// - Accept and Reject are two real buttons of the same size and style, one
//   click (or Enter, or Space) each, in a region labelled by its text.
// - It comes first in the tab order (prepended to <body>). It takes focus
//   only when the visitor asked for it (consentSettings, the settings
//   button), and gives focus back after a choice.
// - Escape never chooses: it closes a reopened banner leaving the choice as
//   it was, and does nothing while the choice is still to be made.
// - Its one animation is off under `prefers-reduced-motion`.

const css = `
.banner {
  position: fixed; z-index: 2147483647; left: 1rem; right: 1rem; bottom: 1rem; margin: 0 auto;
  max-width: 42rem; box-sizing: border-box; padding: 1rem 1.25rem;
  display: flex; flex-wrap: wrap; align-items: center; gap: .75rem 1.5rem;
  background: #fff; color: #1a1a1a; border: 1px solid #767676; border-radius: .5rem;
  box-shadow: 0 .25rem 1.5rem rgba(0, 0, 0, .25);
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; text-align: start;
  animation: in .2s ease-out;
}
p { margin: 0; flex: 1 1 18rem; }
a { color: #0b57d0; text-decoration: underline; }
.actions { flex: 1 0 14rem; display: grid; grid-template-columns: 1fr 1fr; gap: .5rem; }
button {
  font: inherit; font-weight: 600; margin: 0; min-height: 2.75rem; padding: .5rem 1rem; cursor: pointer;
  color: #fff; background: #1a1a1a; border: 2px solid #1a1a1a; border-radius: .375rem;
}
button:hover { background: #3a3a3a; }
.settings {
  position: fixed; z-index: 2147483646; left: .5rem; bottom: .5rem; min-height: 0; padding: .25rem .5rem;
  font: 13px/1.3 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; font-weight: 400;
  color: #1a1a1a; background: #fff; border: 1px solid #767676; border-radius: .25rem; text-decoration: underline;
}
.settings:hover { background: #f0f0f0; }
:focus-visible { outline: 3px solid #0b57d0; outline-offset: 2px; }
.banner:focus { outline: none; }
.banner:focus-visible { outline: 3px solid #0b57d0; }
[hidden] { display: none !important; }
@keyframes in { from { opacity: 0; transform: translateY(.75rem); } }
@media (prefers-reduced-motion: reduce) { .banner { animation: none; } }
`;

const on = (value) => value != null && value !== false && value !== "false";
const label = (value, otherwise) => (typeof value == "string" && value && value != "true" ? value : otherwise);

/** Puts the banner on the page, driven by `waymark` (the SDK's public
 * calls) and configured by `options` (`consentBannerText` and the rest, as
 * `init` or the `data-*` attributes have them). Returns what
 * `consentSettings` calls: open the banner and move focus into it. */
export function mount(waymark, options) {
  const host = document.createElement("waymark-consent");
  host.setAttribute("style", "all: initial !important; display: contents !important");
  const root = host.attachShadow({ mode: "open" });
  root.innerHTML =
    `<style>${css}</style>` +
    '<div class="banner" role="region" aria-labelledby="text" tabindex="-1" hidden><p id="text"></p>' +
    '<div class="actions"><button type="button" value="grant"></button><button type="button" value="deny"></button></div></div>' +
    '<button type="button" class="settings" hidden></button>';
  const [banner, text, accept, reject, settings] = root.querySelectorAll(".banner, p, button");
  text.textContent = label(
    options.consentBannerText,
    "This site would like to measure its visits, keeping an anonymous id on this device, to improve itself.",
  );
  if (options.consentPolicyUrl) {
    const link = document.createElement("a");
    link.href = options.consentPolicyUrl;
    link.textContent = label(options.consentPolicyLabel, "Privacy policy");
    text.append(" ", link);
  }
  accept.textContent = label(options.consentAcceptLabel, "Accept");
  reject.textContent = label(options.consentRejectLabel, "Reject");
  const linked = on(options.consentSettingsLink);
  settings.textContent = label(options.consentSettingsLink, "Privacy settings");

  let state = "pending";
  /** Where focus was when the visitor opened the banner, to return it. */
  let back = null;

  function show(takeFocus) {
    if (takeFocus) {
      const active = root.activeElement || document.activeElement;
      if (active && active !== document.body && !banner.contains(active)) back = active;
    }
    banner.hidden = false;
    settings.hidden = true;
    if (takeFocus) banner.focus();
  }
  function close() {
    const focused = banner.contains(root.activeElement);
    banner.hidden = true;
    settings.hidden = !linked;
    const to = back?.isConnected ? back : linked && settings;
    if (focused && to) to.focus();
    back = null;
  }

  // One click each; the SDK tells the listener below when the state changed,
  // and choosing what was already chosen closes the banner all the same.
  accept.onclick = reject.onclick = (event) => {
    waymark[event.currentTarget.value]("analytics");
    close();
  };
  settings.onclick = () => show(true);
  banner.addEventListener("keydown", (event) => {
    if (event.key == "Escape" && state != "pending") close();
  });
  waymark.onConsent((category, now) => {
    state = now;
    if (now == "pending") show(false);
    else close();
  });

  (document.body || document.documentElement).prepend(host);
  return () => show(true);
}
