//! Where the SDK keeps its ids: behind one small trait, so the core decides
//! what is stored and when, and the web adapters only move strings.
//!
//! Cookie policy ([`CookieStore`]): first-party, `Path=/`, `SameSite=Lax`,
//! `Secure` on https, the configured `Domain` (so subdomains share the
//! ids) and lifetime; a key becomes a cookie name with `_` for `.`. The
//! browser edge only reads a cookie by name and writes the line it is
//! given (URI-encoding the value).

#[cfg(test)]
use alloc::borrow::ToOwned;
use alloc::string::String;
#[cfg(test)]
use alloc::vec::Vec;

#[cfg(test)]
use core::cell::{Cell, RefCell};

pub trait KeyValue {
    fn get(&self, key: &str) -> Option<String>;
    fn set(&self, key: &str, value: &str);
    fn remove(&self, key: &str);
}

/// Storage mode `none`: nothing is kept outside the tracker's memory, so
/// the ids last as long as the page (every load is a new visitor).
pub struct NoStore;

impl KeyValue for NoStore {
    fn get(&self, _: &str) -> Option<String> {
        None
    }
    fn set(&self, _: &str, _: &str) {}
    fn remove(&self, _: &str) {}
}

/// An in-memory store, for tests. A
/// handful of keys: a list is smaller than a map and as fast. Borrows are
/// never held across calls; `try_borrow` only keeps the panic message
/// (and `core::fmt` with it) out of the download.
#[cfg(test)]
#[derive(Default)]
pub struct MemoryStore {
    entries: RefCell<Vec<(String, String)>>,
}

#[cfg(test)]
impl MemoryStore {
    pub fn len(&self) -> usize {
        self.entries.try_borrow().map_or(0, |e| e.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
impl KeyValue for MemoryStore {
    fn get(&self, key: &str) -> Option<String> {
        self.entries.try_borrow().ok()?.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
    }
    fn set(&self, key: &str, value: &str) {
        self.remove(key);
        if let Ok(mut entries) = self.entries.try_borrow_mut() {
            entries.push((key.to_owned(), value.to_owned()));
        }
    }
    fn remove(&self, key: &str) {
        if let Ok(mut entries) = self.entries.try_borrow_mut() {
            entries.retain(|(k, _)| k != key);
        }
    }
}

/// `document.cookie`, as the browser edge reads and writes it.
pub trait Cookies {
    /// The URI-decoded value of the cookie `name`, if set.
    fn read(&self, name: &str) -> Option<String>;
    /// Sets `name` to `value` (URI-encoded) with `attributes` (`; Path=/; …`).
    fn write(&self, name: &str, value: &str, attributes: &str);
}

/// The attributes of the SDK's cookies, decided once at start.
#[derive(Debug, Clone, PartialEq)]
pub struct CookieAttributes {
    /// For a value that is kept: `Max-Age` of the configured lifetime.
    pub keep: String,
    /// For a removal: `Max-Age=0`.
    pub expire: String,
}

impl CookieAttributes {
    /// The attributes `config` asks for, on a page served over `https` or not.
    pub fn for_config(config: &crate::core::config::Config, https: bool) -> CookieAttributes {
        CookieAttributes::new(config.cookie_domain.as_deref(), config.cookie_days, https)
    }

    pub fn new(domain: Option<&str>, days: i64, https: bool) -> CookieAttributes {
        let line = |max_age_s: i64| {
            let mut s = String::from("; Path=/; SameSite=Lax; Max-Age=");
            crate::core::json::push_int(&mut s, max_age_s);
            if https {
                s.push_str("; Secure");
            }
            if let Some(domain) = domain {
                s.push_str("; Domain=");
                s.push_str(domain);
            }
            s
        };
        CookieAttributes { keep: line(days * 86_400), expire: line(0) }
    }
}

/// The cookie name of a storage key: `waymark.session` → `waymark_session`.
pub fn cookie_name(key: &str) -> String {
    let mut name = String::new();
    for (i, piece) in crate::core::text::split(key, b'.').enumerate() {
        if i > 0 {
            name.push('_');
        }
        name.push_str(piece);
    }
    name
}

/// Ids as first-party cookies, with the attributes decided at start.
pub struct CookieStore<J: Cookies> {
    pub jar: J,
    pub attributes: CookieAttributes,
}

impl<J: Cookies> KeyValue for CookieStore<J> {
    fn get(&self, key: &str) -> Option<String> {
        self.jar.read(&cookie_name(key))
    }
    fn set(&self, key: &str, value: &str) {
        self.jar.write(&cookie_name(key), value, &self.attributes.keep);
    }
    fn remove(&self, key: &str) {
        self.jar.write(&cookie_name(key), "", &self.attributes.expire);
    }
}

/// A cookie jar in memory that keeps every line written, for tests.
#[cfg(test)]
#[derive(Default)]
pub struct FakeJar {
    pub lines: RefCell<Vec<(String, String, String)>>,
}

#[cfg(test)]
impl Cookies for FakeJar {
    fn read(&self, name: &str) -> Option<String> {
        let lines = self.lines.borrow();
        let (_, value, attributes) = lines.iter().rev().find(|(n, _, _)| n == name)?;
        (!attributes.contains("Max-Age=0")).then(|| value.clone())
    }
    fn write(&self, name: &str, value: &str, attributes: &str) {
        self.lines.borrow_mut().push((name.to_owned(), value.to_owned(), attributes.to_owned()));
    }
}

/// A memory store that counts every access, for tests of what touches storage.
#[cfg(test)]
#[derive(Default)]
pub struct CountingStore {
    inner: MemoryStore,
    reads: Cell<usize>,
    writes: Cell<usize>,
}

#[cfg(test)]
impl CountingStore {
    /// (reads, writes and removals) so far.
    pub fn counts(&self) -> (usize, usize) {
        (self.reads.get(), self.writes.get())
    }
    pub fn keys(&self) -> Vec<String> {
        self.inner.entries.borrow().iter().map(|(k, _)| k.clone()).collect()
    }
}

#[cfg(test)]
impl KeyValue for CountingStore {
    fn get(&self, key: &str) -> Option<String> {
        self.reads.set(self.reads.get() + 1);
        self.inner.get(key)
    }
    fn set(&self, key: &str, value: &str) {
        self.writes.set(self.writes.get() + 1);
        self.inner.set(key, value)
    }
    fn remove(&self, key: &str) {
        self.writes.set(self.writes.get() + 1);
        self.inner.remove(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_carry_samesite_lifetime_and_the_configured_domain() {
        let attributes = CookieAttributes::new(Some("example.com"), 7, false);
        assert_eq!(attributes.keep, "; Path=/; SameSite=Lax; Max-Age=604800; Domain=example.com");
        assert_eq!(attributes.expire, "; Path=/; SameSite=Lax; Max-Age=0; Domain=example.com");
        assert_eq!(CookieAttributes::new(None, 30, true).keep, "; Path=/; SameSite=Lax; Max-Age=2592000; Secure");
    }

    #[test]
    fn a_key_is_a_cookie_of_its_name_with_underscores_and_removal_expires_it() {
        let store = CookieStore { jar: FakeJar::default(), attributes: CookieAttributes::new(None, 1, false) };
        store.set("waymark.visitor", "v");
        assert_eq!(store.get("waymark.visitor").as_deref(), Some("v"));
        store.remove("waymark.visitor");
        assert_eq!(store.get("waymark.visitor"), None);
        assert_eq!(store.jar.lines.borrow()[0].0, "waymark_visitor");
    }
}
