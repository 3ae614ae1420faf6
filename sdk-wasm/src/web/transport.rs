//! Sending a batch. `fetch` with `keepalive` and a string body, which the
//! browser sends as `text/plain`, so no CORS preflight is needed and the
//! request outlives the page; `sendBeacon` when the page is being hidden.

use js_sys::{Function, Object, Promise, Reflect};
use wasm_bindgen::{JsCast, JsValue};

fn global() -> JsValue {
    js_sys::global().into()
}

/// Starts the request; the promise resolves to the `Response` or rejects
/// on a network error.
pub fn post(endpoint: &str, body: &str) -> Option<Promise> {
    let init = Object::new();
    let _ = Reflect::set(&init, &"method".into(), &"POST".into());
    let _ = Reflect::set(&init, &"body".into(), &body.into());
    let _ = Reflect::set(&init, &"keepalive".into(), &JsValue::TRUE);
    let fetch: Function = Reflect::get(&global(), &"fetch".into()).ok()?.dyn_into().ok()?;
    fetch.call2(&global(), &endpoint.into(), &init).ok()?.dyn_into().ok()
}

/// The status of a `Response` and its `Retry-After`, in ms from now.
pub fn read_answer(response: &JsValue, now_ms: f64) -> (Option<u16>, Option<i64>) {
    let status = Reflect::get(response, &"status".into()).ok().and_then(|s| s.as_f64()).map(|s| s as u16);
    let retry_after = Reflect::get(response, &"headers".into())
        .ok()
        .and_then(|headers| {
            let get: Function = Reflect::get(&headers, &"get".into()).ok()?.dyn_into().ok()?;
            get.call1(&headers, &"retry-after".into()).ok()?.as_string()
        })
        .and_then(|value| {
            crate::core::retry::retry_after_seconds(&value).or_else(|| {
                let at = js_sys::Date::parse(&value);
                (at.is_finite()).then(|| (at - now_ms).max(0.0) as i64)
            })
        });
    (status, retry_after)
}

/// Queues the body with `navigator.sendBeacon`; `false` when the browser
/// refused it (too large, or its beacon quota is used up).
pub fn beacon(endpoint: &str, body: &str) -> bool {
    let navigator = Reflect::get(&global(), &"navigator".into()).unwrap_or(JsValue::UNDEFINED);
    let Some(send) = Reflect::get(&navigator, &"sendBeacon".into()).ok().and_then(|f| f.dyn_into::<Function>().ok()) else {
        return false;
    };
    send.call2(&navigator, &endpoint.into(), &body.into()).is_ok_and(|queued| queued.is_truthy())
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_futures::JsFuture;
    use wasm_bindgen_test::*;

    wasm_bindgen_test_configure!(run_in_browser);

    #[wasm_bindgen_test]
    async fn a_post_reports_the_status_the_server_answered() {
        let promise = post("/waymark-no-such-endpoint", "{}").unwrap();
        let response = JsFuture::from(promise).await.unwrap();
        let (status, retry_after) = read_answer(&response, js_sys::Date::now());
        let status = status.unwrap();
        assert!((400..500).contains(&status), "{status}");
        assert_eq!(retry_after, None);
    }

    #[wasm_bindgen_test]
    async fn an_unreachable_collector_is_a_network_error() {
        let promise = post("http://127.0.0.1:9/api/collect", "{}").unwrap();
        assert!(JsFuture::from(promise).await.is_err());
    }

    #[wasm_bindgen_test]
    fn a_beacon_under_64_kib_is_queued_and_one_over_is_refused() {
        assert!(beacon("/waymark-beacon", "{}"));
        assert!(!beacon("/waymark-beacon", &"x".repeat(65 * 1024)));
    }

    #[wasm_bindgen_test]
    fn retry_after_is_read_in_seconds_and_as_a_date() {
        let headers = web_sys::Headers::new().unwrap();
        headers.set("retry-after", "120").unwrap();
        let response = Object::new();
        Reflect::set(&response, &"status".into(), &JsValue::from_f64(503.0)).unwrap();
        Reflect::set(&response, &"headers".into(), &headers).unwrap();
        assert_eq!(read_answer(&response, 0.0), (Some(503), Some(120_000)));
        headers.set("retry-after", "Thu, 01 Jan 1970 00:01:00 GMT").unwrap();
        assert_eq!(read_answer(&response, 30_000.0), (Some(503), Some(30_000)));
    }
}
