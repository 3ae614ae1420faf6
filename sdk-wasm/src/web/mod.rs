//! The browser edge: the entry points js/index.js calls (for the loader
//! and the npm package alike). No policy here: it lives in `core`.
//!
//! The browser itself is reached through `js/browser.js` (see `browser`):
//! page events, timers and answers come back through the exports below,
//! which js/index.js wraps (it hands over queued `track()` calls before
//! any other export runs, and holds the `onConsent` listeners). Only
//! strings and numbers cross: no JS object is held here.
//!
//! Work is done in turns: an API call updates the tracker in memory, and
//! one task right after (`setTimeout(0)`) writes storage and decides
//! whether to send, so a burst of `track()` calls costs one storage write
//! and none of that work lengthens the caller's task. A page being hidden
//! does it at once. Before that, `track()` itself never enters Wasm: the
//! loader and the npm package queue its calls in JS and hand each burst
//! over to `trackAt` (see there).
//! Nothing here throws into the host page: bad input is reported with one
//! `console.error` and ignored.

use alloc::borrow::ToOwned;
use alloc::string::String;
use alloc::vec::Vec;

mod browser;
mod storage;

use core::cell::RefCell;

use js_sys::Date;
use wasm_bindgen::prelude::*;
use waymark_protocol::{limits, names};

use crate::core::config::{self, StorageMode};
use crate::core::consent::{Category, Decision};
use crate::core::event::{self, Draft, Prop};
use crate::core::ids::random_unit;
use crate::core::storage::KeyValue;
use crate::core::tracker::{Env, Tracker};
use storage::BrowserStore;

struct Stores {
    ids: BrowserStore,
    backlog: Option<BrowserStore>,
}

impl Env for Stores {
    fn ids(&self) -> &dyn KeyValue {
        &self.ids
    }
    fn backlog(&self) -> Option<&dyn KeyValue> {
        self.backlog.as_ref().map(|b| b as &dyn KeyValue)
    }
}

struct Web {
    tracker: Tracker,
    stores: Stores,
    turn_end_scheduled: bool,
    /// When the armed flush timer fires.
    timer_at: Option<f64>,
}

/// The timers `browser::schedule` arms; each calls `wake` with its number.
const END_TURN: u32 = 0;
const FLUSH: u32 = 1;
const FIRST_VIEW: u32 = 2;

/// The started SDK. A page runs Wasm on one thread, so a plain static
/// cell is enough (the `no_std` build has no `thread_local!`).
struct Started(RefCell<Option<Web>>);
// SAFETY: wasm32-unknown-unknown without the atomics feature is single-threaded.
unsafe impl Sync for Started {}
static WEB: Started = Started(RefCell::new(None));

fn report(message: &str) {
    browser::log(2, message);
}

/// Runs `f` on the started SDK, then prints its debug lines. `None` when
/// the SDK is not started (bad config) or is busy (a re-entrant call).
fn with_web<R>(f: impl FnOnce(&mut Web) -> R) -> Option<R> {
    let mut guard = WEB.0.try_borrow_mut().ok()?;
    let web = guard.as_mut()?;
    let result = f(web);
    print_debug_lines(web);
    if !web.turn_end_scheduled {
        web.turn_end_scheduled = true;
        browser::schedule(END_TURN, 0.0);
    }
    Some(result)
}

fn print_debug_lines(web: &mut Web) {
    for line in web.tracker.debug_lines.drain(..) {
        browser::log(0, &line);
    }
}

fn now() -> i64 {
    Date::now() as i64
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
    let ids = match config.storage {
        StorageMode::LocalStorage => BrowserStore::LocalStorage,
        StorageMode::Cookie => {
            browser::use_cookies(config.cookie_domain.as_deref().unwrap_or(""), config.cookie_days as f64);
            BrowserStore::Cookie
        }
        StorageMode::None => BrowserStore::Page,
    };
    let backlog = (config.storage != StorageMode::None).then_some(BrowserStore::LocalStorage);
    let stores = Stores { ids, backlog };
    let clicks = (config.outbound_links, config.file_downloads);
    let tracker = Tracker::new(config, browser::privacy_signal(), &stores);
    let web = Web { tracker, stores, turn_end_scheduled: false, timer_at: None };
    if let Ok(mut slot) = WEB.0.try_borrow_mut() {
        *slot = Some(web);
    }
    browser::listen(clicks.0, clicks.1);
    // The first pageview in a task of its own: starting stays short.
    browser::schedule(FIRST_VIEW, 0.0);
}

/// A timer armed through `browser::schedule` fired.
#[wasm_bindgen]
pub fn wake(timer: u32) {
    match timer {
        END_TURN => end_turn(),
        FLUSH => timer_fired(),
        _ => first_view(),
    }
}

fn first_view() {
    with_web(|web| {
        if !browser::page_hidden() {
            web.tracker.page.shown(now());
        }
        if web.tracker.config.auto_pageviews {
            pageview(web, false);
        }
    });
}

/// Tracks a pageview of the current location (automatic unless
/// `autoPageviews` is false).
#[wasm_bindgen]
pub fn page() {
    with_web(|web| pageview(web, true));
}

/// Records a pageview if the location changed (or `force`), after the
/// engagement of the page left.
fn pageview(web: &mut Web, force: bool) {
    let url = location_href();
    if !web.tracker.page.navigated(&url, force) {
        return;
    }
    let ts = now();
    let mut draft = Draft::new(names::PAGEVIEW, ts, &url);
    draft.referrer = Some(event::cut(&browser::referrer(), limits::MAX_URL_BYTES));
    draft.title = Some(event::cut(&browser::title(), limits::MAX_TEXT_BYTES));
    web.tracker.record(draft, &web.stores);
}

/// Sends the visible time on the page being left, if any.
fn engagement(web: &mut Web, page_url: Option<String>) {
    let ts = now();
    let (Some(ms), Some(url)) = (web.tracker.page.take_engagement(ts), page_url) else { return };
    let mut draft = Draft::new(names::ENGAGEMENT, ts, &url);
    draft.engaged_ms = Some(ms);
    web.tracker.record(draft, &web.stores);
}

/// A navigation in a single-page app, or a back-forward-cache restore.
#[wasm_bindgen]
pub fn navigated(restored: bool) {
    forget_location();
    with_web(|web| {
        if !web.tracker.config.auto_pageviews || (!restored && web.tracker.page.current_url() == Some(location_href().as_str())) {
            return;
        }
        let left = web.tracker.page.current_url().map(str::to_owned);
        engagement(web, left);
        pageview(web, restored);
    });
}

/// The page is hidden or left: report engagement, write storage, and hand
/// every unsent event to `sendBeacon` (they stay queued until acknowledged).
#[wasm_bindgen]
pub fn hidden() {
    with_web(|web| {
        let current = web.tracker.page.current_url().map(str::to_owned);
        engagement(web, current);
        web.tracker.page.hidden(now());
        web.tracker.page_hidden();
        web.tracker.end_turn(&web.stores);
        let endpoint = web.tracker.config.endpoint.clone();
        for body in web.tracker.batches_for_page_hide(now()) {
            browser::send_on_hide(&endpoint, &body);
        }
    });
}

/// The page is visible again.
#[wasm_bindgen]
pub fn shown() {
    with_web(|web| web.tracker.page.shown(now()));
}

/// A click on a link to another host (`kind` 0) or to a file (1); the
/// page's script classified it (see `linkKind` in js/browser.js).
#[wasm_bindgen(js_name = linkClicked)]
pub fn link_clicked(kind: u32, href: String) {
    with_web(|web| {
        let name = if kind == 0 { names::OUTBOUND_CLICK } else { names::FILE_DOWNLOAD };
        let mut draft = Draft::new(name, now(), &location_href());
        draft.props = event::encode_props(&[("url".into(), Prop::Text(event::cut(&href, limits::MAX_PROP_VALUE_BYTES)))]).unwrap_or_default();
        web.tracker.record(draft, &web.stores);
    });
}

/// A custom event, `track("signup", { plan: "pro" })` as js/index.js
/// queued it: a call only appends its event to a JS array, and each burst
/// (a microtask later, or sooner, before any other call into Wasm) is
/// recorded here in order, with the time and page each was tracked at. A call then never crosses into Wasm. `props` is what
/// `JSON.stringify` made of the properties (empty for none); values are
/// strings, numbers or booleans, within the protocol's limits.
#[wasm_bindgen(js_name = trackAt)]
pub fn track_at(name: String, props: String, ts: f64, url: String) {
    let checked = event::check_name(&name)
        .and_then(|()| if props.is_empty() { Ok(props) } else { event::check_props_json(&props) })
        .and_then(|props| {
            let mut draft = Draft::new(&name, ts as i64, &url);
            draft.props = props;
            draft.check_size().map(|()| draft)
        });
    match checked {
        Ok(draft) => {
            with_web(|web| web.tracker.record(draft, &web.stores));
        }
        Err(err) => {
            let mut message = String::from("track(\"");
            message.push_str(&name);
            message.push_str("\") ignored: ");
            message.push_str(&err.message());
            report(&message);
        }
    }
}

/// Links this visitor to a user id of the site's own (after consent).
#[wasm_bindgen]
pub fn identify(user_id: String) {
    match Some(user_id).filter(|u| !u.is_empty() && u.len() <= limits::MAX_TEXT_BYTES) {
        Some(user) => {
            with_web(|web| web.tracker.identify(&user, now(), &location_href(), &web.stores));
        }
        None => report("identify() needs a user id: a non-empty string of at most 1000 bytes"),
    }
}

/// At logout: a new visitor and session, without the user id.
#[wasm_bindgen]
pub fn reset() {
    with_web(|web| web.tracker.reset(now()));
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
    with_web(|web| web.tracker.decide(category, decision, now(), &location_href(), &web.stores)).unwrap_or(false)
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

/// `"pending"`, `"granted"` or `"denied"` (empty before the SDK runs).
#[wasm_bindgen]
pub fn consent(category: String) -> String {
    let Some(category) = self::category(&category) else { return String::new() };
    with_web(|web| web.tracker.consent(category).as_str().to_owned()).unwrap_or_default()
}

/// Sends what is queued now rather than at the next interval.
#[wasm_bindgen]
pub fn flush() {
    with_web(send_next);
}

/// The end of a turn: storage catches up once, then the queue is sent if
/// it is full, or at the flush interval.
fn end_turn() {
    let Ok(mut guard) = WEB.0.try_borrow_mut() else { return };
    let Some(web) = guard.as_mut() else { return };
    web.turn_end_scheduled = false;
    forget_location();
    web.tracker.end_turn(&web.stores);
    if web.tracker.batch_is_full() {
        send_next(web);
    } else if web.tracker.has_unsent() {
        let interval = web.tracker.config.flush_interval_ms;
        arm_timer(web, interval);
    }
    print_debug_lines(web);
}

fn arm_timer(web: &mut Web, delay_ms: i64) {
    let at = Date::now() + delay_ms as f64;
    if web.timer_at.is_some_and(|armed_at| armed_at <= at) {
        return;
    }
    browser::schedule(FLUSH, delay_ms as f64);
    web.timer_at = Some(at);
}

fn timer_fired() {
    with_web(|web| {
        web.timer_at = None;
        send_next(web);
    });
}

fn send_next(web: &mut Web) {
    let Some(body) = web.tracker.next_batch(now()) else { return };
    let config = &web.tracker.config;
    if !browser::send(&config.endpoint, &body, config.debug) {
        if let Some(delay) = web.tracker.answered(None, None, now(), random_unit()) {
            arm_timer(web, delay);
        }
    }
}

/// The collector's answer to a batch: its status (0: a network error)
/// and `Retry-After`, if any.
#[wasm_bindgen]
pub fn answered(status: u16, retry_after: Option<String>) {
    let retry_after = retry_after.and_then(|value| browser::retry_after_ms(&value, Date::now()));
    settle_delivery((status != 0).then_some(status), retry_after);
}

/// Handles the collector's answer (a network error is `None`): settle the
/// batch, or retry it later.
fn settle_delivery(status: Option<u16>, retry_after: Option<i64>) {
    with_web(|web| match web.tracker.answered(status, retry_after, now(), random_unit()) {
        Some(delay) => arm_timer(web, delay),
        None => {
            if web.tracker.has_unsent() {
                let interval = web.tracker.config.flush_interval_ms;
                arm_timer(web, interval);
            }
        }
    });
}
