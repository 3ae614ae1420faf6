//! Where the SDK keeps its ids: behind one small trait, so the core decides
//! what is stored and when, and the web adapter only moves strings.

use std::cell::RefCell;
use std::collections::BTreeMap;

pub trait KeyValue {
    fn get(&self, key: &str) -> Option<String>;
    fn set(&self, key: &str, value: &str);
    fn remove(&self, key: &str);
}

/// An in-memory store: for tests, and for the `none` storage mode.
#[derive(Default)]
pub struct MemoryStore {
    entries: RefCell<BTreeMap<String, String>>,
}

impl MemoryStore {
    pub fn len(&self) -> usize {
        self.entries.borrow().len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.borrow().is_empty()
    }
}

impl KeyValue for MemoryStore {
    fn get(&self, key: &str) -> Option<String> {
        self.entries.borrow().get(key).cloned()
    }
    fn set(&self, key: &str, value: &str) {
        self.entries.borrow_mut().insert(key.to_owned(), value.to_owned());
    }
    fn remove(&self, key: &str) {
        self.entries.borrow_mut().remove(key);
    }
}
