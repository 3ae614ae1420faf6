//! First-party cookies as a [`KeyValue`]: `SameSite=Lax`, `Secure` on
//! https, on `/`, with the configured domain (so subdomains share the ids)
//! and lifetime. Keys become cookie names with `_` for `.`; values are
//! URI-encoded.

use alloc::string::String;

use js_sys::{Reflect, decode_uri_component, encode_uri_component};
use wasm_bindgen::JsValue;

use crate::core::json::int_string;
use crate::core::storage::KeyValue;

pub struct CookieStore {
    document: JsValue,
    lifetime_s: i64,
    /// `; Secure; Domain=…` as configured.
    scope: String,
}

impl CookieStore {
    pub fn new(document: JsValue, secure: bool, domain: Option<&str>, days: i64) -> CookieStore {
        let mut scope = String::new();
        if secure {
            scope.push_str("; Secure");
        }
        if let Some(domain) = domain {
            scope.push_str("; Domain=");
            scope.push_str(domain);
        }
        CookieStore { document, lifetime_s: days * 86_400, scope }
    }

    /// `name=value; Path=/; SameSite=Lax; Max-Age=…; Secure; Domain=…`
    fn cookie(&self, key: &str, value: &str, max_age_s: i64) -> String {
        let mut cookie = cookie_name(key);
        cookie.push('=');
        cookie.push_str(&String::from(encode_uri_component(value)));
        cookie.push_str("; Path=/; SameSite=Lax; Max-Age=");
        cookie.push_str(&int_string(max_age_s));
        cookie.push_str(&self.scope);
        cookie
    }

    fn write(&self, cookie: String) {
        let _ = Reflect::set(&self.document, &"cookie".into(), &cookie.into());
    }
}

fn cookie_name(key: &str) -> String {
    key.replace('.', "_")
}

impl KeyValue for CookieStore {
    fn get(&self, key: &str) -> Option<String> {
        let all = Reflect::get(&self.document, &"cookie".into()).ok()?.as_string()?;
        let name = cookie_name(key);
        let raw = all.split(';').find_map(|c| c.trim_start().split_once('=').filter(|(n, _)| *n == name).map(|(_, v)| v))?;
        decode_uri_component(raw).ok().map(String::from)
    }

    fn set(&self, key: &str, value: &str) {
        self.write(self.cookie(key, value, self.lifetime_s));
    }

    fn remove(&self, key: &str) {
        self.write(self.cookie(key, "", 0));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::*;

    wasm_bindgen_test_configure!(run_in_browser);

    fn store() -> CookieStore {
        let document: JsValue = web_sys::window().unwrap().document().unwrap().into();
        CookieStore::new(document, false, None, 30)
    }

    #[wasm_bindgen_test]
    fn a_cookie_round_trips_a_value_with_separators_in_it() {
        let store = store();
        store.set("waymark.test", "a b;c=d,é");
        assert_eq!(store.get("waymark.test").as_deref(), Some("a b;c=d,é"));
        let raw: String = Reflect::get(&store.document, &"cookie".into()).unwrap().as_string().unwrap();
        assert!(raw.contains("waymark_test=a%20b%3Bc%3Dd%2C%C3%A9"), "{raw}");
    }

    #[wasm_bindgen_test]
    fn a_removed_cookie_reads_as_absent() {
        let store = store();
        store.set("waymark.gone", "v");
        store.remove("waymark.gone");
        assert_eq!(store.get("waymark.gone"), None);
    }

    #[wasm_bindgen_test]
    fn one_name_is_not_mistaken_for_another_that_ends_like_it() {
        let store = store();
        store.set("x.waymark.id", "other");
        store.set("waymark.id", "mine");
        assert_eq!(store.get("waymark.id").as_deref(), Some("mine"));
        store.remove("x.waymark.id");
        store.remove("waymark.id");
    }

    #[wasm_bindgen_test]
    fn the_attributes_carry_samesite_lifetime_secure_and_domain() {
        let s = CookieStore::new(JsValue::NULL, true, Some("example.com"), 7);
        assert_eq!(s.cookie("waymark.visitor", "v", s.lifetime_s), "waymark_visitor=v; Path=/; SameSite=Lax; Max-Age=604800; Secure; Domain=example.com");
    }
}
