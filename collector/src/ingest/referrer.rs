//! Where a visit came from: the referrer → source and medium, and the UTM
//! parameters of the page's URL.
//!
//! Policy, in order: UTM parameters win (`utm_source`, `utm_medium`; a
//! `gclid`/`msclkid` means paid search), a `utm_source` naming a known
//! referrer (`google`, `google.com`, `FACEBOOK`) giving that referrer's
//! source name, so a campaign and a search from one engine are one row; a referrer on the page's own host is
//! internal navigation (`(internal)`, not a new source); a known search
//! engine, social network or webmail gives its name and `organic`,
//! `social` or `email`; any other referrer is a `referral` from its host; no
//! referrer is `(direct)` / `(none)`. A session whose first event is
//! internal navigation (a visit that resumes on the site after the timeout)
//! came from the site itself: for the session that is a direct visit
//! ([`session_source`]).

use url::Url;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attribution {
    pub referrer_host: Option<String>,
    pub source: String,
    pub medium: String,
    pub utm_source: Option<String>,
    pub utm_medium: Option<String>,
    pub utm_campaign: Option<String>,
    pub utm_term: Option<String>,
    pub utm_content: Option<String>,
}

/// Known referrers: a host suffix, the source name and the medium.
const KNOWN: &[(&str, &str, &str)] = &[
    ("google.", "Google", "organic"),
    ("bing.com", "Bing", "organic"),
    ("duckduckgo.com", "DuckDuckGo", "organic"),
    ("search.yahoo.", "Yahoo", "organic"),
    ("yandex.", "Yandex", "organic"),
    ("baidu.com", "Baidu", "organic"),
    ("ecosia.org", "Ecosia", "organic"),
    ("search.brave.com", "Brave", "organic"),
    ("qwant.com", "Qwant", "organic"),
    ("startpage.com", "Startpage", "organic"),
    ("kagi.com", "Kagi", "organic"),
    ("facebook.com", "Facebook", "social"),
    ("fb.com", "Facebook", "social"),
    ("instagram.com", "Instagram", "social"),
    ("t.co", "Twitter", "social"),
    ("twitter.com", "Twitter", "social"),
    ("x.com", "Twitter", "social"),
    ("linkedin.com", "LinkedIn", "social"),
    ("lnkd.in", "LinkedIn", "social"),
    ("reddit.com", "Reddit", "social"),
    ("youtube.com", "YouTube", "social"),
    ("pinterest.", "Pinterest", "social"),
    ("tiktok.com", "TikTok", "social"),
    ("news.ycombinator.com", "Hacker News", "social"),
    ("mastodon.social", "Mastodon", "social"),
    ("bsky.app", "Bluesky", "social"),
    ("threads.net", "Threads", "social"),
    ("mail.google.com", "Gmail", "email"),
    ("outlook.live.com", "Outlook", "email"),
    ("outlook.office.com", "Outlook", "email"),
    ("mail.yahoo.com", "Yahoo Mail", "email"),
    ("mail.proton.me", "Proton Mail", "email"),
];

pub const DIRECT: &str = "(direct)";
pub const INTERNAL: &str = "(internal)";

/// Where a session came from, by its first event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSource {
    pub referrer_host: Option<String>,
    pub source: Option<String>,
    pub medium: Option<String>,
}

/// The session's source is its first event's, except that internal
/// navigation starts a direct visit.
pub fn session_source(first: &crate::event::StoredEvent) -> SessionSource {
    if first.source.as_deref() == Some(INTERNAL) {
        SessionSource { referrer_host: None, source: Some(DIRECT.into()), medium: Some("(none)".into()) }
    } else {
        SessionSource { referrer_host: first.referrer_host.clone(), source: first.source.clone(), medium: first.medium.clone() }
    }
}

/// Attributes events, remembering the last page and referrer: the events
/// of one batch mostly share both (a page's pageview, engagement and
/// custom events), and a page's links share the referrer, so most events
/// of a batch parse no URL. One per batch.
#[derive(Default)]
pub struct Attributions {
    page: Option<(String, Page)>,
    referrer: Option<(Option<String>, Option<String>, Referred)>,
}

impl Attributions {
    /// Attribution of an event on `page_url` (absolute http(s), validated)
    /// reached from `referrer`.
    pub fn attribute(&mut self, page_url: &str, referrer: Option<&str>) -> Attribution {
        let page = match &self.page {
            Some((url, page)) if url == page_url => page,
            _ => &self.page.insert((page_url.to_owned(), Page::parse(page_url))).1,
        };
        let referred = match &self.referrer {
            Some((r, host, referred)) if r.as_deref() == referrer && *host == page.host => referred,
            _ => &self.referrer.insert((referrer.map(str::to_owned), page.host.clone(), classify_referrer(referrer, page.host.as_deref()))).2,
        };
        combine(page, referred.clone())
    }
}

/// What attribution reads of the page's URL: its host without `www.` and
/// its campaign parameters.
#[derive(Default)]
struct Page {
    host: Option<String>,
    utm: Attribution,
}

impl Page {
    fn parse(page_url: &str) -> Page {
        let Ok(page) = Url::parse(page_url) else { return Page::default() };
        let mut a = Attribution::default();
        for (key, value) in page.query_pairs() {
            let value = Some(value.chars().take(200).collect::<String>()).filter(|v| !v.is_empty());
            match key.as_ref() {
                "utm_source" => a.utm_source = value,
                "utm_medium" => a.utm_medium = value,
                "utm_campaign" => a.utm_campaign = value,
                "utm_term" => a.utm_term = value,
                "utm_content" => a.utm_content = value,
                "gclid" | "msclkid" if a.utm_medium.is_none() => a.utm_medium = Some("cpc".into()),
                _ => {}
            }
        }
        Page { host: page.host_str().map(|h| strip_www(h).to_owned()), utm: a }
    }
}

/// The referrer's host, source and medium, before campaign parameters.
#[derive(Clone)]
struct Referred {
    host: Option<String>,
    source: String,
    medium: String,
}

fn classify_referrer(referrer: Option<&str>, page_host: Option<&str>) -> Referred {
    let referrer_host =
        referrer.filter(|r| !r.is_empty()).and_then(|r| Url::parse(r).ok()).and_then(|r| r.host_str().map(str::to_ascii_lowercase));
    let (source, medium) = match (&referrer_host, page_host) {
        (Some(r), Some(p)) if strip_www(r) == p => (INTERNAL.to_owned(), "internal".to_owned()),
        // The most specific pattern wins: `mail.google.com` over `google.`.
        (Some(r), _) => match KNOWN.iter().filter(|(pattern, _, _)| host_matches(r, pattern)).max_by_key(|(p, _, _)| p.len()) {
            Some((_, name, medium)) => ((*name).to_owned(), (*medium).to_owned()),
            None => (strip_www(r).to_owned(), "referral".to_owned()),
        },
        (None, _) => (DIRECT.to_owned(), "(none)".to_owned()),
    };
    Referred { host: referrer_host, source, medium }
}

fn combine(page: &Page, referred: Referred) -> Attribution {
    let mut a = page.utm.clone();
    a.referrer_host = referred.host;
    a.source = a.utm_source.as_deref().map(source_named).unwrap_or(referred.source);
    a.medium = a.utm_medium.clone().unwrap_or(referred.medium);
    a
}

/// The source a `utm_source` value names: a known referrer's name when it
/// is that name or one of its hosts, in any case; else the value as sent.
fn source_named(utm_source: &str) -> String {
    let lower = utm_source.trim().to_ascii_lowercase();
    let by_name = KNOWN.iter().find(|(_, name, _)| name.to_ascii_lowercase() == lower);
    let by_host = || {
        let host = strip_www(&lower);
        let host = if host.contains('.') { host.to_owned() } else { format!("{host}.com") };
        KNOWN.iter().filter(|(pattern, _, _)| host_matches(&host, pattern)).max_by_key(|(p, _, _)| p.len())
    };
    match by_name.or_else(by_host) {
        Some((_, name, _)) => (*name).to_owned(),
        None => utm_source.to_owned(),
    }
}

fn strip_www(host: &str) -> &str {
    host.strip_prefix("www.").unwrap_or(host)
}

/// `www.google.co.uk` matches `google.`; `mail.google.com` matches
/// `mail.google.com`; `notgoogle.com` matches neither.
fn host_matches(host: &str, pattern: &str) -> bool {
    let labels_start = |at: usize| at == 0 || host.as_bytes()[at - 1] == b'.';
    if pattern.ends_with('.') {
        host.match_indices(pattern).any(|(at, _)| labels_start(at))
    } else {
        host.ends_with(pattern) && labels_start(host.len() - pattern.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An event attributed alone, with nothing remembered.
    fn attribute(page_url: &str, referrer: Option<&str>) -> Attribution {
        Attributions::default().attribute(page_url, referrer)
    }

    fn source_medium(url: &str, referrer: Option<&str>) -> (String, String) {
        let a = attribute(url, referrer);
        (a.source, a.medium)
    }

    #[test]
    fn a_campaign_naming_a_known_referrer_shares_its_source_with_that_referrers_visits() {
        let searched = source_medium("https://shop.example/", Some("https://www.google.com/search?q=shoes"));
        assert_eq!(searched.0, "Google");
        for tag in ["google", "Google", "GOOGLE", "google.com", "www.google.de"] {
            let url = format!("https://shop.example/?utm_source={tag}&utm_medium=cpc");
            let a = attribute(&url, None);
            assert_eq!((a.source.as_str(), a.utm_source.as_deref()), ("Google", Some(tag)), "utm_source={tag}");
        }
        assert_eq!(attribute("https://shop.example/?utm_source=facebook", None).source, "Facebook");
        assert_eq!(attribute("https://shop.example/?utm_source=x", None).source, "Twitter");
        assert_eq!(attribute("https://shop.example/?utm_source=gmail", None).source, "Gmail");
        // Not a known referrer: kept as sent.
        assert_eq!(attribute("https://shop.example/?utm_source=Newsletter", None).source, "Newsletter");
        assert_eq!(attribute("https://shop.example/?utm_source=googlefan.net", None).source, "googlefan.net");
    }

    #[test]
    fn referrers_become_sources_and_media() {
        let page = "https://shop.example/item";
        let cases = [
            (None, "(direct)", "(none)"),
            (Some(""), "(direct)", "(none)"),
            (Some("https://www.google.co.uk/"), "Google", "organic"),
            (Some("https://duckduckgo.com/"), "DuckDuckGo", "organic"),
            (Some("https://t.co/abc"), "Twitter", "social"),
            (Some("https://old.reddit.com/r/rust"), "Reddit", "social"),
            (Some("https://mail.google.com/mail/u/0"), "Gmail", "email"),
            (Some("https://www.news.example/story"), "news.example", "referral"),
            (Some("https://notgoogle.com/"), "notgoogle.com", "referral"),
            (Some("https://www.shop.example/cart"), "(internal)", "internal"),
        ];
        for (referrer, source, medium) in cases {
            assert_eq!(source_medium(page, referrer), (source.into(), medium.into()), "{referrer:?}");
        }
    }

    #[test]
    fn utm_parameters_override_the_referrer() {
        let a = attribute(
            "https://shop.example/?utm_source=newsletter&utm_medium=email&utm_campaign=spring%20sale&utm_term=shoes&utm_content=top",
            Some("https://mail.google.com/"),
        );
        assert_eq!((a.source.as_str(), a.medium.as_str()), ("newsletter", "email"));
        assert_eq!(a.utm_campaign.as_deref(), Some("spring sale"));
        assert_eq!((a.utm_term.as_deref(), a.utm_content.as_deref()), (Some("shoes"), Some("top")));
        assert_eq!(a.referrer_host.as_deref(), Some("mail.google.com"));
    }

    #[test]
    fn a_batch_remembering_its_pages_and_referrers_attributes_each_event_alone() {
        let events = [
            ("https://shop.example/a?utm_source=news", Some("https://www.google.com/")),
            ("https://shop.example/a?utm_source=news", Some("https://www.google.com/")),
            ("https://shop.example/b", Some("https://www.google.com/")),
            ("https://shop.example/b", Some("https://shop.example/a")),
            // The same referrer, internal on one site and a referral on another.
            ("https://blog.example/", Some("https://shop.example/a")),
            ("https://blog.example/", None),
            ("https://blog.example/?gclid=1", None),
            ("https://shop.example/b", Some("https://shop.example/a")),
        ];
        let mut batch = Attributions::default();
        for (page, referrer) in events {
            assert_eq!(batch.attribute(page, referrer), attribute(page, referrer), "{page} from {referrer:?}");
        }
        assert_eq!(batch.attribute("https://blog.example/", Some("https://shop.example/a")).medium, "referral");
    }

    #[test]
    fn a_click_id_marks_paid_search() {
        assert_eq!(source_medium("https://shop.example/?gclid=abc", Some("https://www.google.com/")), ("Google".into(), "cpc".into()));
    }
}
