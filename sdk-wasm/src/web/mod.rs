//! The browser edge: the entry points js/index.js calls (for the loader
//! and the npm package alike), and the [`Env`] the tracker decides with.
//! No policy here: every decision is the tracker's (`core`); this module
//! reads the clock and the page's facts, and performs effects through the
//! named functions of `js/browser.js` (see `browser`).
//!
//! Page events, timers and answers come back through the exports below,
//! which js/index.js wraps (it hands over queued `track()` calls before
//! any other export runs, and holds the `onConsent` listeners). Only
//! strings, numbers and booleans cross: no JS object is held here.
//!
//! Work is done in turns: an API call updates the tracker in memory, and
//! one task right after (`setTimeout(0)`) ends the turn (storage catches
//! up, the queue is sent or the flush timer armed), so a burst of
//! `track()` calls costs one storage write and none of that work
//! lengthens the caller's task. The first pageview comes in the first
//! such task after start. Nothing here throws into the host page: bad
//! input is reported with one `console.error` and ignored.

use alloc::borrow::ToOwned;
use alloc::string::String;
use alloc::vec::Vec;

mod browser;
mod storage;

use core::cell::RefCell;

use wasm_bindgen::prelude::*;
use waymark_protocol::SessionRule;

use crate::core::config;
use crate::core::consent::{Category, Decision};
use crate::core::ids::Random;
use crate::core::storage::KeyValue;
#[cfg(feature = "extras")]
use crate::core::storage::{CookieAttributes, CookieStore};
use crate::core::tracker::{Env, PageFacts, Tracker};
#[cfg(feature = "extras")]
use storage::BrowserCookies;
use storage::{Csprng, LocalStorage};

/// The browser as the tracker sees it.
struct Browser {
    /// Only the `extras` module keeps ids in cookies (`storage: "cookie"`;
    /// see Cargo.toml): js/index.js fetches it for the pages that ask.
    #[cfg(feature = "extras")]
    cookies: CookieStore<BrowserCookies>,
}

impl Env for Browser {
    fn local_storage(&self) -> &dyn KeyValue {
        &LocalStorage
    }
    fn cookies(&self) -> &dyn KeyValue {
        #[cfg(feature = "extras")]
        return &self.cookies;
        // Never reached through js/index.js, which gives cookie storage
        // the extras module: without it, cookies keep nothing.
        #[cfg(not(feature = "extras"))]
        &crate::core::storage::NoStore
    }
    fn random(&self) -> &dyn Random {
        &Csprng
    }
    fn url(&self) -> String {
        location_href()
    }
    fn referrer(&self) -> String {
        browser::referrer()
    }
    fn title(&self) -> String {
        browser::title()
    }
    fn send(&self, endpoint: &str, body: &str) -> bool {
        browser::send(endpoint, body)
    }
    fn beacon(&self, endpoint: &str, body: &str) -> bool {
        browser::beacon(endpoint, body)
    }
    fn send_unanswered(&self, endpoint: &str, body: &str) {
        browser::send_unanswered(endpoint, body);
    }
    fn arm_flush_timer(&self, delay_ms: i64) {
        browser::arm_flush_timer(delay_ms as f64);
    }
}

struct Web {
    tracker: Tracker,
    browser: Browser,
    turn_end_scheduled: bool,
    first_view_due: bool,
}

/// The started SDK. A page runs Wasm on one thread, so a plain static
/// cell is enough (the `no_std` build has no `thread_local!`).
struct Started(RefCell<Option<Web>>);
// SAFETY: wasm32-unknown-unknown without the atomics feature is single-threaded.
unsafe impl Sync for Started {}
static WEB: Started = Started(RefCell::new(None));

fn report(message: &str) {
    browser::log(true, message);
}

/// Runs `f` on the started SDK, then prints its debug lines and makes sure
/// the turn ends soon. `None` when the SDK is not started (bad config) or
/// is busy (a re-entrant call).
fn with_web<R>(f: impl FnOnce(&mut Tracker, &Browser, i64) -> R) -> Option<R> {
    let mut guard = WEB.0.try_borrow_mut().ok()?;
    let web = guard.as_mut()?;
    let result = f(&mut web.tracker, &web.browser, now());
    print_debug_lines(web);
    if !web.turn_end_scheduled {
        web.turn_end_scheduled = true;
        browser::end_turn_soon();
    }
    Some(result)
}

fn print_debug_lines(web: &mut Web) {
    // Only the `extras` module has debug output (see Cargo.toml).
    if cfg!(feature = "extras") {
        for line in web.tracker.debug_lines.drain(..) {
            browser::log(false, &line);
        }
    }
}

fn now() -> i64 {
    browser::now() as i64
}

/// `location.href`, read once per turn: a burst of events on one page
/// crosses into JS for it once. History changes clear it (see `navigated`).
fn location_href() -> String {
    let cached = CURRENT_URL.0.try_borrow().ok().and_then(|url| url.clone());
    cached.unwrap_or_else(|| {
        let url = browser::href();
        if let Ok(mut slot) = CURRENT_URL.0.try_borrow_mut() {
            *slot = Some(url.clone());
        }
        url
    })
}

fn forget_location() {
    if let Ok(mut slot) = CURRENT_URL.0.try_borrow_mut() {
        *slot = None;
    }
}

struct UrlCache(RefCell<Option<String>>);
// SAFETY: as for `Started`.
unsafe impl Sync for UrlCache {}
static CURRENT_URL: UrlCache = UrlCache(RefCell::new(None));

/// Starts tracking. `options` are those of `data-*` attributes in
/// camelCase (`site`, `endpoint`, `consent`, `storage`, …; see the README),
/// as strings, each key and value followed by a NUL (see `options` in
/// js/index.js).
#[wasm_bindgen]
pub fn start(options: String) {
    let mut parts = crate::core::text::split(&options, 0);
    let mut pairs = Vec::new();
    while let (Some(key), Some(value)) = (parts.next(), parts.next()) {
        pairs.push((key.to_owned(), value.to_owned()));
    }
    let config = match config::parse(&pairs, "/api/collect") {
        Ok(config) => config,
        Err(err) => return report(&(err.message() + "; nothing is tracked")),
    };
    // `try_borrow`: a panicking borrow would pull `core::fmt` into the module.
    if WEB.0.try_borrow().map_or(true, |web| web.is_some()) {
        return report("already started; start() and init() run once per page");
    }
    #[cfg(feature = "extras")]
    let browser = Browser {
        cookies: CookieStore { jar: BrowserCookies, attributes: CookieAttributes::for_config(&config, location_href().starts_with("https://")) },
    };
    #[cfg(not(feature = "extras"))]
    let browser = Browser {};
    let do_not_track = browser::do_not_track();
    let facts = PageFacts { global_privacy_control: browser::global_privacy_control(), do_not_track: &do_not_track };
    let tracker = Tracker::new(config, &facts, &browser);
    browser::listen(tracker.wants_clicks());
    let web = Web { tracker, browser, turn_end_scheduled: true, first_view_due: true };
    if let Ok(mut slot) = WEB.0.try_borrow_mut() {
        *slot = Some(web);
    }
    browser::end_turn_soon();
}

/// The task `end_turn_soon` asked for: the first view once, then the end
/// of the turn.
#[wasm_bindgen(js_name = turnEnded)]
pub fn turn_ended() {
    let Ok(mut guard) = WEB.0.try_borrow_mut() else { return };
    let Some(web) = guard.as_mut() else { return };
    web.turn_end_scheduled = false;
    if core::mem::take(&mut web.first_view_due) {
        web.tracker.first_view(now(), browser::page_hidden(), &web.browser);
    }
    forget_location();
    web.tracker.end_turn(now(), &web.browser);
    print_debug_lines(web);
}

/// The flush timer fired.
#[wasm_bindgen(js_name = flushTimerFired)]
pub fn flush_timer_fired() {
    with_web(|tracker, browser, now| tracker.timer_fired(now, browser));
}

/// Tracks a pageview of the current location (automatic unless
/// `autoPageviews` is false).
#[wasm_bindgen]
pub fn page() {
    with_web(|tracker, browser, now| tracker.page(now, browser));
}

/// A navigation in a single-page app, or a back-forward-cache restore.
#[wasm_bindgen]
pub fn navigated(restored: bool) {
    forget_location();
    with_web(|tracker, browser, now| tracker.navigated(now, restored, browser));
}

/// The page is hidden or left.
#[wasm_bindgen]
pub fn hidden() {
    with_web(|tracker, browser, now| tracker.hidden(now, browser));
}

/// The page is visible again.
#[wasm_bindgen]
pub fn shown() {
    with_web(|tracker, _, now| tracker.shown(now));
}

/// A click on a link, with its absolute `href`.
#[wasm_bindgen(js_name = linkClicked)]
pub fn link_clicked(href: String) {
    // Only the `extras` module listens for clicks (see Cargo.toml).
    if cfg!(feature = "extras") {
        with_web(|tracker, browser, now| tracker.link_clicked(now, &href, browser));
    }
}

/// A custom event, `track("signup", { plan: "pro" })` as js/index.js
/// queued it: a call only appends its event to a JS array, and each burst
/// (a microtask later, or sooner, before any other call into Wasm) is
/// recorded here in order, with the time and page each was tracked at. A
/// call then never crosses into Wasm. `props` is what `JSON.stringify`
/// made of the properties (empty for none).
#[wasm_bindgen(js_name = trackAt)]
pub fn track_at(name: String, props: String, ts: f64, url: String) {
    if let Some(Err(message)) = with_web(|tracker, browser, _| tracker.track(&name, &props, ts as i64, &url, browser)) {
        report(&message);
    }
}

/// Links this visitor to a user id of the site's own (after consent).
#[wasm_bindgen]
pub fn identify(user_id: String) {
    if let Some(Err(message)) = with_web(|tracker, browser, now| tracker.identify(&user_id, now, browser)) {
        report(&message);
    }
}

/// At logout: a new visitor and session, without the user id.
#[wasm_bindgen]
pub fn reset() {
    with_web(|tracker, browser, now| tracker.reset(now, browser));
}

fn category(name: &str) -> Option<Category> {
    let found = Category::parse(name);
    if found.is_none() {
        report("unknown consent category; known: analytics");
    }
    found
}

/// `true` when the decision changed the state: js/index.js then tells the
/// `onConsent` listeners.
fn decide(name: &str, decision: Decision) -> bool {
    let Some(category) = category(name) else { return false };
    with_web(|tracker, browser, now| tracker.decide(category, decision, now, browser)).unwrap_or(false)
}

/// The person granted consent (`"analytics"` when no category is given).
#[wasm_bindgen]
pub fn grant(category: String) -> bool {
    decide(&category, Decision::Granted)
}

/// The person refused consent; their ids are removed from storage.
#[wasm_bindgen]
pub fn deny(category: String) -> bool {
    decide(&category, Decision::Denied)
}

/// Hands `"pending"`, `"granted"` or `"denied"` (empty before the SDK
/// runs) back through `browser::consent_is`: an exported function that
/// returns a string costs the module wasm-bindgen's half-kilobyte
/// multivalue shim, a call out with a `&str` almost nothing.
#[wasm_bindgen]
pub fn consent(category: String) {
    let state = self::category(&category).and_then(|category| with_web(|tracker, _, _| tracker.consent(category).as_str()));
    browser::consent_is(state.unwrap_or(""));
}

/// Sends what is queued now rather than at the next interval.
#[wasm_bindgen]
pub fn flush() {
    with_web(|tracker, browser, now| tracker.flush(now, browser));
}

/// The collector's answer to a batch: its status (0: a network error),
/// `Retry-After` in ms (-1 without one), the site's session rule from the
/// answer's `session` (0 when absent), the events it rejected, one
/// `id: message` a line, and the ids its id cookie restored, as
/// `visitor session` (empty when none).
#[wasm_bindgen]
pub fn answered(status: u16, retry_after_ms: f64, timeout_ms: f64, max_ms: f64, rejected: String, ids: String) {
    let retry_after = (retry_after_ms >= 0.0).then_some(retry_after_ms as i64);
    let rule = (timeout_ms > 0.0).then_some(SessionRule { timeout_ms: timeout_ms as i64, max_ms: max_ms as i64 });
    with_web(|tracker, browser, now| {
        tracker.rejected(&rejected);
        tracker.answered((status != 0).then_some(status), retry_after, rule, &ids, now, browser);
    });
}
