//! `localStorage` as a [`KeyValue`]. Browsers may refuse storage (private
//! modes, quotas, blocked third-party frames): every failure reads as
//! "absent" and writes are dropped, never thrown.

use alloc::string::String;

use crate::core::storage::KeyValue;

pub struct LocalStorage(Option<web_sys::Storage>);

impl LocalStorage {
    pub fn new() -> Self {
        LocalStorage(web_sys::window().and_then(|w| w.local_storage().ok().flatten()))
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
        let store = LocalStorage::new();
        store.set("waymark.test", "v1");
        assert_eq!(store.get("waymark.test").as_deref(), Some("v1"));
        store.remove("waymark.test");
        assert_eq!(store.get("waymark.test"), None);
    }

    #[wasm_bindgen_test]
    fn a_session_written_in_one_turn_is_read_by_another_tracker_as_another_tab_would() {
        use crate::core::session::Sessions;
        let store = LocalStorage::new();
        store.remove(crate::core::session::SESSION_KEY);
        let mut tab_a = Sessions::new(30 * 60_000, 24 * 3_600_000);
        let id = tab_a.touch(&store, 1_000).0.session.id.clone();
        tab_a.end_turn(&store);
        let mut tab_b = Sessions::new(30 * 60_000, 24 * 3_600_000);
        assert_eq!(tab_b.touch(&store, 2_000).0.session.id, id);
        tab_b.forget(&store);
    }
}
