//! The browser edge: entry points for the loader and the npm package, and
//! one adapter per browser API. No policy here: it lives in `core`.

mod storage;
mod transport;

use std::cell::RefCell;

use js_sys::{Date, Reflect};
use wasm_bindgen::prelude::*;
use waymark_protocol::{limits, names};

use crate::core::{ids::new_uuid_v4, session};
use storage::LocalStorage;

struct Tracker {
    site: String,
    endpoint: String,
}

thread_local! {
    static TRACKER: RefCell<Option<Tracker>> = const { RefCell::new(None) };
}

fn config_string(config: &JsValue, key: &str) -> Option<String> {
    Reflect::get(config, &JsValue::from_str(key)).ok().and_then(|v| v.as_string())
}

/// Starts tracking with `{ site, endpoint }` and sends the first pageview.
#[wasm_bindgen]
pub fn start(config: JsValue) {
    let Some(site) = config_string(&config, "site").filter(|s| !s.is_empty()) else {
        web_sys::console::error_1(&"waymark: `site` is missing; nothing is tracked".into());
        return;
    };
    let endpoint = config_string(&config, "endpoint").unwrap_or_else(|| "/api/collect".into());
    TRACKER.with(|t| *t.borrow_mut() = Some(Tracker { site, endpoint }));
    page();
}

/// Tracks a pageview of the current location.
#[wasm_bindgen]
pub fn page() {
    send(names::PAGEVIEW);
}

fn send(name: &str) {
    TRACKER.with(|t| {
        let tracker = t.borrow();
        let Some(tracker) = tracker.as_ref() else { return };
        let Some(window) = web_sys::window() else { return };
        let now = Date::now() as i64;
        let store = LocalStorage::new(&window);
        let (session, _) = session::touch(&store, now, limits::DEFAULT_SESSION_TIMEOUT_MS);
        let url = window.location().href().unwrap_or_default();
        let referrer = window.document().map(|d| d.referrer()).unwrap_or_default();

        let event = js_sys::Object::new();
        let set = |k: &str, v: JsValue| {
            let _ = Reflect::set(&event, &JsValue::from_str(k), &v);
        };
        set("id", new_uuid_v4().into());
        set("name", name.into());
        set("ts", JsValue::from_f64(now as f64));
        set("session_id", session.id.into());
        set("url", url.into());
        if !referrer.is_empty() {
            set("referrer", referrer.into());
        }
        let events = js_sys::Array::of1(&event);
        let batch = js_sys::Object::new();
        let _ = Reflect::set(&batch, &"site".into(), &tracker.site.as_str().into());
        let _ = Reflect::set(&batch, &"sent_at".into(), &JsValue::from_f64(Date::now()));
        let _ = Reflect::set(&batch, &"events".into(), &events);
        if let Ok(body) = js_sys::JSON::stringify(&batch) {
            transport::post(&window, &tracker.endpoint, &String::from(body));
        }
    });
}
