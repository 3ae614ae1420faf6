//! Events as the SDK builds them: checked against the limits in
//! `waymark_protocol::limits` when they are tracked, so a mistake shows up
//! in the developer's console at the call, not as a rejection later.
//!
//! Policy: a bad name or property refuses the whole call (the collector
//! would refuse the event too); over-long URLs and titles, which the page
//! author does not control, are cut to their limits instead.

use alloc::borrow::ToOwned;
use alloc::string::String;

use crate::core::json::{push_int, push_key, push_string};
use crate::core::session::Ids;
use waymark_protocol::limits::*;
use waymark_protocol::names;

/// Room left in a request for the batch around its events.
const BATCH_ENVELOPE_BYTES: usize = 1024;
/// Largest event the SDK sends: one event must fit one request.
pub const MAX_EVENT_BYTES: usize = MAX_REQUEST_BYTES - BATCH_ENVELOPE_BYTES;

/// A property value as the web adapter read it.
#[derive(Debug, Clone, PartialEq)]
pub enum Prop {
    Text(String),
    /// A finite number, already formatted as JSON by the platform.
    Number(String),
    Bool(bool),
    NotFinite,
    /// An object, array, null or function.
    Unsupported,
}

#[derive(Debug, Clone, PartialEq)]
pub enum EventError {
    NameEmpty,
    NameTooLong,
    NameReserved(String),
    PropsNotAnObject,
    TooManyProps(usize),
    PropKeyInvalid(String),
    PropValueTooLong(String),
    PropValueNotFinite(String),
    PropValueUnsupported(String),
    TooLarge,
}

impl EventError {
    pub fn message(&self) -> String {
        let (before, subject, after): (&str, &str, &str) = match self {
            EventError::NameEmpty => ("the event name is empty", "", ""),
            EventError::NameTooLong => ("the event name is longer than 200 bytes", "", ""),
            EventError::NameReserved(n) => ("event name `", n, "` starts with `$`, which is reserved for Waymark's own events"),
            EventError::PropsNotAnObject => ("properties must be a plain object", "", ""),
            EventError::TooManyProps(_) => ("more than 64 properties", "", ""),
            EventError::PropKeyInvalid(k) => ("property key `", k, "` must be 1 to 100 bytes"),
            EventError::PropValueTooLong(k) => ("property `", k, "` is longer than 1000 bytes"),
            EventError::PropValueNotFinite(k) => ("property `", k, "` is not a finite number"),
            EventError::PropValueUnsupported(k) => ("property `", k, "` must be a string, a finite number or a boolean"),
            EventError::TooLarge => ("the event is larger than one request may be (about 59 KiB)", "", ""),
        };
        let mut s = String::from(before);
        s.push_str(subject);
        s.push_str(after);
        s
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

/// Checks a custom event name from `track()`.
pub fn check_name(name: &str) -> Result<(), EventError> {
    if name.is_empty() {
        Err(EventError::NameEmpty)
    } else if name.len() > MAX_NAME_BYTES {
        Err(EventError::NameTooLong)
    } else if names::is_reserved(name) {
        Err(EventError::NameReserved(name.to_owned()))
    } else {
        Ok(())
    }
}

/// Checks properties against the protocol's limits and writes them as a
/// JSON object (empty string for none).
pub fn encode_props(props: &[(String, Prop)]) -> Result<String, EventError> {
    if props.is_empty() {
        return Ok(String::new());
    }
    if props.len() > MAX_PROPS {
        return Err(EventError::TooManyProps(props.len()));
    }
    let mut out = String::from("{");
    for (key, value) in props {
        if key.is_empty() || key.len() > MAX_PROP_KEY_BYTES {
            return Err(EventError::PropKeyInvalid(key.clone()));
        }
        push_key(&mut out, key);
        match value {
            Prop::Text(s) if s.len() > MAX_PROP_VALUE_BYTES => return Err(EventError::PropValueTooLong(key.clone())),
            Prop::Text(s) => push_string(&mut out, s),
            Prop::Number(n) => out.push_str(n),
            Prop::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Prop::NotFinite => return Err(EventError::PropValueNotFinite(key.clone())),
            Prop::Unsupported => return Err(EventError::PropValueUnsupported(key.clone())),
        }
    }
    out.push('}');
    Ok(out)
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
        let key = || json.get(key_start + 1..scan_end(json, key_start)).unwrap_or("").to_owned();
        count += 1;
        if count > MAX_PROPS {
            return Err(EventError::TooManyProps(count));
        }
        if key_bytes == 0 || key_bytes > MAX_PROP_KEY_BYTES {
            return Err(EventError::PropKeyInvalid(key()));
        }
        if !scan.eat(b':') {
            return Err(EventError::PropsNotAnObject);
        }
        match scan.peek() {
            Some(b'"') => {
                if scan.string().ok_or(EventError::PropsNotAnObject)? > MAX_PROP_VALUE_BYTES {
                    return Err(EventError::PropValueTooLong(key()));
                }
            }
            Some(b't') if scan.word(b"true") => {}
            Some(b'f') if scan.word(b"false") => {}
            Some(b'-' | b'0'..=b'9') => scan.number(),
            _ => return Err(EventError::PropValueUnsupported(key())),
        }
        if scan.eat(b'}') {
            break;
        }
        if !scan.eat(b',') {
            return Err(EventError::PropsNotAnObject);
        }
    }
    if scan.at == json.len() { Ok(json.to_owned()) } else { Err(EventError::PropsNotAnObject) }
}

/// Where the JSON string starting at `start` (its opening quote) ends.
fn scan_end(json: &str, start: usize) -> usize {
    let mut scan = Scan { bytes: json.as_bytes(), at: start };
    scan.string();
    scan.at.saturating_sub(1)
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

    fn text(k: &str, v: &str) -> (String, Prop) {
        (k.into(), Prop::Text(v.into()))
    }

    #[test]
    fn an_event_encodes_to_the_wire_format_the_collector_reads() {
        let mut d = Draft::new("signup", 1_700_000_000_000, "https://example.com/a?b=1");
        d.title = Some("Sign \"up\"".into());
        d.props = encode_props(&[text("plan", "pro"), ("seats".into(), Prop::Number("3".into())), ("trial".into(), Prop::Bool(false))]).unwrap();
        let ids = Ids {
            visitor: "11111111-1111-4111-8111-111111111111".into(),
            session: Session { id: "22222222-2222-4222-8222-222222222222".into(), started_ms: 0, last_event_ms: 0 },
            user: Some("u1".into()),
        };
        let json = d.encode("33333333-3333-4333-8333-333333333333", Some(&ids));
        assert_eq!(
            json,
            r#"{"id":"33333333-3333-4333-8333-333333333333","name":"signup","ts":1700000000000,"session_id":"22222222-2222-4222-8222-222222222222","visitor_id":"11111111-1111-4111-8111-111111111111","user_id":"u1","url":"https://example.com/a?b=1","title":"Sign \"up\"","props":{"plan":"pro","seats":3,"trial":false}}"#
        );
    }

    #[test]
    fn a_cookieless_event_carries_no_client_ids() {
        let json = Draft::new("$pageview", 1, "https://example.com/").encode("id", None);
        assert!(!json.contains("session_id") && !json.contains("visitor_id"));
    }

    #[test]
    fn property_limits_are_those_of_the_protocol() {
        let long = "x".repeat(MAX_PROP_VALUE_BYTES + 1);
        assert_eq!(encode_props(&[text("k", &long)]), Err(EventError::PropValueTooLong("k".into())));
        assert_eq!(encode_props(&[text("", "v")]), Err(EventError::PropKeyInvalid(String::new())));
        assert_eq!(encode_props(&[("n".into(), Prop::NotFinite)]), Err(EventError::PropValueNotFinite("n".into())));
        assert_eq!(encode_props(&[("o".into(), Prop::Unsupported)]).unwrap_err().message(), "property `o` must be a string, a finite number or a boolean");
        let many: Vec<_> = (0..=MAX_PROPS).map(|i| text(&i.to_string(), "v")).collect();
        assert_eq!(encode_props(&many), Err(EventError::TooManyProps(MAX_PROPS + 1)));
    }

    #[test]
    fn custom_names_may_not_use_the_reserved_prefix() {
        assert!(check_name("signup").is_ok());
        assert_eq!(check_name("$pageview").unwrap_err().message(), "event name `$pageview` starts with `$`, which is reserved for Waymark's own events");
        assert_eq!(check_name(""), Err(EventError::NameEmpty));
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
    }

    #[test]
    fn serialized_properties_pass_as_they_are_when_flat_and_within_limits() {
        let json = r#"{"plan":"pro","seats":3,"ratio":-1.5e-7,"trial":false,"note":"a \"b\"\n"}"#;
        assert_eq!(check_props_json(json), Ok(json.to_owned()));
        assert_eq!(check_props_json("{}"), Ok(String::new()));
    }

    #[test]
    fn serialized_properties_are_refused_by_key_when_they_break_a_limit() {
        let long = format!(r#"{{"k":"{}"}}"#, "x".repeat(MAX_PROP_VALUE_BYTES + 1));
        assert_eq!(check_props_json(&long), Err(EventError::PropValueTooLong("k".into())));
        let exact = format!(r#"{{"k":"{}"}}"#, "\\".repeat(MAX_PROP_VALUE_BYTES));
        assert!(check_props_json(&exact).is_ok(), "escapes count once decoded");
        assert_eq!(check_props_json(r#"{"n":null}"#), Err(EventError::PropValueUnsupported("n".into())));
        assert_eq!(check_props_json(r#"{"o":{"a":1}}"#), Err(EventError::PropValueUnsupported("o".into())));
        assert_eq!(check_props_json(r#"{"a":[1]}"#), Err(EventError::PropValueUnsupported("a".into())));
        assert_eq!(check_props_json(r#"{"":1}"#), Err(EventError::PropKeyInvalid(String::new())));
        assert_eq!(check_props_json("[1,2]"), Err(EventError::PropsNotAnObject));
        assert_eq!(check_props_json(r#""text""#), Err(EventError::PropsNotAnObject));
        let many = format!("{{{}}}", (0..=MAX_PROPS).map(|i| format!(r#""k{i}":1"#)).collect::<Vec<_>>().join(","));
        assert_eq!(check_props_json(&many), Err(EventError::TooManyProps(MAX_PROPS + 1)));
    }
}
