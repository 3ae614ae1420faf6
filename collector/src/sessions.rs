//! The session rule, one definition for live ingest, for `waymark sessions
//! rebuild` and for every backend.
//!
//! Policy: a visitor's events, ordered by (time, id), form one session
//! until the next event comes more than the site's timeout (30 minutes by
//! default) after the previous one, or at least the site's maximum length
//! (24 hours by default) after the session's first event, or carries
//! another SDK session id (a new client session id is always a new
//! session). The SDK cuts its own sessions by the same two numbers. A
//! session's id is derived from the site, the visitor and its first event's
//! id, so recomputing the sessions from the same events gives the same ids.
//!
//! Mechanism: this module only splits and summarizes events it is given;
//! which stored events to give it when new ones arrive (the tail of a
//! visitor's history, or a window around a late event) is decided by
//! `ingest::sessionize`.

use std::ops::Range;

use serde::Serialize;
use waymark_protocol::names;

use crate::event::StoredEvent;
use crate::ingest::referrer;

/// One row of the `sessions` table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Session {
    pub site: String,
    pub id: String,
    pub visitor_id: String,
    pub client_session_id: Option<String>,
    pub user_id: Option<String>,
    pub start_ts: i64,
    pub end_ts: i64,
    pub duration_ms: i64,
    pub pageviews: i64,
    pub events: i64,
    pub entry_path: Option<String>,
    pub exit_path: Option<String>,
    /// At most one pageview and no interaction (custom event, outbound
    /// click, download).
    pub bounce: bool,
    pub referrer_host: Option<String>,
    pub source: Option<String>,
    pub medium: Option<String>,
    pub utm_source: Option<String>,
    pub utm_medium: Option<String>,
    pub utm_campaign: Option<String>,
    pub utm_term: Option<String>,
    pub utm_content: Option<String>,
    pub browser: Option<String>,
    pub os: Option<String>,
    pub device: Option<String>,
    pub country: Option<String>,
    pub region: Option<String>,
    pub city: Option<String>,
}

/// A site's session parameters: the protocol's, so the SDK and the
/// collector read the same two numbers.
pub use waymark_protocol::SessionRule as Rule;

/// How the rule's parameters cut a visitor's events into sessions.
pub trait Cuts {
    /// True when `next`, following `previous` in order in a session that
    /// began at `session_start`, starts a new session.
    fn splits(&self, session_start: i64, previous: &StoredEvent, next: &StoredEvent) -> bool;

    /// The part of the rule that reads only the two events: the idle time
    /// between them, and their client session ids.
    fn splits_pair(&self, previous: &StoredEvent, next: &StoredEvent) -> bool;

    /// Splits events, already in [`order`], into the ranges of their
    /// sessions. With `open` (the start and the last event of a session the
    /// events follow), the first range continues that session unless the
    /// rule splits them; the flag says whether it does.
    fn cut(&self, events: &[&StoredEvent], open: Option<(i64, &StoredEvent)>) -> (Vec<Range<usize>>, bool);
}

impl Cuts for Rule {
    fn splits(&self, session_start: i64, previous: &StoredEvent, next: &StoredEvent) -> bool {
        self.splits_pair(previous, next) || next.ts - session_start >= self.max_ms
    }

    fn splits_pair(&self, previous: &StoredEvent, next: &StoredEvent) -> bool {
        next.ts - previous.ts > self.timeout_ms
            || matches!((&previous.client_session_id, &next.client_session_id), (Some(a), Some(b)) if a != b)
    }

    fn cut(&self, events: &[&StoredEvent], open: Option<(i64, &StoredEvent)>) -> (Vec<Range<usize>>, bool) {
        let mut ranges = Vec::new();
        let continues = match (open, events.first()) {
            (Some((start, last)), Some(first)) => !self.splits(start, last, first),
            _ => false,
        };
        let mut session_start = match open {
            Some((start, _)) if continues => start,
            _ => events.first().map_or(0, |e| e.ts),
        };
        let mut start = 0;
        for i in 1..=events.len() {
            if i == events.len() || self.splits(session_start, events[i - 1], events[i]) {
                ranges.push(start..i);
                start = i;
                if let Some(next) = events.get(i) {
                    session_start = next.ts;
                }
            }
        }
        (ranges, continues)
    }
}

/// The order the rule reads a visitor's events in.
pub fn order(a: &StoredEvent, b: &StoredEvent) -> std::cmp::Ordering {
    (a.ts, &a.id).cmp(&(b.ts, &b.id))
}

/// Splits one visitor's events, already in [`order`], into sessions; each
/// comes with the range of `events` it covers.
pub fn sessionize(events: &[&StoredEvent], rule: Rule) -> Vec<(Session, Range<usize>)> {
    let (ranges, _) = rule.cut(events, None);
    ranges.into_iter().map(|range| (summarize(&events[range.clone()]), range)).collect()
}

/// The id of the session that begins with `first`: UUID v7-shaped, its
/// first 48 bits the session's start (ms), the rest a hash of the site, the
/// visitor and the first event's id. Ids of new sessions sort after older
/// ones, so the indexes keyed by session id grow at their end instead of
/// at a random page each.
pub fn session_id(site: &str, visitor_id: &str, first: &StoredEvent) -> String {
    let mut hasher = blake3::Hasher::new_derive_key("waymark session id v2");
    for part in [site, visitor_id, first.id.as_str()] {
        hasher.update(part.as_bytes());
        hasher.update(&[0]);
    }
    let hash = hasher.finalize();
    let rest: &[u8; 10] = hash.as_bytes()[..10].try_into().expect("a 32-byte hash");
    uuid::Builder::from_unix_timestamp_millis(u64::try_from(first.ts).unwrap_or(0), rest).into_uuid().hyphenated().to_string()
}

/// `session` (the summary of some events) extended by `later` events, all
/// after them in [`order`] and continuing the session: equal to summarizing
/// all the events at once, without reading the earlier ones again.
pub fn extend(session: &Session, later: &[&StoredEvent]) -> Session {
    let Some(last) = later.last() else { return session.clone() };
    let mut s = session.clone();
    let new_pageviews: Vec<&&StoredEvent> = later.iter().filter(|e| e.name == names::PAGEVIEW).collect();
    if session.pageviews == 0
        && let Some(first) = new_pageviews.first()
    {
        s.entry_path = Some(first.path.clone());
    }
    s.exit_path = match new_pageviews.last() {
        Some(pv) => Some(pv.path.clone()),
        None if session.pageviews > 0 => session.exit_path.clone(),
        None => Some(last.path.clone()),
    };
    s.pageviews += new_pageviews.len() as i64;
    s.events += later.len() as i64;
    s.end_ts = last.ts;
    s.duration_ms = s.end_ts - s.start_ts;
    // With at most one pageview in total, the earlier part's bounce flag
    // says whether it had an interaction.
    s.bounce = s.pageviews <= 1 && session.bounce && !later.iter().any(|e| is_interaction(&e.name));
    s.client_session_id = s.client_session_id.or_else(|| later.iter().find_map(|e| e.client_session_id.clone()));
    s.user_id = s.user_id.or_else(|| later.iter().find_map(|e| e.user_id.clone()));
    s
}

/// `session` with `inside` events added, each of which lies strictly
/// between the session's first and last event in [`order`] (so that none
/// moves a boundary): equal to summarizing all the events at once, or
/// `None` when that would need the session's other events. It does when an
/// inside event has a client session id and the session is not known to
/// hold only that one (`one_client`, see [`one_client`]: events without
/// one join two client sessions into one session, and another client
/// session id beside its neighbour splits it), its user id differs from
/// the session's (which one is first depends on where they lie), or it is a
/// pageview in a session whose events are not all pageviews (it may become
/// the entry or exit page).
pub fn absorb(session: &Session, inside: &[&StoredEvent], one_client: bool) -> Option<Session> {
    let mut s = session.clone();
    let all_pageviews = session.pageviews == session.events;
    for e in inside {
        let pageview = e.name == names::PAGEVIEW;
        let same_client = e.client_session_id.is_none() || (one_client && e.client_session_id == session.client_session_id);
        let same_user = e.user_id.is_none() || session.user_id.is_none() || e.user_id == session.user_id;
        if !same_client || !same_user || (pageview && !all_pageviews) {
            return None;
        }
        s.events += 1;
        s.pageviews += i64::from(pageview);
        s.bounce = s.bounce && s.pageviews <= 1 && !is_interaction(&e.name);
    }
    // The earliest inside event with a user id, when the session had none.
    let mut by_order: Vec<&&StoredEvent> = inside.iter().collect();
    by_order.sort_by(|a, b| order(a, b));
    s.user_id = s.user_id.or_else(|| by_order.iter().find_map(|e| e.user_id.clone()));
    Some(s)
}

/// Whether every one of a session's `events` that has a client session id
/// has `client`, the session's (its first): what lets [`absorb`] take late
/// events with a client session id.
pub fn one_client(events: &[&StoredEvent], client: &Option<String>) -> bool {
    events.iter().all(|e| e.client_session_id.is_none() || e.client_session_id == *client)
}

fn is_interaction(name: &str) -> bool {
    !matches!(name, names::PAGEVIEW | names::ENGAGEMENT | names::CONSENT | names::IDENTIFY)
}

/// The session that `events` (one session's, in [`order`]) form.
pub fn summarize(events: &[&StoredEvent]) -> Session {
    let first = events[0];
    let last = events[events.len() - 1];
    let pageviews: Vec<&&StoredEvent> = events.iter().filter(|e| e.name == names::PAGEVIEW).collect();
    let entry = pageviews.first().copied().unwrap_or(&first);
    let exit = pageviews.last().copied().unwrap_or(&last);
    let source = referrer::session_source(first);
    Session {
        site: first.site.clone(),
        id: session_id(&first.site, &first.visitor_id, first),
        visitor_id: first.visitor_id.clone(),
        client_session_id: events.iter().find_map(|e| e.client_session_id.clone()),
        user_id: events.iter().find_map(|e| e.user_id.clone()),
        start_ts: first.ts,
        end_ts: last.ts,
        duration_ms: last.ts - first.ts,
        pageviews: pageviews.len() as i64,
        events: events.len() as i64,
        entry_path: Some(entry.path.clone()),
        exit_path: Some(exit.path.clone()),
        bounce: pageviews.len() <= 1 && !events.iter().any(|e| is_interaction(&e.name)),
        referrer_host: source.referrer_host,
        source: source.source,
        medium: source.medium,
        utm_source: first.utm_source.clone(),
        utm_medium: first.utm_medium.clone(),
        utm_campaign: first.utm_campaign.clone(),
        utm_term: first.utm_term.clone(),
        utm_content: first.utm_content.clone(),
        browser: first.browser.clone(),
        os: first.os.clone(),
        device: first.device.clone(),
        country: first.country.clone(),
        region: first.region.clone(),
        city: first.city.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;
    const T0: i64 = 1_764_028_800_000; // 2025-11-25 00:00 UTC
    const RULE: Rule = Rule { timeout_ms: 30 * MIN, max_ms: 24 * 60 * MIN };

    fn event(n: u32, ts: i64, name: &str, path: &str, client_session: Option<&str>) -> StoredEvent {
        StoredEvent {
            site: "s".into(),
            id: format!("00000000-0000-4000-8000-{n:012}"),
            ts,
            name: name.into(),
            visitor_id: "v".into(),
            client_session_id: client_session.map(Into::into),
            path: path.into(),
            source: Some("Google".into()),
            ..StoredEvent::default()
        }
    }

    fn split(events: &[StoredEvent]) -> Vec<Vec<usize>> {
        let mut sorted: Vec<&StoredEvent> = events.iter().collect();
        sorted.sort_by(|a, b| order(a, b));
        sessionize(&sorted, RULE).into_iter().map(|(_, r)| r.map(|i| sorted[i].id[24..].parse().unwrap()).collect()).collect()
    }

    #[test]
    fn a_gap_of_29_59_continues_the_session_and_30_01_starts_a_new_one() {
        let e = [event(1, T0, "$pageview", "/", None), event(2, T0 + 29 * MIN + 59_000, "$pageview", "/a", None)];
        assert_eq!(split(&e), vec![vec![1, 2]]);
        let e = [event(1, T0, "$pageview", "/", None), event(2, T0 + 30 * MIN + 1_000, "$pageview", "/a", None)];
        assert_eq!(split(&e), vec![vec![1], vec![2]]);
    }

    #[test]
    fn a_session_that_reaches_its_maximum_length_ends_and_the_next_event_starts_another() {
        let rule = Rule { timeout_ms: 30 * MIN, max_ms: 60 * MIN };
        // Busy every 20 minutes for two hours: cut at 60 minutes from each start.
        let e: Vec<StoredEvent> = (0..7).map(|n| event(n, T0 + i64::from(n) * 20 * MIN, "$pageview", "/", None)).collect();
        let mut sorted: Vec<&StoredEvent> = e.iter().collect();
        sorted.sort_by(|a, b| order(a, b));
        let ranges: Vec<Range<usize>> = sessionize(&sorted, rule).into_iter().map(|(_, r)| r).collect();
        assert_eq!(ranges, vec![0..3, 3..6, 6..7]);
    }

    #[test]
    fn events_that_follow_an_open_session_are_cut_by_its_start_not_theirs() {
        let rule = Rule { timeout_ms: 30 * MIN, max_ms: 60 * MIN };
        let last = event(0, T0 + 40 * MIN, "$pageview", "/", None);
        let later = [event(1, T0 + 50 * MIN, "$pageview", "/", None), event(2, T0 + 65 * MIN, "$pageview", "/", None)];
        let refs: Vec<&StoredEvent> = later.iter().collect();
        assert_eq!(rule.cut(&refs, Some((T0, &last))), (vec![0..1, 1..2], true));
        // A client session id that changes is a boundary whatever the times.
        let mut other = later.clone();
        other[0].client_session_id = Some("b".into());
        let mut last = last;
        last.client_session_id = Some("a".into());
        let refs: Vec<&StoredEvent> = other.iter().collect();
        let (ranges, continues) = rule.cut(&refs, Some((T0, &last)));
        assert_eq!((ranges.len(), ranges[0].clone(), continues), (1, 0..2, false));
    }

    #[test]
    fn a_session_spans_midnight() {
        let e = [event(1, T0 - 10 * MIN, "$pageview", "/", None), event(2, T0 + 10 * MIN, "$pageview", "/a", None)];
        assert_eq!(split(&e), vec![vec![1, 2]]);
    }

    #[test]
    fn a_new_client_session_id_always_starts_a_new_session() {
        let e = [event(1, T0, "$pageview", "/", Some("a")), event(2, T0 + MIN, "$pageview", "/", Some("b"))];
        assert_eq!(split(&e), vec![vec![1], vec![2]]);
    }

    #[test]
    fn out_of_order_events_are_sessionized_by_their_time() {
        let e = [
            event(3, T0 + 50 * MIN, "$pageview", "/c", None),
            event(1, T0, "$pageview", "/a", None),
            event(2, T0 + 25 * MIN, "$pageview", "/b", None),
        ];
        assert_eq!(split(&e), vec![vec![1, 2, 3]]);
    }

    #[test]
    fn a_session_summarizes_its_events() {
        let mut e = [
            event(1, T0, "$pageview", "/in", Some("c")),
            event(2, T0 + MIN, "signup", "/in", Some("c")),
            event(3, T0 + 2 * MIN, "$pageview", "/out", Some("c")),
            event(4, T0 + 3 * MIN, "$engagement", "/out", Some("c")),
        ];
        e[0].browser = Some("Firefox".into());
        let refs: Vec<&StoredEvent> = e.iter().collect();
        let (s, range) = sessionize(&refs, RULE).remove(0);
        assert_eq!(range, 0..4);
        assert_eq!((s.start_ts, s.end_ts, s.duration_ms), (T0, T0 + 3 * MIN, 3 * MIN));
        assert_eq!((s.pageviews, s.events, s.bounce), (2, 4, false));
        assert_eq!((s.entry_path.as_deref(), s.exit_path.as_deref()), (Some("/in"), Some("/out")));
        assert_eq!((s.browser.as_deref(), s.source.as_deref()), (Some("Firefox"), Some("Google")));
        assert_eq!(s.id, session_id("s", "v", &e[0]));
        assert_eq!(s.client_session_id.as_deref(), Some("c"));
    }

    proptest::proptest! {
        #[test]
        fn extending_a_session_equals_summarizing_all_its_events(
            specs in proptest::collection::vec((0..4usize, proptest::option::of(0..2u8), 0..3u8), 1..12),
            split_at in 0..12usize,
        ) {
            let names = ["$pageview", "$engagement", "signup", "$identify"];
            let events: Vec<StoredEvent> = specs
                .iter()
                .enumerate()
                .map(|(n, &(name, user, path))| {
                    let mut e = event(n as u32, T0 + n as i64 * MIN, names[name], &format!("/{path}"), Some("c"));
                    e.user_id = user.map(|u| u.to_string());
                    e
                })
                .collect();
            let refs: Vec<&StoredEvent> = events.iter().collect();
            let split_at = split_at.clamp(1, refs.len());
            let whole = summarize(&refs);
            let extended = extend(&summarize(&refs[..split_at]), &refs[split_at..]);
            proptest::prop_assert_eq!(extended, whole);
        }
    }

    proptest::proptest! {
        #[test]
        fn absorbing_events_inside_a_session_equals_summarizing_all_its_events(
            specs in proptest::collection::vec((0..4usize, proptest::option::of(0..2u8), 0..3u8, 0..6i64), 3..14),
            inside in proptest::collection::vec(proptest::bool::ANY, 14),
        ) {
            let names = ["$pageview", "$engagement", "signup", "$identify"];
            // Whole seconds, so that events tie in time and order by id.
            let mut events: Vec<StoredEvent> = specs
                .iter()
                .enumerate()
                .map(|(n, &(name, user, path, second))| {
                    let mut e = event(n as u32, T0 + second * 1_000, names[name], &format!("/{path}"), Some("c"));
                    e.user_id = user.map(|u| u.to_string());
                    e
                })
                .collect();
            events.sort_by(order);
            let refs: Vec<&StoredEvent> = events.iter().collect();
            let (first, last) = (refs[0], refs[refs.len() - 1]);
            // Late arrivals: events strictly inside in order, after the first in time.
            let is_late = |k: usize, e: &StoredEvent| inside[k] && e.ts > first.ts && !std::ptr::eq(e, last);
            let late: Vec<&StoredEvent> = refs.iter().enumerate().filter(|&(k, e)| is_late(k, e)).map(|(_, e)| *e).collect();
            let stored: Vec<&StoredEvent> = refs.iter().enumerate().filter(|&(k, e)| !is_late(k, e)).map(|(_, e)| *e).collect();
            let session = summarize(&stored);
            if let Some(absorbed) = absorb(&session, &late, one_client(&stored, &session.client_session_id)) {
                proptest::prop_assert_eq!(absorbed, summarize(&refs));
            }
        }
    }

    #[test]
    fn absorbing_refuses_what_needs_the_session_s_other_events() {
        let mut e = [
            event(1, T0, "$pageview", "/in", Some("c")),
            event(2, T0 + MIN, "$engagement", "/in", Some("c")),
            event(3, T0 + 2 * MIN, "$pageview", "/out", Some("c")),
        ];
        let stored = summarize(&[&e[0], &e[2]]);
        assert_eq!(absorb(&stored, &[&e[1]], true), Some(summarize(&[&e[0], &e[1], &e[2]])));
        assert_eq!(absorb(&stored, &[&e[1]], false), None, "the session may hold another client session beside it");
        e[1].client_session_id = None;
        assert_eq!(absorb(&stored, &[&e[1]], false), Some(summarize(&[&e[0], &e[1], &e[2]])), "no client id: no split");
        e[1].client_session_id = Some("other".into());
        assert_eq!(absorb(&stored, &[&e[1]], true), None, "another client session splits it");
        let mixed = summarize(&[&e[0], &e[2], &event(5, T0 + 3 * MIN, "$engagement", "/out", Some("c"))]);
        let late_view = event(4, T0 + 30_000, "$pageview", "/late", Some("c"));
        assert_eq!(absorb(&mixed, &[&late_view], true), None, "a pageview among other events may be the entry or exit");
    }

    #[test]
    fn one_pageview_with_engagement_is_a_bounce_and_a_custom_event_is_not() {
        let e = [event(1, T0, "$pageview", "/", None), event(2, T0 + MIN, "$engagement", "/", None)];
        let refs: Vec<&StoredEvent> = e.iter().collect();
        assert!(sessionize(&refs, RULE)[0].0.bounce);
        let e = [event(1, T0, "$pageview", "/", None), event(2, T0 + MIN, "play", "/", None)];
        let refs: Vec<&StoredEvent> = e.iter().collect();
        assert!(!sessionize(&refs, RULE)[0].0.bounce);
    }
}
