//! Validation of one event against the limits in [`crate::limits`].
//!
//! Each rule yields a [`Rejection`] with a stable machine-readable code and
//! a message a developer can act on. Validation is pure: the caller passes
//! the arrival time and the clock offset it measured.

use alloc::string::String;

use crate::limits::*;
use crate::{Event, PropValue, names};

#[derive(Debug, Clone, PartialEq)]
pub enum Rejection {
    IdInvalid,
    NameEmpty,
    NameTooLong,
    NameReserved(String),
    UrlInvalid,
    UrlTooLong,
    ReferrerTooLong,
    TextTooLong(&'static str),
    SessionIdInvalid,
    VisitorIdInvalid,
    TooManyProps(usize),
    PropKeyInvalid(String),
    PropValueTooLong(String),
    PropValueNotFinite(String),
    TimestampInFuture,
    TimestampTooOld,
    /// Server-to-server only: `ip` is not an IPv4 or IPv6 address.
    IpInvalid,
    /// The event is not an event object (a field of the wrong type, a
    /// nested property value); the JSON reader's message says where.
    Malformed(String),
    /// Server-to-server only: neither `visitor_id` nor `ip` and
    /// `user_agent`, so the event cannot be given a visitor.
    VisitorUnknown,
}

impl Rejection {
    /// The stable code senders match on.
    pub fn code(&self) -> &'static str {
        match self {
            Rejection::IdInvalid => "id_invalid",
            Rejection::NameEmpty => "name_empty",
            Rejection::NameTooLong => "name_too_long",
            Rejection::NameReserved(_) => "name_reserved",
            Rejection::UrlInvalid => "url_invalid",
            Rejection::UrlTooLong => "url_too_long",
            Rejection::ReferrerTooLong => "referrer_too_long",
            Rejection::TextTooLong(_) => "text_too_long",
            Rejection::SessionIdInvalid => "session_id_invalid",
            Rejection::VisitorIdInvalid => "visitor_id_invalid",
            Rejection::TooManyProps(_) => "too_many_props",
            Rejection::PropKeyInvalid(_) => "prop_key_invalid",
            Rejection::PropValueTooLong(_) => "prop_value_too_long",
            Rejection::PropValueNotFinite(_) => "prop_value_not_finite",
            Rejection::TimestampInFuture => "timestamp_in_future",
            Rejection::TimestampTooOld => "timestamp_too_old",
            Rejection::IpInvalid => "ip_invalid",
            Rejection::Malformed(_) => "event_malformed",
            Rejection::VisitorUnknown => "visitor_unknown",
        }
    }
}

impl core::fmt::Display for Rejection {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Rejection::IdInvalid => write!(f, "`id` must be a UUID (8-4-4-4-12 hex digits)"),
            Rejection::NameEmpty => write!(f, "`name` is empty"),
            Rejection::NameTooLong => write!(f, "`name` is longer than {MAX_NAME_BYTES} bytes"),
            Rejection::NameReserved(n) => write!(f, "`name` {n:?} starts with `$`, which is reserved; known: {}", names::ALL.join(", ")),
            Rejection::UrlInvalid => write!(f, "`url` must be an absolute http or https URL"),
            Rejection::UrlTooLong => write!(f, "`url` is longer than {MAX_URL_BYTES} bytes"),
            Rejection::ReferrerTooLong => write!(f, "`referrer` is longer than {MAX_URL_BYTES} bytes"),
            Rejection::TextTooLong(field) => write!(f, "`{field}` is longer than {MAX_TEXT_BYTES} bytes"),
            Rejection::SessionIdInvalid => write!(f, "`session_id` must be a UUID"),
            Rejection::VisitorIdInvalid => write!(f, "`visitor_id` must be a UUID"),
            Rejection::TooManyProps(n) => write!(f, "{n} properties, at most {MAX_PROPS} allowed"),
            Rejection::PropKeyInvalid(k) => write!(f, "property key {k:?} must be 1 to {MAX_PROP_KEY_BYTES} bytes"),
            Rejection::PropValueTooLong(k) => write!(f, "property {k:?} is longer than {MAX_PROP_VALUE_BYTES} bytes"),
            Rejection::PropValueNotFinite(k) => write!(f, "property {k:?} is not a finite number"),
            Rejection::TimestampInFuture => write!(f, "`ts` lies more than {} minutes in the future after clock-skew correction", MAX_FUTURE_SKEW_MS / 60_000),
            Rejection::TimestampTooOld => write!(f, "`ts` is older than this endpoint accepts"),
            Rejection::IpInvalid => write!(f, "`ip` must be an IPv4 or IPv6 address"),
            Rejection::Malformed(why) => write!(f, "not an event: {why}"),
            Rejection::VisitorUnknown => write!(f, "a server-sent event needs `visitor_id`, or `ip` and `user_agent` for a cookieless visitor"),
        }
    }
}

/// True for the canonical hyphenated UUID form, any version.
pub fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

fn is_http_url(url: &str) -> bool {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    matches!(rest, Some(r) if !r.is_empty() && !r.starts_with('/'))
}

/// Checks `event` and returns its timestamp corrected for clock skew.
///
/// `clock_offset_ms` is arrival time minus the batch's `sent_at`; adding it to
/// `ts` moves the event onto the collector's clock. `max_age_ms` is how old an
/// event may be on arrival (browsers and backends get different windows).
pub fn validate_event(event: &Event, now_ms: i64, clock_offset_ms: i64, max_age_ms: i64) -> Result<i64, Rejection> {
    if !is_uuid(&event.id) {
        return Err(Rejection::IdInvalid);
    }
    if event.name.is_empty() {
        return Err(Rejection::NameEmpty);
    }
    if event.name.len() > MAX_NAME_BYTES {
        return Err(Rejection::NameTooLong);
    }
    if names::is_reserved(&event.name) && !names::ALL.contains(&event.name.as_str()) {
        return Err(Rejection::NameReserved(event.name.clone()));
    }
    if event.url.len() > MAX_URL_BYTES {
        return Err(Rejection::UrlTooLong);
    }
    if !is_http_url(&event.url) {
        return Err(Rejection::UrlInvalid);
    }
    if event.referrer.as_ref().is_some_and(|r| r.len() > MAX_URL_BYTES) {
        return Err(Rejection::ReferrerTooLong);
    }
    if event.title.as_ref().is_some_and(|t| t.len() > MAX_TEXT_BYTES) {
        return Err(Rejection::TextTooLong("title"));
    }
    if event.user_id.as_ref().is_some_and(|t| t.len() > MAX_TEXT_BYTES) {
        return Err(Rejection::TextTooLong("user_id"));
    }
    if event.session_id.as_ref().is_some_and(|s| !is_uuid(s)) {
        return Err(Rejection::SessionIdInvalid);
    }
    if event.visitor_id.as_ref().is_some_and(|s| !is_uuid(s)) {
        return Err(Rejection::VisitorIdInvalid);
    }
    if event.props.len() > MAX_PROPS {
        return Err(Rejection::TooManyProps(event.props.len()));
    }
    for (key, value) in &event.props {
        if key.is_empty() || key.len() > MAX_PROP_KEY_BYTES {
            return Err(Rejection::PropKeyInvalid(key.clone()));
        }
        match value {
            PropValue::Text(s) if s.len() > MAX_PROP_VALUE_BYTES => return Err(Rejection::PropValueTooLong(key.clone())),
            PropValue::Number(n) if !n.is_finite() => return Err(Rejection::PropValueNotFinite(key.clone())),
            _ => {}
        }
    }
    let ts = event.ts.saturating_add(clock_offset_ms);
    if ts > now_ms + MAX_FUTURE_SKEW_MS {
        return Err(Rejection::TimestampInFuture);
    }
    if ts < now_ms - max_age_ms {
        return Err(Rejection::TimestampTooOld);
    }
    Ok(ts)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_750_000_000_000;

    fn pageview() -> Event {
        Event {
            id: "0f8fad5b-d9cb-469f-a165-70867728950e".into(),
            name: names::PAGEVIEW.into(),
            ts: NOW,
            url: "https://example.com/".into(),
            ..Event::default()
        }
    }

    #[test]
    fn a_plain_pageview_is_valid_and_keeps_its_time() {
        assert_eq!(validate_event(&pageview(), NOW, 0, MAX_BROWSER_AGE_MS), Ok(NOW));
    }

    #[test]
    fn a_client_clock_ten_minutes_behind_is_corrected() {
        let mut e = pageview();
        e.ts = NOW - 10 * 60_000;
        // sent_at was also ten minutes behind, so the offset is +10 minutes.
        assert_eq!(validate_event(&e, NOW, 10 * 60_000, MAX_BROWSER_AGE_MS), Ok(NOW));
    }

    #[test]
    fn each_broken_field_is_named() {
        type Breakage = Box<dyn Fn(&mut Event)>;
        let cases: Vec<(Breakage, &str)> = vec![
            (Box::new(|e| e.id = "nope".into()), "id_invalid"),
            (Box::new(|e| e.name.clear()), "name_empty"),
            (Box::new(|e| e.name = "x".repeat(MAX_NAME_BYTES + 1)), "name_too_long"),
            (Box::new(|e| e.name = "$made_up".into()), "name_reserved"),
            (Box::new(|e| e.url = "javascript:alert(1)".into()), "url_invalid"),
            (Box::new(|e| e.session_id = Some("1".into())), "session_id_invalid"),
            (Box::new(|e| { e.props.insert("k".into(), PropValue::Text("v".repeat(MAX_PROP_VALUE_BYTES + 1))); }), "prop_value_too_long"),
            (Box::new(|e| { e.props.insert(String::new(), PropValue::Bool(true)); }), "prop_key_invalid"),
            (Box::new(|e| e.ts = NOW + MAX_FUTURE_SKEW_MS + 1), "timestamp_in_future"),
            (Box::new(|e| e.ts = NOW - MAX_BROWSER_AGE_MS - 1), "timestamp_too_old"),
        ];
        for (breaks, code) in cases {
            let mut e = pageview();
            breaks(&mut e);
            let err = validate_event(&e, NOW, 0, MAX_BROWSER_AGE_MS).unwrap_err();
            assert_eq!(err.code(), code, "{err}");
            assert!(!err.to_string().is_empty());
        }
    }

    #[test]
    fn uuids_are_recognised_by_shape() {
        assert!(is_uuid("0f8fad5b-d9cb-469f-a165-70867728950e"));
        assert!(!is_uuid("0f8fad5b-d9cb-469f-a165-70867728950"));
        assert!(!is_uuid("0f8fad5bxd9cb-469f-a165-70867728950e"));
    }
}
