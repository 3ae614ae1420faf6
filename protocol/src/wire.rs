//! The batch as it travels, as JSON:
//!
//! ```json
//! {"site":"demo","sent_at":1732400000000,"events":[
//!   {"id":"…uuid v4…","name":"$pageview","ts":1732399999000,
//!    "session_id":"…","visitor_id":"…","url":"https://example.com/",
//!    "referrer":"https://news.example/","title":"Home","props":{"plan":"pro"}}]}
//! ```
//!
//! Times are milliseconds since the Unix epoch on the sender's clock;
//! `sent_at` lets the collector correct every `ts` for that clock's skew.
//! An event without `session_id` and `visitor_id` is cookieless: the
//! collector derives a daily visitor key for it.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use crate::limits::{DEFAULT_SESSION_MAX_MS, DEFAULT_SESSION_TIMEOUT_MS, MAX_SESSION_MAX_MS, MAX_SESSION_TIMEOUT_MS, MIN_SESSION_TIMEOUT_MS};

/// Reserved event names start with `$`; custom events may not.
pub mod names {
    pub const PAGEVIEW: &str = "$pageview";
    /// Visible time on a page, sent when the page is hidden or left.
    pub const ENGAGEMENT: &str = "$engagement";
    /// A consent decision; `props.analytics` is `"granted"` or `"denied"`.
    pub const CONSENT: &str = "$consent";
    /// `identify(userId)`: links the visitor to `user_id` from here on.
    pub const IDENTIFY: &str = "$identify";
    pub const OUTBOUND_CLICK: &str = "$outbound";
    pub const FILE_DOWNLOAD: &str = "$download";

    pub const ALL: [&str; 6] = [PAGEVIEW, ENGAGEMENT, CONSENT, IDENTIFY, OUTBOUND_CLICK, FILE_DOWNLOAD];

    pub fn is_reserved(name: &str) -> bool {
        name.starts_with('$')
    }
}

/// A batch from a browser. `E` is how its events are read: the collector
/// reads each one on its own (as raw JSON first), so that one malformed
/// event is rejected alone.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Batch<E = Event> {
    /// The site key from the script tag's `data-site`.
    pub site: String,
    /// The sender's clock when the request left, in ms.
    pub sent_at: i64,
    pub events: Vec<E>,
}

#[derive(Debug, Clone, PartialEq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default))]
pub struct Event {
    /// UUID v4 made by the sender; the collector counts each id once.
    pub id: String,
    pub name: String,
    /// When it happened, on the sender's clock, in ms.
    pub ts: i64,
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub session_id: Option<String>,
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub visitor_id: Option<String>,
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub user_id: Option<String>,
    pub url: String,
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub referrer: Option<String>,
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub title: Option<String>,
    /// Visible time on the page, for `$engagement` events.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub engaged_ms: Option<i64>,
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "BTreeMap::is_empty"))]
    pub props: BTreeMap<String, PropValue>,
    /// The sender made `visitor_id` and `session_id` on this page, finding
    /// none stored: a collector that keeps the site's ids in its own
    /// cookie may answer with the ones it knows ([`BatchResponse::ids`]).
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "core::ops::Not::not"))]
    pub new_ids: bool,
}

/// A property value: a string, a number or a boolean. Nested objects,
/// arrays and null are refused, so every property can be a table column.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(untagged))]
pub enum PropValue {
    Bool(bool),
    Number(f64),
    Text(String),
}

/// What became of one event of a batch.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Outcome {
    Accepted,
    Duplicate,
    Rejected,
    /// Sent by a bot or crawler: counted as a bot hit, not stored as an
    /// event. Not an error; resending changes nothing.
    Filtered,
}

#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct EventResult {
    /// Position in the batch, from 0.
    pub index: usize,
    pub id: String,
    pub outcome: Outcome,
    /// Machine-readable reason code for rejections (`name_empty`, …).
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub reason: Option<String>,
    /// The same reason for a person.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub message: Option<String>,
}

/// The collector's answer to a batch it read.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct BatchResponse {
    pub accepted: usize,
    pub duplicates: usize,
    pub rejected: usize,
    #[cfg_attr(feature = "serde", serde(default))]
    pub filtered: usize,
    pub results: Vec<EventResult>,
    /// The site's session rule, which the SDK adopts for its client
    /// sessions (absent from older collectors: the SDK keeps its own).
    #[cfg_attr(feature = "serde", serde(default, skip_serializing_if = "Option::is_none"))]
    pub session: Option<SessionRule>,
    /// The ids the collector's first-party id cookie restored for events
    /// sent with `new_ids`: the SDK keeps them from then on.
    #[cfg_attr(feature = "serde", serde(default, skip_serializing_if = "Option::is_none"))]
    pub ids: Option<ClientIds>,
}

/// A visitor's client ids, as the collector's id cookie keeps them.
///
/// ```json
/// "ids": {"visitor_id": "…", "session_id": "…"}
/// ```
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ClientIds {
    pub visitor_id: String,
    /// Absent when the cookie's session has ended by the site's rule.
    #[cfg_attr(feature = "serde", serde(default, skip_serializing_if = "Option::is_none"))]
    pub session_id: Option<String>,
}

/// A site's session rule as the collector applies it: a session ends after
/// `timeout_ms` without an event, or once it is `max_ms` long.
///
/// ```json
/// "session": {"timeout_ms": 1800000, "max_ms": 86400000}
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct SessionRule {
    pub timeout_ms: i64,
    pub max_ms: i64,
}

impl Default for SessionRule {
    fn default() -> SessionRule {
        SessionRule { timeout_ms: DEFAULT_SESSION_TIMEOUT_MS, max_ms: DEFAULT_SESSION_MAX_MS }
    }
}

impl SessionRule {
    /// An idle timeout from [`MIN_SESSION_TIMEOUT_MS`] to
    /// [`MAX_SESSION_TIMEOUT_MS`], and a maximum length from that timeout
    /// to [`MAX_SESSION_MAX_MS`].
    pub fn is_valid(&self) -> bool {
        (MIN_SESSION_TIMEOUT_MS..=MAX_SESSION_TIMEOUT_MS).contains(&self.timeout_ms)
            && (self.timeout_ms..=MAX_SESSION_MAX_MS).contains(&self.max_ms)
    }
}

/// A batch sent server-to-server (`POST /api/server/collect`, with
/// `Authorization: Bearer <site secret>`): a backend or an offline store
/// reporting on behalf of its visitors.
///
/// ```json
/// {"site":"shop","events":[{"id":"…","name":"purchase","ts":1732399999000,
///   "url":"https://shop.example/checkout","ip":"203.0.113.9",
///   "user_agent":"Mozilla/5.0 …","props":{"total":42}}]}
/// ```
///
/// `sent_at` is optional: a server's clock is trusted unless it says when
/// it sent. Timestamps may lie as far back as
/// [`limits::MAX_BACKFILL_AGE_MS`](crate::limits::MAX_BACKFILL_AGE_MS).
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ServerBatch<E = ServerEvent> {
    pub site: String,
    #[cfg_attr(feature = "serde", serde(default, skip_serializing_if = "Option::is_none"))]
    pub sent_at: Option<i64>,
    pub events: Vec<E>,
}

/// An event with the visitor's address and browser, which only a trusted
/// sender may state: the browser endpoint ignores these fields.
#[derive(Debug, Clone, PartialEq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ServerEvent {
    #[cfg_attr(feature = "serde", serde(flatten))]
    pub event: Event,
    /// The visitor's IP address, for the cookieless visitor key and the
    /// country; never stored.
    #[cfg_attr(feature = "serde", serde(default, skip_serializing_if = "Option::is_none"))]
    pub ip: Option<String>,
    /// The visitor's `User-Agent`.
    #[cfg_attr(feature = "serde", serde(default, skip_serializing_if = "Option::is_none"))]
    pub user_agent: Option<String>,
}
