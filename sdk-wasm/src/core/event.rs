//! Events as the SDK builds them: checked against the limits in
//! `waymark_protocol::limits` when they are tracked, so a mistake shows up
//! in the developer's console at the call, not as a rejection later.
//!
//! Policy: a bad name or property refuses the whole call (the collector
//! would refuse the event too: both use `waymark_protocol`'s checker);
//! over-long URLs and titles, which the page author does not control, are
//! cut to their limits instead.

use alloc::borrow::ToOwned;
use alloc::string::String;

use crate::core::json::{push_int, push_key, push_string};
use crate::core::session::Ids;
use waymark_protocol::limits::*;
use waymark_protocol::{ContentError, PropShape, check_prop, check_prop_count};

/// Room left in a request for the batch around its events.
const BATCH_ENVELOPE_BYTES: usize = 1024;
/// Largest event the SDK sends: one event must fit one request.
pub const MAX_EVENT_BYTES: usize = MAX_REQUEST_BYTES - BATCH_ENVELOPE_BYTES;

/// Why a `track()` call is refused: a rule of the protocol (the same
/// checker and messages as the collector's), or one of the SDK's own.
#[derive(Debug, Clone, PartialEq)]
pub enum EventError {
    Content(ContentError),
    PropsNotAnObject,
    TooLarge,
}

impl From<ContentError> for EventError {
    fn from(error: ContentError) -> EventError {
        EventError::Content(error)
    }
}

impl EventError {
    pub fn message(&self) -> String {
        match self {
            EventError::Content(error) => error.message(),
            EventError::PropsNotAnObject => "properties must be a plain object".into(),
            EventError::TooLarge => {
                let mut s = String::from("the event is larger than one request may carry (");
                push_int(&mut s, MAX_EVENT_BYTES as i64);
                s.push_str(" bytes)");
                s
            }
        }
    }
}

/// An event before consent and session give it ids.
#[derive(Debug, Clone, PartialEq)]
pub struct Draft {
    pub name: String,
    pub ts: i64,
    pub url: String,
    pub referrer: Option<String>,
    pub title: Option<String>,
    pub engaged_ms: Option<i64>,
    /// The properties as a JSON object, or empty.
    pub props: String,
}

impl Draft {
    pub fn new(name: &str, ts: i64, url: &str) -> Draft {
        Draft { name: name.to_owned(), ts, url: cut(url, MAX_URL_BYTES), referrer: None, title: None, engaged_ms: None, props: String::new() }
    }

    /// Bytes of the encoded event, within the few bytes of the ids.
    fn size_estimate(&self) -> usize {
        200 + self.name.len() + self.url.len() + self.props.len()
            + self.referrer.as_ref().map_or(0, String::len) + self.title.as_ref().map_or(0, String::len)
    }

    pub fn check_size(&self) -> Result<(), EventError> {
        if self.size_estimate() > MAX_EVENT_BYTES { Err(EventError::TooLarge) } else { Ok(()) }
    }

    /// The event as it travels. `ids` is `None` for cookieless events.
    pub fn encode(&self, id: &str, ids: Option<&Ids>) -> String {
        let mut out = String::with_capacity(self.size_estimate());
        out.push('{');
        push_key(&mut out, "id");
        push_string(&mut out, id);
        push_key(&mut out, "name");
        push_string(&mut out, &self.name);
        push_key(&mut out, "ts");
        push_int(&mut out, self.ts);
        if let Some(ids) = ids {
            push_key(&mut out, "session_id");
            push_string(&mut out, &ids.session.id);
            push_key(&mut out, "visitor_id");
            push_string(&mut out, &ids.visitor);
            if let Some(user) = &ids.user {
                push_key(&mut out, "user_id");
                push_string(&mut out, user);
            }
            if ids.new {
                push_key(&mut out, "new_ids");
                out.push_str("true");
            }
        }
        push_key(&mut out, "url");
        push_string(&mut out, &self.url);
        for (key, value) in [("referrer", &self.referrer), ("title", &self.title)] {
            if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
                push_key(&mut out, key);
                push_string(&mut out, v);
            }
        }
        if let Some(ms) = self.engaged_ms {
            push_key(&mut out, "engaged_ms");
            push_int(&mut out, ms);
        }
        if !self.props.is_empty() {
            push_key(&mut out, "props");
            out.push_str(&self.props);
        }
        out.push('}');
        out
    }
}

/// Properties the SDK writes itself (`{"analytics":"granted"}`, a link's
/// `url`): one string property, within the limits by construction.
pub fn one_prop(key: &str, value: &str) -> String {
    let mut out = String::from("{");
    push_key(&mut out, key);
    push_string(&mut out, value);
    out.push('}');
    out
}

/// Checks properties that the platform serialized with `JSON.stringify`
/// against the protocol's limits, and returns them as they travel (empty
/// for none). One string crosses from the page instead of one call per
/// key and value; the JSON needs no re-encoding.
///
/// Only a flat object of strings, numbers and booleans passes: `null`
/// (which is also what `JSON.stringify` makes of `NaN` and `Infinity`),
/// nested objects and arrays are refused by key.
pub fn check_props_json(json: &str) -> Result<String, EventError> {
    let mut scan = Scan { bytes: json.as_bytes(), at: 0 };
    if !scan.eat(b'{') {
        return Err(EventError::PropsNotAnObject);
    }
    if scan.eat(b'}') {
        return Ok(String::new());
    }
    let mut count = 0;
    loop {
        let key_start = scan.at;
        let key_bytes = scan.string().ok_or(EventError::PropsNotAnObject)?;
        let key = json.get(key_start + 1..scan.at.saturating_sub(1)).unwrap_or("");
        count += 1;
        check_prop_count(count)?;
        if !scan.eat(b':') {
            return Err(EventError::PropsNotAnObject);
        }
        // `JSON.stringify` writes NaN and infinities as `null`: `Other`.
        let shape = match scan.peek() {
            Some(b'"') => PropShape::Text(scan.string().ok_or(EventError::PropsNotAnObject)?),
            Some(b't') if scan.word(b"true") => PropShape::Bool,
            Some(b'f') if scan.word(b"false") => PropShape::Bool,
            Some(b'-' | b'0'..=b'9') => {
                scan.number();
                PropShape::Number { finite: true }
            }
            _ => PropShape::Other,
        };
        check_prop(key, key_bytes, shape)?;
        if scan.eat(b'}') {
            break;
        }
        if !scan.eat(b',') {
            return Err(EventError::PropsNotAnObject);
        }
    }
    if scan.at == json.len() { Ok(json.to_owned()) } else { Err(EventError::PropsNotAnObject) }
}

struct Scan<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Scan<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn eat(&mut self, byte: u8) -> bool {
        let found = self.peek() == Some(byte);
        self.at += found as usize;
        found
    }

    fn word(&mut self, word: &[u8]) -> bool {
        let found = self.bytes.get(self.at..self.at + word.len()) == Some(word);
        self.at += if found { word.len() } else { 0 };
        found
    }

    fn number(&mut self) {
        while matches!(self.peek(), Some(b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')) {
            self.at += 1;
        }
    }

    /// Skips a string literal; its length in bytes once unescaped.
    fn string(&mut self) -> Option<usize> {
        if !self.eat(b'"') {
            return None;
        }
        let mut len = 0;
        loop {
            match self.peek()? {
                b'"' => {
                    self.at += 1;
                    return Some(len);
                }
                b'\\' => {
                    let escaped = *self.bytes.get(self.at + 1)?;
                    if escaped == b'u' {
                        // `JSON.stringify` escapes control characters and
                        // lone surrogates: one byte or three once decoded.
                        let low = self.bytes.get(self.at + 2..self.at + 4)? == b"00";
                        len += if low { 1 } else { 3 };
                        self.at += 6;
                    } else {
                        len += 1;
                        self.at += 2;
                    }
                }
                _ => {
                    len += 1;
                    self.at += 1;
                }
            }
        }
    }
}

/// The longest prefix of `s` of at most `max` bytes that ends on a character.
pub fn cut(s: &str, max: usize) -> String {
    // Byte by byte from `max` down to a character boundary; `get` cannot
    // panic, which keeps the panic-message machinery out of the module.
    let mut end = s.len().min(max);
    loop {
        if let Some(prefix) = s.get(..end) {
            return prefix.to_owned();
        }
        end -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::session::Session;

    #[test]
    fn an_event_encodes_to_the_wire_format_the_collector_reads() {
        let mut d = Draft::new("signup", 1_700_000_000_000, "https://example.com/a?b=1");
        d.title = Some("Sign \"up\"".into());
        d.props = check_props_json(r#"{"plan":"pro","seats":3,"trial":false}"#).unwrap();
        let ids = Ids {
            visitor: "11111111-1111-4111-8111-111111111111".into(),
            session: Session { id: "22222222-2222-4222-8222-222222222222".into(), started_ms: 0, last_event_ms: 0 },
            user: Some("u1".into()),
            new: true,
        };
        let json = d.encode("33333333-3333-4333-8333-333333333333", Some(&ids));
        assert_eq!(
            json,
            r#"{"id":"33333333-3333-4333-8333-333333333333","name":"signup","ts":1700000000000,"session_id":"22222222-2222-4222-8222-222222222222","visitor_id":"11111111-1111-4111-8111-111111111111","user_id":"u1","new_ids":true,"url":"https://example.com/a?b=1","title":"Sign \"up\"","props":{"plan":"pro","seats":3,"trial":false}}"#
        );
    }

    #[test]
    fn a_cookieless_event_carries_no_client_ids() {
        let json = Draft::new("$pageview", 1, "https://example.com/").encode("id", None);
        assert!(!json.contains("session_id") && !json.contains("visitor_id"));
    }

    #[test]
    fn the_sdk_s_own_properties_are_one_escaped_string() {
        assert_eq!(one_prop("url", "https://a.example/\"x\""), r#"{"url":"https://a.example/\"x\""}"#);
    }

    #[test]
    fn long_urls_are_cut_on_a_character_boundary() {
        let url = "https://example.com/".to_owned() + &"é".repeat(MAX_URL_BYTES);
        let d = Draft::new("$pageview", 0, &url);
        assert!(d.url.len() <= MAX_URL_BYTES && d.url.len() >= MAX_URL_BYTES - 1);
    }

    #[test]
    fn an_event_too_large_for_one_request_is_refused() {
        let mut d = Draft::new("big", 0, "https://example.com/");
        d.props = "x".repeat(MAX_EVENT_BYTES);
        assert_eq!(d.check_size(), Err(EventError::TooLarge));
        assert_eq!(EventError::TooLarge.message(), format!("the event is larger than one request may carry ({MAX_EVENT_BYTES} bytes)"));
    }

    #[test]
    fn serialized_properties_pass_as_they_are_when_flat_and_within_limits() {
        let json = r#"{"plan":"pro","seats":3,"ratio":-1.5e-7,"trial":false,"note":"a \"b\"\n"}"#;
        assert_eq!(check_props_json(json), Ok(json.to_owned()));
        assert_eq!(check_props_json("{}"), Ok(String::new()));
    }

    #[test]
    fn serialized_properties_are_refused_by_key_with_the_protocol_s_reasons() {
        let content = |e: ContentError| Err(EventError::Content(e));
        let long = format!(r#"{{"k":"{}"}}"#, "x".repeat(MAX_PROP_VALUE_BYTES + 1));
        assert_eq!(check_props_json(&long), content(ContentError::PropValueTooLong("k".into())));
        let exact = format!(r#"{{"k":"{}"}}"#, "\\".repeat(MAX_PROP_VALUE_BYTES));
        assert!(check_props_json(&exact).is_ok(), "escapes count once decoded");
        assert_eq!(check_props_json(r#"{"n":null}"#), content(ContentError::PropValueUnsupported("n".into())));
        assert_eq!(check_props_json(r#"{"o":{"a":1}}"#), content(ContentError::PropValueUnsupported("o".into())));
        assert_eq!(check_props_json(r#"{"a":[1]}"#), content(ContentError::PropValueUnsupported("a".into())));
        assert_eq!(check_props_json(r#"{"":1}"#), content(ContentError::PropKeyInvalid(String::new())));
        assert_eq!(check_props_json("[1,2]"), Err(EventError::PropsNotAnObject));
        assert_eq!(check_props_json(r#""text""#), Err(EventError::PropsNotAnObject));
        let many = format!("{{{}}}", (0..=MAX_PROPS).map(|i| format!(r#""k{i}":1"#)).collect::<Vec<_>>().join(","));
        assert_eq!(check_props_json(&many), content(ContentError::TooManyProps(MAX_PROPS + 1)));
        assert_eq!(
            check_props_json(r#"{"o":{"a":1}}"#).unwrap_err().message(),
            "property \"o\" must be a string, a finite number or a boolean"
        );
    }
}
