//! `localStorage` as a [`KeyValue`]. Browsers may refuse storage (private
//! modes, quotas): every failure reads as "absent" and writes are dropped.

use crate::core::storage::KeyValue;

pub struct LocalStorage(Option<web_sys::Storage>);

impl LocalStorage {
    pub fn new(window: &web_sys::Window) -> Self {
        LocalStorage(window.local_storage().ok().flatten())
    }
}

impl KeyValue for LocalStorage {
    fn get(&self, key: &str) -> Option<String> {
        self.0.as_ref()?.get_item(key).ok().flatten()
    }
    fn set(&self, key: &str, value: &str) {
        if let Some(s) = &self.0 {
            let _ = s.set_item(key, value);
        }
    }
    fn remove(&self, key: &str) {
        if let Some(s) = &self.0 {
            let _ = s.remove_item(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::*;

    wasm_bindgen_test_configure!(run_in_browser);

    #[wasm_bindgen_test]
    fn local_storage_round_trips_a_value() {
        let window = web_sys::window().unwrap();
        let store = LocalStorage::new(&window);
        store.set("waymark.test", "v1");
        assert_eq!(store.get("waymark.test").as_deref(), Some("v1"));
        store.remove("waymark.test");
        assert_eq!(store.get("waymark.test"), None);
    }
}
