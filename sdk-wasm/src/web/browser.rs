//! The browser APIs the SDK uses, as the named functions of
//! `js/browser.js`: page events, timers, storage, cookies, requests and
//! the console. One coarse call per job instead of a `Reflect` call per
//! property keeps both the Wasm and its JS glue small. They only perform:
//! what to store, send, arm or log is decided in `core`.

use alloc::string::String;

use wasm_bindgen::prelude::*;

#[wasm_bindgen(module = "/js/browser.js")]
extern "C" {
    /// Page events → `navigated`, `hidden`, `shown`; with `clicks`, link
    /// clicks → `linkClicked`.
    pub fn listen(clicks: bool);
    /// Calls `turnEnded` in a task of its own.
    #[wasm_bindgen(js_name = endTurnSoon)]
    pub fn end_turn_soon();
    /// Calls `flushTimerFired` after `delay_ms`, replacing the timer if armed.
    #[wasm_bindgen(js_name = armFlushTimer)]
    pub fn arm_flush_timer(delay_ms: f64);
    /// `Date.now()`.
    pub fn now() -> f64;
    pub fn href() -> String;
    pub fn referrer() -> String;
    pub fn title() -> String;
    #[wasm_bindgen(js_name = pageHidden)]
    pub fn page_hidden() -> bool;
    /// `crypto.getRandomValues` on the bytes, in place.
    #[wasm_bindgen(js_name = fillRandom)]
    pub fn fill_random(bytes: &mut [u8]);
    #[wasm_bindgen(js_name = globalPrivacyControl)]
    pub fn global_privacy_control() -> bool;
    /// `navigator.doNotTrack` (or `window.doNotTrack`) as a string.
    #[wasm_bindgen(js_name = doNotTrack)]
    pub fn do_not_track() -> String;
    /// The answer of the `consent` export, for js/index.js to return.
    #[wasm_bindgen(js_name = consentIs)]
    pub fn consent_is(state: &str);
    /// `console.error("waymark:", …)`, or with `error` false
    /// `console.log`: one import for both, which each module has (the one
    /// without `extras` logs errors only).
    pub fn log(error: bool, message: &str);
    #[wasm_bindgen(js_name = localGet)]
    pub fn local_get(key: &str) -> Option<String>;
    #[wasm_bindgen(js_name = localSet)]
    pub fn local_set(key: &str, value: &str);
    #[wasm_bindgen(js_name = localRemove)]
    pub fn local_remove(key: &str);
    #[wasm_bindgen(js_name = readCookie)]
    pub fn read_cookie(name: &str) -> Option<String>;
    #[wasm_bindgen(js_name = writeCookie)]
    pub fn write_cookie(name: &str, value: &str, attributes: &str);
    /// Posts a batch; the answer comes back through `answered` (and
    /// `rejected`). `false` when the request could not start.
    pub fn send(endpoint: &str, body: &str) -> bool;
    /// `navigator.sendBeacon`; `false` when the browser refused it.
    pub fn beacon(endpoint: &str, body: &str) -> bool;
    /// `fetch` with `keepalive`, its answer ignored.
    #[wasm_bindgen(js_name = sendUnanswered)]
    pub fn send_unanswered(endpoint: &str, body: &str);
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_futures::JsFuture;
    use wasm_bindgen_test::*;

    wasm_bindgen_test_configure!(run_in_browser);

    #[wasm_bindgen(module = "/js/browser.js")]
    extern "C" {
        fn post(endpoint: &str, body: &str) -> js_sys::Promise;
        #[wasm_bindgen(js_name = retryAfterMs)]
        fn retry_after_ms(value: Option<&str>, now_ms: f64) -> f64;
    }

    #[wasm_bindgen_test]
    async fn a_post_reports_the_status_the_server_answered() {
        let answer: js_sys::Array = JsFuture::from(post("/waymark-no-such-endpoint", "{}")).await.unwrap().into();
        let status = answer.get(0).as_f64().unwrap();
        assert!((400.0..500.0).contains(&status), "{status}");
        assert_eq!(answer.get(1).as_f64(), Some(-1.0), "no Retry-After");
    }

    #[wasm_bindgen_test]
    async fn an_unreachable_collector_is_a_network_error() {
        assert!(JsFuture::from(post("http://127.0.0.1:9/api/collect", "{}")).await.is_err());
    }

    #[wasm_bindgen_test]
    fn a_beacon_under_64_kib_is_queued_and_one_over_is_refused() {
        assert!(beacon("/waymark-beacon", "{}"));
        assert!(!beacon("/waymark-beacon", &"x".repeat(65 * 1024)));
    }

    #[wasm_bindgen_test]
    fn retry_after_is_read_in_seconds_and_as_a_date() {
        assert_eq!(retry_after_ms(Some("120"), 0.0), 120_000.0);
        assert_eq!(retry_after_ms(Some("Thu, 01 Jan 1970 00:01:00 GMT"), 30_000.0), 30_000.0);
        assert_eq!(retry_after_ms(Some("soon"), 0.0), -1.0);
        assert_eq!(retry_after_ms(None, 0.0), -1.0);
    }
}
