//! One person's data, for them to receive (the right of access): every
//! stored event and session of the visitors a [`Selector`] names, as JSON,
//! or as CSV one table at a time (events, or sessions).
//!
//! Policy: the same selectors as erasure (a visitor, a user's linked
//! visitors, a session's visitor), resolved by the backend in the same one
//! place; a whole site is not a person and is not exported this way.
//! Events come in (time, id) order, sessions by start.

use serde::Serialize;

use super::table::{Table, cell};
use crate::event::StoredEvent;
use crate::sessions::Session;
use crate::store::lifecycle::Selector;

/// Everything stored of one person on one site.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PersonData {
    pub site: String,
    /// The visitor ids the selector named.
    pub visitors: Vec<String>,
    pub sessions: Vec<Session>,
    pub events: Vec<StoredEvent>,
}

impl PersonData {
    pub fn is_empty(&self) -> bool {
        self.events.is_empty() && self.sessions.is_empty()
    }
}

/// Whether the selector names a person (a site does not).
pub fn is_person(selector: &Selector) -> bool {
    !matches!(selector, Selector::Site)
}

/// The events of a [`PersonData`] as a table, every stored column.
#[derive(Serialize)]
#[serde(transparent)]
pub struct PersonEvents(pub PersonData);

/// The sessions of a [`PersonData`] as a table, every stored column.
#[derive(Serialize)]
#[serde(transparent)]
pub struct PersonSessions(pub PersonData);

impl Table for PersonEvents {
    fn columns(&self) -> Vec<&'static str> {
        vec![
            "id", "ts", "received_ms", "name", "session_id", "client_session_id", "visitor_id", "user_id", "url", "host", "path",
            "title", "referrer", "referrer_host", "source", "medium", "utm_source", "utm_medium", "utm_campaign", "utm_term",
            "utm_content", "browser", "browser_version", "os", "device", "country", "region", "city", "props", "engaged_ms",
        ]
    }

    fn rows(&self) -> Vec<Vec<String>> {
        self.0
            .events
            .iter()
            .map(|e| {
                vec![
                    e.id.clone(), e.ts.to_string(), e.received_ms.to_string(), e.name.clone(), e.session_id.clone(),
                    cell(&e.client_session_id), e.visitor_id.clone(), cell(&e.user_id), e.url.clone(), e.host.clone(),
                    e.path.clone(), cell(&e.title), cell(&e.referrer), cell(&e.referrer_host), cell(&e.source), cell(&e.medium),
                    cell(&e.utm_source), cell(&e.utm_medium), cell(&e.utm_campaign), cell(&e.utm_term), cell(&e.utm_content),
                    cell(&e.browser), cell(&e.browser_version), cell(&e.os), cell(&e.device), cell(&e.country), cell(&e.region),
                    cell(&e.city), e.props.clone(), cell(&e.engaged_ms),
                ]
            })
            .collect()
    }
}

impl Table for PersonSessions {
    fn columns(&self) -> Vec<&'static str> {
        vec![
            "id", "visitor_id", "client_session_id", "user_id", "start_ts", "end_ts", "duration_ms", "pageviews", "events",
            "entry_path", "exit_path", "bounce", "referrer_host", "source", "medium", "utm_source", "utm_medium", "utm_campaign",
            "utm_term", "utm_content", "browser", "os", "device", "country", "region", "city",
        ]
    }

    fn rows(&self) -> Vec<Vec<String>> {
        self.0
            .sessions
            .iter()
            .map(|s| {
                vec![
                    s.id.clone(), s.visitor_id.clone(), cell(&s.client_session_id), cell(&s.user_id), s.start_ts.to_string(),
                    s.end_ts.to_string(), s.duration_ms.to_string(), s.pageviews.to_string(), s.events.to_string(),
                    cell(&s.entry_path), cell(&s.exit_path), u8::from(s.bounce).to_string(), cell(&s.referrer_host),
                    cell(&s.source), cell(&s.medium), cell(&s.utm_source), cell(&s.utm_medium), cell(&s.utm_campaign),
                    cell(&s.utm_term), cell(&s.utm_content), cell(&s.browser), cell(&s.os), cell(&s.device), cell(&s.country),
                    cell(&s.region), cell(&s.city),
                ]
            })
            .collect()
    }
}
