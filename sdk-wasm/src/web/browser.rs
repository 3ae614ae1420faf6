//! The browser APIs the SDK uses, as the few typed functions of
//! `js/browser.js`: page events, timers, storage, cookies, requests and
//! the console. One coarse call per job instead of a `Reflect` call per
//! property keeps both the Wasm and its JS glue small.

use alloc::string::String;

use wasm_bindgen::prelude::*;

#[wasm_bindgen(module = "/js/browser.js")]
extern "C" {
    /// Page events → `navigated`, `hidden`, `shown`, `linkClicked`.
    pub fn listen(outbound: bool, downloads: bool);
    /// Calls `wake(timer)` after `delay_ms`, replacing that timer if armed.
    pub fn schedule(timer: u32, delay_ms: f64);
    pub fn href() -> String;
    pub fn referrer() -> String;
    pub fn title() -> String;
    #[wasm_bindgen(js_name = pageHidden)]
    pub fn page_hidden() -> bool;
    /// Global Privacy Control or Do Not Track.
    #[wasm_bindgen(js_name = privacySignal)]
    pub fn privacy_signal() -> bool;
    /// `console.log` (0), `warn` (1) or `error` (2), prefixed `waymark:`.
    pub fn log(level: u32, message: &str);
    /// Cookie scope and lifetime for the cookie store.
    #[wasm_bindgen(js_name = useCookies)]
    pub fn use_cookies(domain: &str, days: f64);
    #[wasm_bindgen(js_name = storeGet)]
    pub fn store_get(kind: u32, key: &str) -> Option<String>;
    #[wasm_bindgen(js_name = storeSet)]
    pub fn store_set(kind: u32, key: &str, value: &str);
    #[wasm_bindgen(js_name = storeRemove)]
    pub fn store_remove(kind: u32, key: &str);
    /// Posts a batch; the answer comes back through `answered`. `false`
    /// when the request could not start.
    pub fn send(endpoint: &str, body: &str, debug: bool) -> bool;
    /// `sendBeacon`, or `fetch` with `keepalive` if the beacon is refused.
    #[wasm_bindgen(js_name = sendOnHide)]
    pub fn send_on_hide(endpoint: &str, body: &str);
}

/// `Retry-After` in ms from `now_ms`: seconds, or an HTTP date.
pub fn retry_after_ms(value: &str, now_ms: f64) -> Option<i64> {
    crate::core::retry::retry_after_seconds(value).or_else(|| {
        let at = js_sys::Date::parse(value);
        at.is_finite().then(|| (at - now_ms).max(0.0) as i64)
    })
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
        fn beacon(endpoint: &str, body: &str) -> bool;
        fn cookie(key: &str, value: &str, max_age_s: f64) -> String;
        #[wasm_bindgen(js_name = linkKind)]
        fn link_kind(href: &str, page_host: &str, outbound: bool, downloads: bool) -> i32;
    }

    #[wasm_bindgen_test]
    fn links_to_other_hosts_are_outbound_and_files_are_downloads() {
        let kind = |href| link_kind(href, "shop.example", true, true);
        assert_eq!(kind("https://other.example/x"), 0);
        assert_eq!(kind("https://shop.example/x"), -1);
        assert_eq!(kind("https://shop.example/files/Report.PDF?v=2"), 1);
        assert_eq!(kind("https://cdn.example/app.dmg#x"), 1);
        assert_eq!(kind("mailto:a@b.example"), -1);
        assert_eq!(link_kind("https://other.example/", "shop.example", false, true), -1, "outbound is opt-in");
        assert_eq!(link_kind("https://shop.example/a.pdf", "shop.example", true, false), -1, "downloads are opt-in");
    }

    #[wasm_bindgen_test]
    async fn a_post_reports_the_status_the_server_answered() {
        let answer: js_sys::Array = JsFuture::from(post("/waymark-no-such-endpoint", "{}")).await.unwrap().into();
        let status = answer.get(0).as_f64().unwrap();
        assert!((400.0..500.0).contains(&status), "{status}");
        assert!(answer.get(1).is_undefined(), "no Retry-After");
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
        assert_eq!(retry_after_ms("120", 0.0), Some(120_000));
        assert_eq!(retry_after_ms("Thu, 01 Jan 1970 00:01:00 GMT", 30_000.0), Some(30_000));
        assert_eq!(retry_after_ms("soon", 0.0), None);
    }

    #[wasm_bindgen_test]
    fn cookies_carry_samesite_lifetime_and_the_configured_domain() {
        use_cookies("example.com", 7.0);
        assert_eq!(cookie("waymark.visitor", "v", 604_800.0), "waymark_visitor=v; Path=/; SameSite=Lax; Max-Age=604800; Domain=example.com");
        use_cookies("", 30.0);
    }
}
