//! The consent log: every consent decision a site received (`$consent`
//! events), newest first, so a site owner can answer "when and how did
//! this visitor consent?".
//!
//! Policy:
//! - a record is one stored `$consent` event in the period (by its own
//!   time, the site's days), of one visitor when the request names one;
//!   newest first (time, then event id), a page at a time, with the total;
//! - its properties are read as the SDK writes them: each property whose
//!   value is `granted` or `denied` is a category's decision, `version` is
//!   the banner's version (`data-consent-version`), and the properties as
//!   sent stay in the record (the "how": anything a banner or a server
//!   adds);
//! - `cookieless` is a decision sent without the SDK's session id: from a
//!   browser that is a denial (or a decision on a cookieless site) made
//!   while nothing was granted, and its visitor id is the collector's daily
//!   key, not an id the browser keeps; a withdrawal of a grant carries the
//!   ids it withdraws.

use std::collections::BTreeMap;

use serde::Serialize;

use super::period::Period;
use super::table::{Table, cell};

/// Records one page holds at most: a period's log fits in a few pages.
pub const MAX_PER_PAGE: usize = 10_000;
/// The property that names the banner's version.
pub const VERSION_PROP: &str = "version";

#[derive(Debug, Clone)]
pub struct ConsentLogRequest {
    pub period: Period,
    /// Only this visitor's decisions.
    pub visitor_id: Option<String>,
    /// Zero-based.
    pub page: usize,
    pub per_page: usize,
}

impl ConsentLogRequest {
    /// Records on one page: at least one, at most [`MAX_PER_PAGE`].
    pub fn per_page(&self) -> usize {
        self.per_page.clamp(1, MAX_PER_PAGE)
    }

    /// Records before this page; a page past any store's end (up to
    /// `usize::MAX`, as a query string may ask) is past `i64::MAX`, where
    /// every backend finds nothing.
    pub fn offset(&self) -> usize {
        self.page.saturating_mul(self.per_page()).min(i64::MAX as usize)
    }
}

/// One consent decision as the site received it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConsentRecord {
    /// The `$consent` event's id.
    pub id: String,
    pub ts: i64,
    pub visitor_id: String,
    /// The collector's session the decision fell in.
    pub session_id: String,
    pub user_id: Option<String>,
    /// Sent without the SDK's ids: `visitor_id` is the daily key.
    pub cookieless: bool,
    /// Category → `granted` or `denied`.
    pub decisions: BTreeMap<String, String>,
    /// The banner's version, when the site set one.
    pub version: Option<String>,
    pub url: String,
    pub path: String,
    /// The event's properties as sent, a JSON object.
    pub props: serde_json::Value,
}

impl ConsentRecord {
    /// A record from a stored `$consent` event's columns; `props` is its
    /// JSON text as stored.
    #[allow(clippy::too_many_arguments)]
    pub fn from_event(
        id: String,
        ts: i64,
        visitor_id: String,
        session_id: String,
        user_id: Option<String>,
        client_session_id: Option<&str>,
        url: String,
        path: String,
        props: &str,
    ) -> ConsentRecord {
        let props: serde_json::Value = serde_json::from_str(props).unwrap_or_else(|_| serde_json::json!({}));
        let text = |(key, value): (&String, &serde_json::Value)| Some((key.clone(), value.as_str()?.to_owned()));
        let strings: Vec<(String, String)> = props.as_object().into_iter().flatten().filter_map(text).collect();
        let version = strings.iter().find(|(key, _)| key == VERSION_PROP).map(|(_, v)| v.clone());
        let decisions = strings.into_iter().filter(|(key, value)| key != VERSION_PROP && is_decision(value)).collect();
        ConsentRecord { id, ts, visitor_id, session_id, user_id, cookieless: client_session_id.is_none(), decisions, version, url, path, props }
    }
}

fn is_decision(value: &str) -> bool {
    matches!(value, "granted" | "denied")
}

/// One page of a site's consent log.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConsentLog {
    pub total: i64,
    pub page: usize,
    pub per_page: usize,
    pub records: Vec<ConsentRecord>,
}

impl Table for ConsentLog {
    fn columns(&self) -> Vec<&'static str> {
        vec!["ts", "time", "visitor_id", "session_id", "user_id", "cookieless", "decisions", "version", "path", "url", "props", "id"]
    }

    fn rows(&self) -> Vec<Vec<String>> {
        self.records
            .iter()
            .map(|r| {
                let decisions: Vec<String> = r.decisions.iter().map(|(category, decision)| format!("{category}={decision}")).collect();
                let time = jiff::Timestamp::from_millisecond(r.ts).map(|t| t.to_string()).unwrap_or_default();
                vec![
                    r.ts.to_string(), time, r.visitor_id.clone(), r.session_id.clone(), cell(&r.user_id),
                    u8::from(r.cookieless).to_string(), decisions.join(";"), cell(&r.version), r.path.clone(), r.url.clone(),
                    r.props.to_string(), r.id.clone(),
                ]
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(props: &str, client_session: Option<&str>) -> ConsentRecord {
        ConsentRecord::from_event("e".into(), 0, "v".into(), "s".into(), None, client_session, "https://x/".into(), "/".into(), props)
    }

    #[test]
    fn a_decision_is_read_from_its_properties_with_the_banners_version() {
        let r = record(r#"{"analytics":"granted","version":"v2","via":"banner"}"#, Some("c"));
        assert_eq!(r.decisions, BTreeMap::from([("analytics".to_owned(), "granted".to_owned())]));
        assert_eq!((r.version.as_deref(), r.cookieless), (Some("v2"), false));
        assert_eq!(r.props["via"], "banner", "the rest of how it was given stays");
    }

    #[test]
    fn a_decision_without_ids_is_cookieless_and_odd_properties_are_no_decisions() {
        let r = record(r#"{"analytics":"denied","marketing":"maybe","n":1}"#, None);
        assert_eq!(r.decisions.len(), 1);
        assert!(r.cookieless && r.version.is_none());
        assert!(record("not json", None).decisions.is_empty());
    }
}
