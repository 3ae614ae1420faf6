//! Validation of a decoded batch, event by event, against `protocol`'s
//! rules. Valid events become [`StoredEvent`]s; each invalid one gets its
//! reason, and the rest of the batch is kept.

use waymark_protocol::{Batch, Event, EventResult, Outcome, limits, validate_event};

use crate::store::StoredEvent;

/// One event of a batch after validation: a row to store, or its rejection.
pub enum Checked {
    Valid(StoredEvent),
    Invalid(EventResult),
}

pub fn check_batch(batch: Batch, now_ms: i64) -> Vec<Checked> {
    let offset = now_ms - batch.sent_at;
    let site = batch.site;
    batch
        .events
        .into_iter()
        .enumerate()
        .map(|(index, event)| match validate_event(&event, now_ms, offset, limits::MAX_BROWSER_AGE_MS) {
            Ok(ts) => Checked::Valid(to_row(&site, event, ts, now_ms)),
            Err(rejection) => Checked::Invalid(EventResult {
                index,
                id: event.id,
                outcome: Outcome::Rejected,
                reason: Some(rejection.code().into()),
                message: Some(format!("event {index}: {rejection}")),
            }),
        })
        .collect()
}

fn to_row(site: &str, e: Event, ts: i64, now_ms: i64) -> StoredEvent {
    let (host, path) = split_url(&e.url);
    let visitor_id = e.visitor_id.clone().or_else(|| e.session_id.clone()).unwrap_or_default();
    StoredEvent {
        site: site.to_owned(),
        session_id: e.session_id.clone().unwrap_or_default(),
        client_session_id: e.session_id,
        visitor_id,
        user_id: e.user_id,
        props: props_json(&e.props),
        id: e.id,
        ts,
        received_ms: now_ms,
        name: e.name,
        host,
        path,
        url: e.url,
        referrer: e.referrer,
        title: e.title,
        engaged_ms: e.engaged_ms,
    }
}

fn props_json(props: &std::collections::BTreeMap<String, waymark_protocol::PropValue>) -> String {
    serde_json::to_string(props).unwrap_or_else(|_| "{}".into())
}

/// `https://a.example/b?c#d` → (`a.example`, `/b`). The URL was checked to be
/// absolute http(s) by validation.
fn split_url(url: &str) -> (String, String) {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let (host, tail) = rest.split_at(rest.find(['/', '?', '#']).unwrap_or(rest.len()));
    let path = match tail.split(['?', '#']).next() {
        Some(p) if p.starts_with('/') => p,
        _ => "/",
    };
    (host.to_owned(), path.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_host_and_path_without_query() {
        assert_eq!(split_url("https://a.example/b/c?x=1#y"), ("a.example".into(), "/b/c".into()));
        assert_eq!(split_url("http://a.example"), ("a.example".into(), "/".into()));
        assert_eq!(split_url("http://a.example?q"), ("a.example".into(), "/".into()));
    }
}
