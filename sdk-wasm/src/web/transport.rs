//! Sending a batch: `fetch` with `keepalive`, as `text/plain` so that no
//! CORS preflight is needed and the request outlives the page.

use wasm_bindgen::JsValue;
use web_sys::{RequestInit, Window};

pub fn post(window: &Window, endpoint: &str, body: &str) {
    let init = RequestInit::new();
    init.set_method("POST");
    // web-sys has no setter for `keepalive`; it is a plain dictionary field.
    let _ = js_sys::Reflect::set(&init, &"keepalive".into(), &JsValue::TRUE);
    init.set_body(&JsValue::from_str(body));
    let headers = web_sys::Headers::new().expect("Headers is constructible");
    let _ = headers.set("content-type", "text/plain");
    init.set_headers(&headers);
    // The promise's outcome is not awaited yet: retries come with the queue.
    let _ = window.fetch_with_str_and_init(endpoint, &init);
}
