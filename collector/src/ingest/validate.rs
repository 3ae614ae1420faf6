//! Validation of a decoded batch, event by event, against `protocol`'s
//! rules. Valid events become [`StoredEvent`]s; each invalid one gets its
//! reason, and the rest of the batch is kept.
//!
//! Policy: browsers' timestamps are corrected by `sent_at` against arrival
//! and may be [`limits::MAX_BROWSER_AGE_MS`] old; server-sent events may
//! backfill [`limits::MAX_BACKFILL_AGE_MS`] and, when they name a visitor by
//! address instead of id, must give both `ip` and `user_agent`.

use std::net::IpAddr;

use waymark_protocol::{Event, EventResult, Outcome, Rejection, ServerEvent, limits, validate_event};

use super::decode::Decoded;

use crate::event::StoredEvent;

/// One event of a batch after validation: a row to store, or its rejection.
/// Unboxed: the large variant is the usual one, and a box would cost an
/// allocation per event.
#[allow(clippy::large_enum_variant)]
pub enum Checked {
    Valid(StoredEvent),
    Invalid(EventResult),
}

pub fn check_batch(batch: Decoded<Event>, now_ms: i64) -> Vec<Checked> {
    let offset = now_ms - batch.sent_at.unwrap_or(now_ms);
    let site = batch.site;
    batch
        .events
        .into_iter()
        .enumerate()
        .map(|(index, event)| match event {
            Err(unreadable) => Checked::Invalid(rejected(index, unreadable.id, Rejection::Malformed(unreadable.message))),
            Ok(event) => match validate_event(&event, now_ms, offset, limits::MAX_BROWSER_AGE_MS) {
                Ok(ts) => Checked::Valid(to_row(&site, event, ts, now_ms)),
                Err(rejection) => Checked::Invalid(rejected(index, event.id, rejection)),
            },
        })
        .collect()
}

/// A server-sent event's visitor as the sender described it.
pub struct StatedSender {
    pub ip: Option<IpAddr>,
    pub user_agent: Option<String>,
}

pub fn check_server_batch(batch: Decoded<ServerEvent>, now_ms: i64) -> Vec<(Checked, StatedSender)> {
    let offset = batch.sent_at.map_or(0, |sent_at| now_ms - sent_at);
    let site = batch.site;
    batch
        .events
        .into_iter()
        .enumerate()
        .map(|(index, stated)| {
            let stated = match stated {
                Ok(stated) => stated,
                Err(unreadable) => {
                    let rejection = Rejection::Malformed(unreadable.message);
                    return (Checked::Invalid(rejected(index, unreadable.id, rejection)), StatedSender { ip: None, user_agent: None });
                }
            };
            let ip = stated.ip.as_deref().map(str::parse::<IpAddr>);
            let sender = StatedSender { ip: ip.clone().and_then(Result::ok), user_agent: stated.user_agent.clone() };
            let event = stated.event;
            let checked = match validate_event(&event, now_ms, offset, limits::MAX_BACKFILL_AGE_MS) {
                Err(rejection) => Checked::Invalid(rejected(index, event.id, rejection)),
                Ok(_) if matches!(ip, Some(Err(_))) => Checked::Invalid(rejected(index, event.id, Rejection::IpInvalid)),
                Ok(_) if event.visitor_id.is_none() && (sender.ip.is_none() || sender.user_agent.is_none()) => {
                    Checked::Invalid(rejected(index, event.id, Rejection::VisitorUnknown))
                }
                Ok(ts) => Checked::Valid(to_row(&site, event, ts, now_ms)),
            };
            (checked, sender)
        })
        .collect()
}

fn rejected(index: usize, id: String, rejection: Rejection) -> EventResult {
    refused(index, id, rejection.code(), &rejection)
}

/// The result of an event refused for `code`, its message numbered as
/// every refusal's is ("event 3: …").
pub fn refused(index: usize, id: String, code: &str, why: &dyn std::fmt::Display) -> EventResult {
    EventResult { index, id, outcome: Outcome::Rejected, reason: Some(code.into()), message: Some(format!("event {index}: {why}")) }
}

/// One event read from another wire format (the Segment API's), checked
/// by the same rules as a batch's: `offset_ms` moves its `ts` onto the
/// collector's clock, and it may be `max_age_ms` old.
pub fn check_event(site: &str, index: usize, event: Event, now_ms: i64, offset_ms: i64, max_age_ms: i64) -> Checked {
    match validate_event(&event, now_ms, offset_ms, max_age_ms) {
        Ok(ts) => Checked::Valid(to_row(site, event, ts, now_ms)),
        Err(rejection) => Checked::Invalid(rejected(index, event.id, rejection)),
    }
}

fn to_row(site: &str, e: Event, ts: i64, now_ms: i64) -> StoredEvent {
    let (host, path) = split_url(&e.url);
    StoredEvent {
        site: site.to_owned(),
        client_session_id: e.session_id,
        // Empty for cookieless events: the pipeline derives the key.
        visitor_id: e.visitor_id.unwrap_or_default(),
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
        ..StoredEvent::default()
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
