//! Validation of one event against the limits in [`crate::limits`].
//!
//! Each rule yields a [`Rejection`] with a stable machine-readable code and
//! a message a developer can act on. Validation is pure: the caller passes
//! the arrival time and the clock offset it measured.

use alloc::string::String;

use crate::limits::*;
use crate::{Event, PropValue, names};

/// A broken name or property: the rules a sender can check before it
/// sends (the SDK does, at the `track()` call), and the collector checks
/// again. Its own type so that a sender's build carries only these
/// messages, not the collector's.
#[derive(Debug, Clone, PartialEq)]
pub enum ContentError {
    NameEmpty,
    NameTooLong,
    /// Starts with `$` but is not one of [`names::ALL`] (or, for a custom
    /// event, starts with `$` at all).
    NameReserved(String),
    TooManyProps(usize),
    PropKeyInvalid(String),
    PropValueTooLong(String),
    PropValueNotFinite(String),
    /// An object, array or `null`: every property must be a table column.
    PropValueUnsupported(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Rejection {
    IdInvalid,
    /// The name or a property breaks a rule of [`ContentError`].
    Content(ContentError),
    UrlInvalid,
    UrlTooLong,
    ReferrerTooLong,
    TextTooLong(&'static str),
    SessionIdInvalid,
    VisitorIdInvalid,
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

impl From<ContentError> for Rejection {
    fn from(error: ContentError) -> Rejection {
        Rejection::Content(error)
    }
}

impl ContentError {
    /// The stable code senders match on.
    pub fn code(&self) -> &'static str {
        match self {
            ContentError::NameEmpty => "name_empty",
            ContentError::NameTooLong => "name_too_long",
            ContentError::NameReserved(_) => "name_reserved",
            ContentError::TooManyProps(_) => "too_many_props",
            ContentError::PropKeyInvalid(_) => "prop_key_invalid",
            ContentError::PropValueTooLong(_) => "prop_value_too_long",
            ContentError::PropValueNotFinite(_) => "prop_value_not_finite",
            ContentError::PropValueUnsupported(_) => "prop_value_unsupported",
        }
    }

    /// The message for a person, its numbers taken from [`crate::limits`].
    /// Built without `core::fmt`, which the browser SDK cannot afford: each
    /// message is a row of pieces (text, the key or name quoted, more text,
    /// a limit, the rest), so one small loop writes them all.
    pub fn message(&self) -> String {
        let (before, quoted, middle, limit, after): (&str, Option<&str>, &str, Option<usize>, &str) = match self {
            ContentError::NameEmpty => ("`name` is empty", None, "", None, ""),
            ContentError::NameTooLong => ("`name` is longer than ", None, "", Some(MAX_NAME_BYTES), " bytes"),
            ContentError::NameReserved(name) => ("`name` ", Some(name), " starts with `$`, which is reserved for Waymark's own events: ", None, ""),
            ContentError::TooManyProps(n) => ("", None, "", Some(*n), " properties, more than allowed"),
            ContentError::PropKeyInvalid(k) => ("property key ", Some(k), " must be 1 to ", Some(MAX_PROP_KEY_BYTES), " bytes"),
            ContentError::PropValueTooLong(k) => ("property ", Some(k), " is longer than ", Some(MAX_PROP_VALUE_BYTES), " bytes"),
            ContentError::PropValueNotFinite(k) => ("property ", Some(k), " is not a finite number", None, ""),
            ContentError::PropValueUnsupported(k) => ("property ", Some(k), " must be a string, a finite number or a boolean", None, ""),
        };
        let mut m = Message::default();
        m.text(before);
        if let Some(quoted) = quoted {
            m.quoted(quoted);
        }
        m.text(middle);
        if let Some(limit) = limit {
            m.int(limit);
        }
        m.text(after);
        if let ContentError::NameReserved(_) = self {
            for (i, known) in names::ALL.iter().enumerate() {
                m.text(if i > 0 { ", " } else { "" }).text(known);
            }
        }
        if let ContentError::TooManyProps(_) = self {
            m.text(" (").int(MAX_PROPS).text(")");
        }
        m.0
    }
}

impl Rejection {
    /// The stable code senders match on.
    pub fn code(&self) -> &'static str {
        match self {
            Rejection::IdInvalid => "id_invalid",
            Rejection::Content(error) => error.code(),
            Rejection::UrlInvalid => "url_invalid",
            Rejection::UrlTooLong => "url_too_long",
            Rejection::ReferrerTooLong => "referrer_too_long",
            Rejection::TextTooLong(_) => "text_too_long",
            Rejection::SessionIdInvalid => "session_id_invalid",
            Rejection::VisitorIdInvalid => "visitor_id_invalid",
            Rejection::TimestampInFuture => "timestamp_in_future",
            Rejection::TimestampTooOld => "timestamp_too_old",
            Rejection::IpInvalid => "ip_invalid",
            Rejection::Malformed(_) => "event_malformed",
            Rejection::VisitorUnknown => "visitor_unknown",
        }
    }

    /// The message for a person, its numbers taken from [`crate::limits`].
    pub fn message(&self) -> String {
        let mut m = Message::default();
        match self {
            Rejection::Content(error) => return error.message(),
            Rejection::IdInvalid => m.text("`id` must be a UUID (8-4-4-4-12 hex digits)"),
            Rejection::UrlInvalid => m.text("`url` must be an absolute http or https URL"),
            Rejection::UrlTooLong => m.text("`url` is longer than ").int(MAX_URL_BYTES).text(" bytes"),
            Rejection::ReferrerTooLong => m.text("`referrer` is longer than ").int(MAX_URL_BYTES).text(" bytes"),
            Rejection::TextTooLong(field) => m.text("`").text(field).text("` is longer than ").int(MAX_TEXT_BYTES).text(" bytes"),
            Rejection::SessionIdInvalid => m.text("`session_id` must be a UUID"),
            Rejection::VisitorIdInvalid => m.text("`visitor_id` must be a UUID"),
            Rejection::TimestampInFuture => m
                .text("`ts` lies more than ")
                .int((MAX_FUTURE_SKEW_MS / MINUTE_MS) as usize)
                .text(" minutes in the future after clock-skew correction"),
            Rejection::TimestampTooOld => m.text("`ts` is older than this endpoint accepts"),
            Rejection::IpInvalid => m.text("`ip` must be an IPv4 or IPv6 address"),
            Rejection::Malformed(why) => m.text("not an event: ").text(why),
            Rejection::VisitorUnknown => m.text("a server-sent event needs `visitor_id`, or `ip` and `user_agent` for a cookieless visitor"),
        };
        m.0
    }
}

impl core::fmt::Display for Rejection {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.message())
    }
}

impl core::fmt::Display for ContentError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.message())
    }
}

/// A message written piece by piece.
#[derive(Default)]
struct Message(String);

impl Message {
    fn text(&mut self, s: &str) -> &mut Message {
        self.0.push_str(s);
        self
    }

    fn quoted(&mut self, s: &str) -> &mut Message {
        self.text("\"").text(s).text("\"")
    }

    /// Digits from the highest place down: no buffer to index, so no
    /// bounds check (whose panic message would bring `core::fmt` into the
    /// SDK's module).
    fn int(&mut self, n: usize) -> &mut Message {
        let mut place = 1;
        while place <= n / 10 {
            place *= 10;
        }
        while place > 0 {
            self.0.push(char::from(b'0' + (n / place % 10) as u8));
            place /= 10;
        }
        self
    }
}

/// What a property value is, as far as the limits care: the collector
/// reads it from the decoded event, the SDK from what the page's
/// `JSON.stringify` made of it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PropShape {
    /// A string of this many bytes (once JSON escapes are decoded).
    Text(usize),
    /// A number; `false` when NaN or infinite.
    Number { finite: bool },
    Bool,
    /// An object, an array or `null`.
    Other,
}

/// The name rule of the wire: 1 to [`MAX_NAME_BYTES`] bytes; names
/// starting with `$` only if they are Waymark's own ([`names::ALL`]).
pub fn check_name(name: &str) -> Result<(), ContentError> {
    check_length_of_name(name)?;
    if names::is_reserved(name) && !names::ALL.contains(&name) {
        return Err(ContentError::NameReserved(name.into()));
    }
    Ok(())
}

/// The name of an event a site tracks itself: as [`check_name`], and
/// never starting with `$`.
pub fn check_custom_name(name: &str) -> Result<(), ContentError> {
    check_length_of_name(name)?;
    if names::is_reserved(name) {
        return Err(ContentError::NameReserved(name.into()));
    }
    Ok(())
}

fn check_length_of_name(name: &str) -> Result<(), ContentError> {
    match name.len() {
        0 => Err(ContentError::NameEmpty),
        n if n > MAX_NAME_BYTES => Err(ContentError::NameTooLong),
        _ => Ok(()),
    }
}

/// How many properties an event may have; `count` is how many were seen
/// so far (a sender may stop counting past the limit).
pub fn check_prop_count(count: usize) -> Result<(), ContentError> {
    if count > MAX_PROPS { Err(ContentError::TooManyProps(count)) } else { Ok(()) }
}

/// One property: its key (`key_bytes` long once decoded, which a sender
/// reading escaped JSON knows better than `key.len()`) and its value.
pub fn check_prop(key: &str, key_bytes: usize, value: PropShape) -> Result<(), ContentError> {
    if key_bytes == 0 || key_bytes > MAX_PROP_KEY_BYTES {
        return Err(ContentError::PropKeyInvalid(key.into()));
    }
    match value {
        PropShape::Text(bytes) if bytes > MAX_PROP_VALUE_BYTES => Err(ContentError::PropValueTooLong(key.into())),
        PropShape::Number { finite: false } => Err(ContentError::PropValueNotFinite(key.into())),
        PropShape::Other => Err(ContentError::PropValueUnsupported(key.into())),
        _ => Ok(()),
    }
}

fn shape(value: &PropValue) -> PropShape {
    match value {
        PropValue::Text(s) => PropShape::Text(s.len()),
        PropValue::Number(n) => PropShape::Number { finite: n.is_finite() },
        PropValue::Bool(_) => PropShape::Bool,
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
    check_name(&event.name)?;
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
    check_prop_count(event.props.len())?;
    for (key, value) in &event.props {
        check_prop(key, key.len(), shape(value))?;
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
            (Box::new(|e| { e.props.insert("n".into(), PropValue::Number(f64::NAN)); }), "prop_value_not_finite"),
            (Box::new(|e| { e.props.extend((0..=MAX_PROPS).map(|i| (i.to_string(), PropValue::Bool(true)))); }), "too_many_props"),
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
    fn messages_are_built_from_the_limits() {
        assert_eq!(ContentError::NameTooLong.message(), format!("`name` is longer than {MAX_NAME_BYTES} bytes"));
        assert_eq!(ContentError::TooManyProps(70).message(), format!("70 properties, more than allowed ({MAX_PROPS})"));
        assert_eq!(ContentError::PropValueTooLong("k".into()).message(), format!("property \"k\" is longer than {MAX_PROP_VALUE_BYTES} bytes"));
        assert_eq!(Rejection::TimestampInFuture.to_string(), format!("`ts` lies more than {} minutes in the future after clock-skew correction", MAX_FUTURE_SKEW_MS / 60_000));
        assert!(ContentError::NameReserved("$x".into()).message().ends_with(&names::ALL.join(", ")));
    }

    #[test]
    fn known_reserved_names_pass_the_wire_rule_but_not_as_custom_events() {
        assert_eq!(check_name(names::PAGEVIEW), Ok(()));
        assert_eq!(check_custom_name(names::PAGEVIEW), Err(ContentError::NameReserved(names::PAGEVIEW.into())));
        assert_eq!(check_custom_name("signup"), Ok(()));
        assert_eq!(check_custom_name(""), Err(ContentError::NameEmpty));
    }

    #[test]
    fn a_property_is_checked_by_its_decoded_key_length_and_value_shape() {
        assert_eq!(check_prop("k", 1, PropShape::Text(MAX_PROP_VALUE_BYTES)), Ok(()));
        assert_eq!(check_prop("k", MAX_PROP_KEY_BYTES + 1, PropShape::Bool), Err(ContentError::PropKeyInvalid("k".into())));
        assert_eq!(check_prop("o", 1, PropShape::Other).unwrap_err().code(), "prop_value_unsupported");
        assert_eq!(check_prop_count(MAX_PROPS), Ok(()));
        assert_eq!(check_prop_count(MAX_PROPS + 1), Err(ContentError::TooManyProps(MAX_PROPS + 1)));
    }

    #[test]
    fn a_session_rule_is_valid_within_the_limits() {
        use crate::SessionRule;
        assert!(SessionRule::default().is_valid());
        assert!(SessionRule { timeout_ms: 5 * MINUTE_MS, max_ms: 5 * MINUTE_MS }.is_valid());
        assert!(!SessionRule { timeout_ms: 0, max_ms: DEFAULT_SESSION_MAX_MS }.is_valid());
        assert!(!SessionRule { timeout_ms: 30 * MINUTE_MS, max_ms: 10 * MINUTE_MS }.is_valid(), "shorter than idle");
        assert!(!SessionRule { timeout_ms: 30 * MINUTE_MS, max_ms: MAX_SESSION_MAX_MS + 1 }.is_valid());
    }

    #[test]
    fn uuids_are_recognised_by_shape() {
        assert!(is_uuid("0f8fad5b-d9cb-469f-a165-70867728950e"));
        assert!(!is_uuid("0f8fad5b-d9cb-469f-a165-70867728950"));
        assert!(!is_uuid("0f8fad5bxd9cb-469f-a165-70867728950e"));
    }
}
