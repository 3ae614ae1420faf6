//! The Segment HTTP Tracking API, read into Waymark's events: what
//! Segment's and RudderStack's clients (analytics.js / analytics-next,
//! Node, Python, iOS, Android, React Native) send to `/v1/*`, mapped onto
//! the protocol's [`Event`] and then held to the very rules a browser
//! batch is (`validate`), so that these events join the same visitors and
//! sessions as the SDK's.
//!
//! Policy (the README's table says it for users):
//! - `messageId` is the event id: a UUID as sent, anything else the UUID v5
//!   of the site and the id, so a resend is a duplicate; a message without
//!   one gets the UUID v5 of its own text;
//! - `anonymousId` (for an alias, `previousId`) is the visitor, likewise a
//!   UUID as sent or derived from the site and the id; with only `userId`,
//!   the visitor is derived from that; with neither, the message is refused;
//! - `userId` is the event's user id (as `identify(userId)` on the SDK);
//! - `track` is an event named by `event` (never starting with `$`);
//!   `page` a `$pageview` of `context.page.url` (or `properties.url`);
//!   `screen` a `$pageview` of `https://<app>/<screen name>`, so apps get
//!   pages, sessions and journeys; `identify` and `alias` an `$identify`;
//!   `group` is refused: Waymark has no groups;
//! - `properties` (and an identify's `traits`) become the props: nested
//!   objects flattened to dotted keys (`cart.total`), arrays kept as their
//!   JSON text, nulls dropped; then the protocol's limits apply;
//! - `context.campaign` becomes the URL's `utm_*` parameters (unless it has
//!   its own), so attribution reads it by the one rule;
//! - time: `timestamp` with `originalTimestamp` is already corrected and
//!   kept; otherwise the device's time (`originalTimestamp`, or
//!   `timestamp` alone, which is what the libraries send) is corrected by
//!   `sentAt` as Segment does: `receivedAt - (sentAt - originalTimestamp)`;
//! - from a browser (a request with `Origin`), the request's own address
//!   and user agent are the visitor's and events may be a week old; from a
//!   server, `context.ip` and `context.userAgent` are, and events may be
//!   31 days old, as on `/api/server/collect`.
//!
//! Mechanism: [`decode`] reads a body into messages (each on its own, so
//! one bad message is refused alone), [`message`] maps one message, and
//! [`check`] runs each through the protocol's validation.

pub mod decode;
pub mod message;

use waymark_protocol::{Rejection, limits};

use super::validate::{Checked, StatedSender, check_event, refused};
pub use decode::{Call, Kind, Received, decode};

/// Largest body of a batch (`/v1/batch`, `/v1/b`), as Segment's API sets it.
pub const MAX_BATCH_BYTES: usize = 500 * 1024;
/// Largest single message, in a batch or alone (`/v1/track`, …).
pub const MAX_MESSAGE_BYTES: usize = 32 * 1024;

/// Why one message was refused, with a code senders can match on.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("the message is larger than {MAX_MESSAGE_BYTES} bytes")]
    TooLarge,
    #[error("not a message: {0}")]
    Malformed(String),
    #[error("`type` {0:?} is not one of track, page, screen, identify, alias, group")]
    TypeUnknown(String),
    #[error("a message needs `anonymousId` or `userId`")]
    IdentityMissing,
    #[error("an alias needs `previousId` and `userId`")]
    AliasIncomplete,
    #[error("`{0}` must be a string or a number")]
    IdNotText(&'static str),
    #[error("a track call needs `event`, a non-empty string")]
    EventMissing,
    #[error("`{0}` is not an ISO 8601 date-time with a time zone, e.g. 2025-11-25T12:00:00.000Z")]
    TimestampInvalid(&'static str),
    #[error("group calls are not kept: Waymark has no groups (accounts) yet; send the group's id as a property of your track calls")]
    GroupUnsupported,
    /// A rule of Waymark's own wire format, as a browser's event would break it.
    #[error("{0}")]
    Wire(Rejection),
}

impl Refusal {
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::TooLarge => "event_too_large",
            Refusal::Malformed(_) => "event_malformed",
            Refusal::TypeUnknown(_) => "type_unknown",
            Refusal::IdentityMissing => "identity_missing",
            Refusal::AliasIncomplete => "alias_incomplete",
            Refusal::IdNotText(_) => "id_invalid",
            Refusal::EventMissing => "event_name_missing",
            Refusal::TimestampInvalid(_) => "timestamp_invalid",
            Refusal::GroupUnsupported => "group_unsupported",
            Refusal::Wire(rejection) => rejection.code(),
        }
    }
}

impl From<Rejection> for Refusal {
    fn from(rejection: Rejection) -> Refusal {
        Refusal::Wire(rejection)
    }
}

/// Each message of `received`, for `site`, as a row to store or its
/// refusal, with the visitor's address and browser as a server's message
/// states them (none from a browser: the caller uses its own request).
pub fn check(site: &str, received: Received, now_ms: i64, from_browser: bool) -> Vec<(Checked, StatedSender)> {
    let max_age = if from_browser { limits::MAX_BROWSER_AGE_MS } else { limits::MAX_BACKFILL_AGE_MS };
    let envelope = message::Envelope {
        site,
        sent_at: received.sent_at.as_ref(),
        context: received.context.as_ref(),
        call: received.kind,
        from_browser,
    };
    received
        .messages
        .into_iter()
        .enumerate()
        .map(|(index, read)| {
            let mapped = read
                .map_err(|unread| (unread.id, unread.refusal))
                .and_then(|m| message::map(&envelope, &m, now_ms).map_err(|refusal| (message::id_of(&m), refusal)));
            match mapped {
                Ok(mapped) => {
                    let checked = check_event(site, index, mapped.event, now_ms, mapped.offset_ms, max_age);
                    (checked, mapped.stated)
                }
                Err((id, refusal)) => {
                    (Checked::Invalid(refused(index, id, refusal.code(), &refusal)), StatedSender { ip: None, user_agent: None })
                }
            }
        })
        .collect()
}
