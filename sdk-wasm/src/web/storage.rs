//! `localStorage`, first-party cookies and (storage mode `none`) the
//! page's own memory as [`KeyValue`]s, through `js/browser.js`. Browsers may refuse storage (private modes, quotas,
//! blocked third-party frames): every failure reads as "absent" and writes
//! are dropped, never thrown. Cookies are `SameSite=Lax`, `Secure` on
//! https, on `/`, with the configured domain (so subdomains share the ids)
//! and lifetime; keys become cookie names with `_` for `.`, values are
//! URI-encoded.

use alloc::string::String;

use super::browser;
use crate::core::storage::KeyValue;

#[derive(Clone, Copy)]
pub enum BrowserStore {
    LocalStorage = 0,
    Cookie = 1,
    /// Lasts as long as the page: every page load is a new visitor.
    Page = 2,
}

impl KeyValue for BrowserStore {
    fn get(&self, key: &str) -> Option<String> {
        browser::store_get(*self as u32, key)
    }
    fn set(&self, key: &str, value: &str) {
        browser::store_set(*self as u32, key, value);
    }
    fn remove(&self, key: &str) {
        browser::store_remove(*self as u32, key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::*;

    wasm_bindgen_test_configure!(run_in_browser);

    fn document_cookie() -> String {
        let document = js_sys::Reflect::get(&js_sys::global(), &"document".into()).unwrap();
        js_sys::Reflect::get(&document, &"cookie".into()).unwrap().as_string().unwrap()
    }

    #[wasm_bindgen_test]
    fn local_storage_round_trips_a_value() {
        let store = BrowserStore::LocalStorage;
        store.set("waymark.test", "v1");
        assert_eq!(store.get("waymark.test").as_deref(), Some("v1"));
        store.remove("waymark.test");
        assert_eq!(store.get("waymark.test"), None);
    }

    #[wasm_bindgen_test]
    fn a_session_written_in_one_turn_is_read_by_another_tracker_as_another_tab_would() {
        use crate::core::session::Sessions;
        let store = BrowserStore::LocalStorage;
        store.remove(crate::core::session::SESSION_KEY);
        let mut tab_a = Sessions::new(30 * 60_000, 24 * 3_600_000);
        let id = tab_a.touch(&store, 1_000).0.session.id.clone();
        tab_a.end_turn(&store);
        let mut tab_b = Sessions::new(30 * 60_000, 24 * 3_600_000);
        assert_eq!(tab_b.touch(&store, 2_000).0.session.id, id);
        tab_b.forget(&store);
    }

    #[wasm_bindgen_test]
    fn the_page_store_keeps_values_in_memory_only() {
        let store = BrowserStore::Page;
        store.set("waymark.test", "v1");
        assert_eq!(store.get("waymark.test").as_deref(), Some("v1"));
        assert_eq!(BrowserStore::LocalStorage.get("waymark.test"), None);
        assert!(!document_cookie().contains("waymark_test"));
        store.remove("waymark.test");
        assert_eq!(store.get("waymark.test"), None);
    }

    #[wasm_bindgen_test]
    fn a_cookie_round_trips_a_value_with_separators_in_it() {
        browser::use_cookies("", 30.0);
        let store = BrowserStore::Cookie;
        store.set("waymark.test", "a b;c=d,é");
        assert_eq!(store.get("waymark.test").as_deref(), Some("a b;c=d,é"));
        let raw = document_cookie();
        assert!(raw.contains("waymark_test=a%20b%3Bc%3Dd%2C%C3%A9"), "{raw}");
        store.remove("waymark.test");
    }

    #[wasm_bindgen_test]
    fn a_removed_cookie_reads_as_absent() {
        browser::use_cookies("", 30.0);
        let store = BrowserStore::Cookie;
        store.set("waymark.gone", "v");
        store.remove("waymark.gone");
        assert_eq!(store.get("waymark.gone"), None);
    }

    #[wasm_bindgen_test]
    fn one_name_is_not_mistaken_for_another_that_ends_like_it() {
        browser::use_cookies("", 30.0);
        let store = BrowserStore::Cookie;
        store.set("x.waymark.id", "other");
        store.set("waymark.id", "mine");
        assert_eq!(store.get("waymark.id").as_deref(), Some("mine"));
        store.remove("x.waymark.id");
        store.remove("waymark.id");
    }
}
