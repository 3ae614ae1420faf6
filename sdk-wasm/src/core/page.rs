//! Pages: when a navigation is a new pageview, how long a page was seen,
//! and which link clicks are outbound or downloads.
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

/// What a click on a link is worth reporting as.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LinkKind {
    Outbound,
    Download,
}

/// File extensions whose links count as downloads, separated by spaces
/// (one string is smaller in the module than a list of them).
pub const DOWNLOAD_EXTENSIONS: &str = "pdf zip gz tgz rar 7z dmg exe msi pkg deb rpm apk iso csv xlsx xls docx doc pptx txt mp3 mp4 epub";

/// The host and path of an absolute http(s) URL (as the browser writes
/// it: `https://host:port/path?query#hash`), or `None` for another scheme.
pub fn host_and_path(url: &str) -> Option<(&str, &str)> {
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"))?;
    let bytes = rest.as_bytes();
    let path_end = bytes.iter().position(|b| *b == b'?' || *b == b'#').unwrap_or(bytes.len());
    let host_end = bytes.iter().take(path_end).position(|b| *b == b'/').unwrap_or(path_end);
    Some((rest.get(..host_end)?, rest.get(host_end..path_end)?))
}

/// A click on a link to `href` (absolute) from the page at `page_url`.
/// Policy: only http(s) links; a link to a file (by its extension, in any
/// case) is a download, else a link to another host is outbound; each
/// only if the site switched it on.
pub fn classify_link(href: &str, page_url: &str, outbound: bool, downloads: bool) -> Option<LinkKind> {
    let (host, path) = host_and_path(href)?;
    let page_host = host_and_path(page_url).map_or("", |(host, _)| host);
    // The last segment's extension; `get` keeps panic paths out of the module.
    let path = path.as_bytes();
    let extension = path.iter().rposition(|c| *c == b'.').and_then(|dot| path.get(dot + 1..)).filter(|e| !e.contains(&b'/'));
    let is_file = extension.is_some_and(|e| crate::core::text::split(DOWNLOAD_EXTENSIONS, b' ').any(|ext| ext.as_bytes().eq_ignore_ascii_case(e)));
    if downloads && is_file {
        Some(LinkKind::Download)
    } else if outbound && !host.eq_ignore_ascii_case(page_host) {
        Some(LinkKind::Outbound)
    } else {
        None
    }
}

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
    fn links_to_other_hosts_are_outbound_and_files_are_downloads() {
        let page = "https://shop.example/pricing?x#y";
        let kind = |href: &str| classify_link(href, page, true, true);
        assert_eq!(kind("https://other.example/x"), Some(LinkKind::Outbound));
        assert_eq!(kind("https://shop.example/x"), None);
        assert_eq!(kind("http://shop.example:8080/x"), Some(LinkKind::Outbound), "another port is another host");
        assert_eq!(kind("https://shop.example/files/Report.PDF?v=2"), Some(LinkKind::Download));
        assert_eq!(kind("https://cdn.example/app.dmg#x"), Some(LinkKind::Download));
        assert_eq!(kind("https://shop.example/pdf"), None, "an extension needs its dot");
        assert_eq!(kind("https://shop.example/a.b/c?f=x.pdf"), None, "the query is not the path");
        assert_eq!(kind("mailto:a@b.example"), None);
        assert_eq!(classify_link("https://other.example/", page, false, true), None, "outbound is opt-in");
        assert_eq!(classify_link("https://shop.example/a.pdf", page, true, false), None, "downloads are opt-in");
    }

    #[test]
    fn urls_split_into_host_and_path() {
        assert_eq!(host_and_path("https://a.example:8080/b/c?d#e"), Some(("a.example:8080", "/b/c")));
        assert_eq!(host_and_path("http://a.example"), Some(("a.example", "")));
        assert_eq!(host_and_path("http://a.example?q=/x"), Some(("a.example", "")));
        assert_eq!(host_and_path("ftp://a.example/"), None);
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
