//! Page events: history changes of single-page apps, back-forward-cache
//! restores, visibility, page exit and link clicks, each handed to the
//! entry points in `web`. The listeners live as long as the page.


use js_sys::{Function, Reflect};
use wasm_bindgen::prelude::*;

use super::{get, window};

fn listen_on(target: &JsValue, event: &str, handler: Closure<dyn FnMut(JsValue)>, capture: bool) {
    if let Ok(add) = Reflect::get(target, &"addEventListener".into()).and_then(|f| f.dyn_into::<Function>()) {
        let _ = add.call3(target, &event.into(), handler.as_ref(), &JsValue::from_bool(capture));
    }
    handler.forget();
}

/// Wraps `history[method]` so that each call is followed by a check for a
/// new pageview. The original runs first and its result is returned.
fn wrap_history(history: &JsValue, method: &str) {
    let Ok(original) = Reflect::get(history, &method.into()).and_then(|f| f.dyn_into::<Function>()) else { return };
    let target = history.clone();
    let wrapper = Closure::<dyn FnMut(JsValue, JsValue, JsValue) -> JsValue>::new(move |state, unused, url: JsValue| {
        let result = if url.is_undefined() { original.call2(&target, &state, &unused) } else { original.call3(&target, &state, &unused, &url) };
        super::navigated(false);
        result.unwrap_or(JsValue::UNDEFINED)
    });
    let _ = Reflect::set(history, &method.into(), wrapper.as_ref());
    wrapper.forget();
}

pub fn listen(link_clicks: bool) {
    let window = window();
    let document = get(&window, "document");
    let history = get(&window, "history");
    wrap_history(&history, "pushState");
    wrap_history(&history, "replaceState");
    listen_on(&window, "popstate", Closure::new(|_| super::navigated(false)), false);
    listen_on(&window, "hashchange", Closure::new(|_| super::navigated(false)), false);
    listen_on(
        &window,
        "pageshow",
        Closure::new(|event: JsValue| {
            if get(&event, "persisted").is_truthy() {
                super::shown();
                super::navigated(true);
            }
        }),
        false,
    );
    listen_on(&window, "pagehide", Closure::new(|_| super::hidden()), false);
    let doc = document.clone();
    listen_on(
        &document,
        "visibilitychange",
        Closure::new(move |_| match get(&doc, "visibilityState").as_string().as_deref() {
            Some("hidden") => super::hidden(),
            _ => super::shown(),
        }),
        false,
    );
    if link_clicks {
        listen_on(&document, "click", Closure::new(link_click), true);
    }
}

/// A click anywhere: the link it landed in, if any, as an absolute URL.
fn link_click(event: JsValue) {
    let target = get(&event, "target");
    let Ok(closest) = Reflect::get(&target, &"closest".into()).and_then(|f| f.dyn_into::<Function>()) else { return };
    let Ok(link) = closest.call1(&target, &"a[href]".into()) else { return };
    if let Some(href) = get(&link, "href").as_string() {
        super::link_clicked(href);
    }
}
