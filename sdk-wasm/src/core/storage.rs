//! Where the SDK keeps its ids: behind one small trait, so the core decides
//! what is stored and when, and the web adapters only move strings.

use alloc::borrow::ToOwned;
use alloc::string::String;
use alloc::vec::Vec;

use core::cell::RefCell;
#[cfg(test)]
use core::cell::Cell;

pub trait KeyValue {
    fn get(&self, key: &str) -> Option<String>;
    fn set(&self, key: &str, value: &str);
    fn remove(&self, key: &str);
}

/// An in-memory store, for tests (the browser keeps the `none` mode's ids
/// in the page's memory: `web::storage`). A
/// handful of keys: a list is smaller than a map and as fast. Borrows are
/// never held across calls; `try_borrow` only keeps the panic message
/// (and `core::fmt` with it) out of the download.
#[derive(Default)]
pub struct MemoryStore {
    entries: RefCell<Vec<(String, String)>>,
}

impl MemoryStore {
    pub fn len(&self) -> usize {
        self.entries.try_borrow().map_or(0, |e| e.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

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
