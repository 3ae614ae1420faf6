//! Pages: when a navigation is a new pageview and how long a page was
//! seen. (Which link clicks are outbound or downloads is decided where the
//! click is seen: `linkKind` in js/browser.js.)
//!
//! Policy: a pageview is counted when the URL differs from the last one
//! counted, whatever told us (pushState, replaceState, popstate,
//! hashchange: one navigation often fires several of them), and again when
//! the page comes back from the back-forward cache. Engagement is the time
//! the page was visible, sent when it is hidden or left.

use alloc::borrow::ToOwned;
use alloc::string::String;

#[derive(Debug, Default)]
pub struct Page {
    last_counted_url: Option<String>,
    visible_since: Option<i64>,
    engaged_ms: i64,
}

impl Page {
    /// Whether a navigation to `url` is a new pageview. `restored` is a
    /// back-forward-cache restore: the same URL, a new view.
    pub fn navigated(&mut self, url: &str, restored: bool) -> bool {
        if !restored && self.last_counted_url.as_deref() == Some(url) {
            return false;
        }
        self.last_counted_url = Some(url.to_owned());
        true
    }

    /// The URL of the pageview being engaged with.
    pub fn current_url(&self) -> Option<&str> {
        self.last_counted_url.as_deref()
    }

    pub fn shown(&mut self, now_ms: i64) {
        self.visible_since.get_or_insert(now_ms);
    }

    pub fn hidden(&mut self, now_ms: i64) {
        if let Some(since) = self.visible_since.take() {
            self.engaged_ms += (now_ms - since).max(0);
        }
    }

    /// The visible time since the last call, or `None` if there was none.
    pub fn take_engagement(&mut self, now_ms: i64) -> Option<i64> {
        let visible = self.visible_since.is_some();
        self.hidden(now_ms);
        if visible {
            self.visible_since = Some(now_ms);
        }
        let ms = core::mem::take(&mut self.engaged_ms);
        (ms > 0).then_some(ms)
    }
}

/// What a click on a link to `href` (absolute) from a page on `page_host` is.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_navigation_reported_twice_is_one_pageview() {
        let mut p = Page::default();
        assert!(p.navigated("https://a.example/", false));
        assert!(p.navigated("https://a.example/#b", false), "hashchange");
        assert!(!p.navigated("https://a.example/#b", false), "popstate for the same hash change");
        assert!(!p.navigated("https://a.example/#b", false), "replaceState with the same URL");
        assert!(p.navigated("https://a.example/c", false));
    }

    #[test]
    fn a_back_forward_cache_restore_is_a_new_pageview() {
        let mut p = Page::default();
        p.navigated("https://a.example/", false);
        assert!(p.navigated("https://a.example/", true));
    }

    #[test]
    fn engagement_counts_only_visible_time() {
        let mut p = Page::default();
        p.shown(0);
        p.hidden(10_000);
        p.hidden(20_000);
        p.shown(50_000);
        assert_eq!(p.take_engagement(55_000), Some(15_000));
        assert_eq!(p.take_engagement(55_000), None, "nothing new to report");
        p.hidden(56_000);
        assert_eq!(p.take_engagement(90_000), Some(1_000));
    }
}
