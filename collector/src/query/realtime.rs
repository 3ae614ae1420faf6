//! Right now: visitors seen in the last five minutes, and events and
//! active sessions per minute over the last hour. Counted from events
//! alone (never from derived sessions), so it is exact the moment an event
//! is committed; an event after "now" is not counted. Filters narrow the
//! events counted as they narrow the overview's (the query API passes a
//! saved segment's members: the visitors it holds for over today, as the
//! live stream's members are, `crate::live::segment`).

use serde::Serialize;

use super::filter::Filter;
use super::table::Table;

/// A visitor is "active" when they sent an event this recently.
pub const ACTIVE_WINDOW_MS: i64 = 5 * 60_000;
/// Minutes in the per-minute series.
pub const MINUTES: i64 = 60;

/// Right now as of `now_ms`, counting the events that pass the filters.
#[derive(Debug, Clone)]
pub struct RealtimeRequest {
    pub now_ms: i64,
    pub filters: Vec<Filter>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Minute {
    /// Start of the minute, ms UTC.
    pub start_ms: i64,
    pub events: i64,
    /// Sessions with at least one event in this minute.
    pub sessions: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Realtime {
    pub now_ms: i64,
    pub active_visitors: i64,
    /// Oldest first; the last is the current, partial minute.
    pub minutes: Vec<Minute>,
}

impl Realtime {
    /// The answer before counting: every minute of the window at zero. The
    /// window is `[first_minute_ms(now), now]`, `MINUTES` whole minutes
    /// ending with the current one.
    pub fn empty(now_ms: i64) -> Realtime {
        let first = first_minute_ms(now_ms);
        let minutes = (0..MINUTES).map(|i| Minute { start_ms: first + i * 60_000, ..Minute::default() }).collect();
        Realtime { now_ms, active_visitors: 0, minutes }
    }

    /// The minute `index` minutes after the first, if in the window.
    pub fn minute_mut(&mut self, index: i64) -> Option<&mut Minute> {
        usize::try_from(index).ok().and_then(|i| self.minutes.get_mut(i))
    }
}

/// The start of the window's first minute, ms UTC.
pub fn first_minute_ms(now_ms: i64) -> i64 {
    (now_ms / 60_000 - (MINUTES - 1)) * 60_000
}

impl Table for Realtime {
    fn columns(&self) -> Vec<&'static str> {
        vec!["minute_start_ms", "events", "sessions", "active_visitors"]
    }

    fn rows(&self) -> Vec<Vec<String>> {
        self.minutes
            .iter()
            .map(|m| vec![m.start_ms.to_string(), m.events.to_string(), m.sessions.to_string(), self.active_visitors.to_string()])
            .collect()
    }
}
