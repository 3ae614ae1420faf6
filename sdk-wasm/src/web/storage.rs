//! `localStorage`, first-party cookies and the CSPRNG, through
//! `js/browser.js`. Browsers may refuse storage (private modes, quotas,
//! blocked third-party frames): every failure reads as "absent" and writes
//! are dropped, never thrown. What is stored, under which cookie name and
//! with which attributes is decided in `core::storage`.

use alloc::string::String;

use super::browser;
use crate::core::ids::Random;
#[cfg(feature = "extras")]
use crate::core::storage::Cookies;
use crate::core::storage::KeyValue;

pub struct LocalStorage;

impl KeyValue for LocalStorage {
    fn get(&self, key: &str) -> Option<String> {
        browser::local_get(key)
    }
    fn set(&self, key: &str, value: &str) {
        browser::local_set(key, value);
    }
    fn remove(&self, key: &str) {
        browser::local_remove(key);
    }
}

/// In the `extras` module only (see `Browser` in mod.rs).
#[cfg(feature = "extras")]
pub struct BrowserCookies;

#[cfg(feature = "extras")]
impl Cookies for BrowserCookies {
    fn read(&self, name: &str) -> Option<String> {
        browser::read_cookie(name)
    }
    fn write(&self, name: &str, value: &str, attributes: &str) {
        browser::write_cookie(name, value, attributes);
    }
}

/// `crypto.getRandomValues` (through `fillRandom` in js/browser.js, which
/// fills the pool in place: smaller than getrandom's JS objects), fetched
/// 16 ids at a time:
/// every event needs a UUID, and one call per event would be most of the
/// cost of `track()`. Each byte is used once.
pub struct Csprng;

struct Pool {
    bytes: [u8; 256],
    used: usize,
}

struct PoolCell(core::cell::RefCell<Pool>);
// SAFETY: wasm32 without atomics is single-threaded.
unsafe impl Sync for PoolCell {}

static POOL: PoolCell = PoolCell(core::cell::RefCell::new(Pool { bytes: [0; 256], used: 256 }));

impl Random for Csprng {
    fn fill(&self, out: &mut [u8]) {
        let Ok(mut pool) = POOL.0.try_borrow_mut() else { return };
        if pool.used + out.len() > pool.bytes.len() {
            // The browser's CSPRNG does not fail once the page has a
            // `crypto` object. If it ever did, ids would collide and the
            // collector would merge those visits: a wrong count, never a
            // broken page.
            browser::fill_random(&mut pool.bytes);
            pool.used = 0;
        }
        let start = pool.used;
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = pool.bytes.get(start + i).copied().unwrap_or(0);
        }
        pool.used += out.len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::storage::{CookieAttributes, CookieStore};
    use wasm_bindgen_test::*;

    wasm_bindgen_test_configure!(run_in_browser);

    fn document_cookie() -> String {
        let document = js_sys::Reflect::get(&js_sys::global(), &"document".into()).unwrap();
        js_sys::Reflect::get(&document, &"cookie".into()).unwrap().as_string().unwrap()
    }

    fn with_cookies(f: impl FnOnce(&CookieStore<BrowserCookies>)) {
        f(&CookieStore { jar: BrowserCookies, attributes: CookieAttributes::new(None, 30, false) });
    }

    #[wasm_bindgen_test]
    fn local_storage_round_trips_a_value() {
        LocalStorage.set("waymark.test", "v1");
        assert_eq!(LocalStorage.get("waymark.test").as_deref(), Some("v1"));
        LocalStorage.remove("waymark.test");
        assert_eq!(LocalStorage.get("waymark.test"), None);
    }

    #[wasm_bindgen_test]
    fn a_session_written_in_one_turn_is_read_by_another_tracker_as_another_tab_would() {
        use crate::core::session::Sessions;
        LocalStorage.remove(crate::core::session::SESSION_KEY);
        let mut tab_a = Sessions::new(30 * 60_000, 24 * 3_600_000);
        let id = tab_a.touch(&LocalStorage, &Csprng, 1_000).0.session.id.clone();
        tab_a.end_turn(&LocalStorage);
        let mut tab_b = Sessions::new(30 * 60_000, 24 * 3_600_000);
        assert_eq!(tab_b.touch(&LocalStorage, &Csprng, 2_000).0.session.id, id);
        tab_b.forget(&LocalStorage);
    }

    #[wasm_bindgen_test]
    fn a_cookie_round_trips_a_value_with_separators_in_it() {
        with_cookies(|store| {
            store.set("waymark.test", "a b;c=d,é");
            assert_eq!(store.get("waymark.test").as_deref(), Some("a b;c=d,é"));
            let raw = document_cookie();
            assert!(raw.contains("waymark_test=a%20b%3Bc%3Dd%2C%C3%A9"), "{raw}");
            store.remove("waymark.test");
        });
    }

    #[wasm_bindgen_test]
    fn a_removed_cookie_reads_as_absent() {
        with_cookies(|store| {
            store.set("waymark.gone", "v");
            store.remove("waymark.gone");
            assert_eq!(store.get("waymark.gone"), None);
        });
    }

    #[wasm_bindgen_test]
    fn one_name_is_not_mistaken_for_another_that_ends_like_it() {
        with_cookies(|store| {
            store.set("x.waymark.id", "other");
            store.set("waymark.id", "mine");
            assert_eq!(store.get("waymark.id").as_deref(), Some("mine"));
            store.remove("x.waymark.id");
            store.remove("waymark.id");
        });
    }

    #[wasm_bindgen_test]
    fn random_bytes_from_the_browser_differ_between_ids() {
        let (mut a, mut b) = ([0u8; 16], [0u8; 16]);
        Csprng.fill(&mut a);
        Csprng.fill(&mut b);
        assert_ne!(a, b);
    }
}
