//! The write seam's conformance suite: what every [`Store`] backend must
//! do. A backend runs it by one line in its test module,
//! `write_conformance_tests!(|dir, rules| MyStore::open(dir, rules));`, which makes
//! each case its own `#[test]` (so the first failure hides none of the
//! others). Each case opens a fresh store in its own temporary directory,
//! with the session rules it gives (site key → rule).

use std::collections::HashMap;
use std::path::Path;

use super::{Appended, BotHit, Store};
use crate::event::StoredEvent;
use crate::sessions::{self, Rule};

const MIN: i64 = 60_000;
/// 2025-11-25 00:00 UTC.
pub const T0: i64 = 1_764_028_800_000;

/// A pageview of `visitor` at `ts`; `n` makes its id.
pub fn pageview(n: u64, visitor: &str, ts: i64) -> StoredEvent {
    StoredEvent {
        site: "site".into(),
        id: format!("00000000-0000-4000-8000-{n:012}"),
        ts,
        received_ms: ts,
        name: "$pageview".into(),
        visitor_id: visitor.into(),
        url: format!("https://site.example/p{n}"),
        host: "site.example".into(),
        path: format!("/p{n}"),
        props: "{}".into(),
        source: Some("(direct)".into()),
        medium: Some("(none)".into()),
        browser: Some("Firefox".into()),
        os: Some("Linux".into()),
        device: Some("desktop".into()),
        country: Some("FR".into()),
        ..StoredEvent::default()
    }
}

/// Session rules by site key, as a backend is opened with them.
pub type SiteRules = HashMap<String, Rule>;

/// Makes each case of the suite a `#[tokio::test]` for the backend that
/// `$open` opens: `Fn(&Path, SiteRules) -> impl Store`.
macro_rules! write_conformance_tests {
    ($open:expr) => {
        #[tokio::test]
        async fn appends_report_new_and_duplicate_events() {
            $crate::store::conformance::appends_report_new_and_duplicate_events(&$open).await;
        }
        #[tokio::test]
        async fn committed_events_are_there_after_reopening() {
            $crate::store::conformance::committed_events_are_there_after_reopening(&$open).await;
        }
        #[tokio::test]
        async fn a_session_continues_across_a_reopening() {
            $crate::store::conformance::a_session_continues_across_a_reopening(&$open).await;
        }
        #[tokio::test]
        async fn events_within_the_timeout_share_a_session() {
            $crate::store::conformance::events_within_the_timeout_share_a_session(&$open).await;
        }
        #[tokio::test]
        async fn a_late_event_that_bridges_two_sessions_merges_them() {
            $crate::store::conformance::a_late_event_that_bridges_two_sessions_merges_them(&$open).await;
        }
        #[tokio::test]
        async fn salts_rotate_daily_and_only_yesterdays_is_kept() {
            $crate::store::conformance::salts_rotate_daily_and_only_yesterdays_is_kept(&$open).await;
        }
        #[tokio::test]
        async fn a_past_day_gets_a_salt_of_its_own_until_the_next_day() {
            $crate::store::conformance::a_past_day_gets_a_salt_of_its_own_until_the_next_day(&$open).await;
        }
        #[tokio::test]
        async fn bot_hits_add_up_per_day() {
            $crate::store::conformance::bot_hits_add_up_per_day(&$open).await;
        }
        #[tokio::test]
        async fn close_commits_what_is_queued() {
            $crate::store::conformance::close_commits_what_is_queued(&$open).await;
        }
        #[tokio::test]
        async fn a_new_client_session_id_starts_a_new_session() {
            $crate::store::conformance::a_new_client_session_id_starts_a_new_session(&$open).await;
        }
        #[tokio::test]
        async fn a_busy_session_ends_at_its_maximum_length() {
            $crate::store::conformance::a_busy_session_ends_at_its_maximum_length(&$open).await;
        }
        #[tokio::test]
        async fn a_late_event_moves_the_cut_of_a_session_at_its_maximum_length() {
            $crate::store::conformance::a_late_event_moves_the_cut_of_a_session_at_its_maximum_length(&$open).await;
        }
        #[tokio::test]
        async fn a_cookieless_visit_keeps_yesterdays_key_across_midnight() {
            $crate::store::conformance::a_cookieless_visit_keeps_yesterdays_key_across_midnight(&$open).await;
        }
        #[tokio::test]
        async fn a_visit_over_midnight_in_one_batch_keeps_yesterdays_key() {
            $crate::store::conformance::a_visit_over_midnight_in_one_batch_keeps_yesterdays_key(&$open).await;
        }
        #[tokio::test]
        async fn a_visitor_with_no_session_near_midnight_takes_todays_key() {
            $crate::store::conformance::a_visitor_with_no_session_near_midnight_takes_todays_key(&$open).await;
        }
    };
}
pub(crate) use write_conformance_tests;

fn default_rules() -> SiteRules {
    SiteRules::new()
}

pub async fn appends_report_new_and_duplicate_events<S: Store>(open: &impl Fn(&Path, SiteRules) -> S) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), default_rules());
    let a = pageview(1, "v", T0);
    let outcomes = store.append(vec![a.clone(), a.clone(), pageview(2, "v", T0 + MIN)]).await.unwrap();
    assert!(matches!(outcomes[0], Appended::Stored { session_started: true, .. }), "{outcomes:?}");
    assert_eq!(outcomes[1], Appended::Duplicate);
    assert!(matches!(outcomes[2], Appended::Stored { session_started: false, .. }), "{outcomes:?}");
    // A resent event beside a new one: only the new one counts in the session.
    let outcomes = store.append(vec![a.clone(), pageview(3, "v", T0 + 2 * MIN)]).await.unwrap();
    assert_eq!(outcomes[0], Appended::Duplicate);
    assert!(matches!(outcomes[1], Appended::Stored { session_started: false, .. }), "{outcomes:?}");
    let sessions = store.sessions("site").await.unwrap();
    assert_eq!((sessions.len(), sessions[0].events, sessions[0].pageviews), (1, 3, 3));
    assert_eq!(store.append(vec![a]).await.unwrap(), vec![Appended::Duplicate]);
    assert_eq!(store.events("site").await.unwrap().len(), 3);
    store.close().await;
}

pub async fn committed_events_are_there_after_reopening<S: Store>(open: &impl Fn(&Path, SiteRules) -> S) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), default_rules());
    store.append(vec![pageview(1, "v", T0)]).await.unwrap();
    store.close().await;
    let store = open(dir.path(), default_rules());
    let events = store.events("site").await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].country.as_deref(), Some("FR"));
    store.close().await;
}

/// A backend may remember recent visitors in memory; after a restart it
/// must find where each visitor left off in what it stored.
pub async fn a_session_continues_across_a_reopening<S: Store>(open: &impl Fn(&Path, SiteRules) -> S) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), default_rules());
    // Two sessions ending at the same moment: the later event by id decides.
    let mut other_tab = pageview(2, "v", T0 + 5 * MIN);
    other_tab.client_session_id = Some("tab-2".into());
    let mut first_tab = pageview(1, "v", T0 + 5 * MIN);
    first_tab.client_session_id = Some("tab-1".into());
    store.append(vec![first_tab, other_tab]).await.unwrap();
    store.close().await;
    let store = open(dir.path(), default_rules());
    let mut next = pageview(3, "v", T0 + 20 * MIN);
    next.client_session_id = Some("tab-2".into());
    let outcomes = store.append(vec![next]).await.unwrap();
    assert!(matches!(outcomes[0], Appended::Stored { session_started: false, .. }), "{outcomes:?}");
    let sessions = store.sessions("site").await.unwrap();
    assert_eq!(sessions.len(), 2, "{sessions:?}");
    let continued = sessions.iter().find(|s| s.client_session_id.as_deref() == Some("tab-2")).unwrap();
    assert_eq!((continued.pageviews, continued.duration_ms, continued.exit_path.as_deref()), (2, 15 * MIN, Some("/p3")));
    store.close().await;
}

pub async fn events_within_the_timeout_share_a_session<S: Store>(open: &impl Fn(&Path, SiteRules) -> S) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), default_rules());
    store.append(vec![pageview(1, "v", T0), pageview(2, "v", T0 + 10 * MIN)]).await.unwrap();
    store.append(vec![pageview(3, "v", T0 + 41 * MIN)]).await.unwrap();
    let sessions = store.sessions("site").await.unwrap();
    assert_eq!(sessions.len(), 2, "{sessions:?}");
    let first = &sessions[0];
    assert_eq!((first.pageviews, first.events, first.duration_ms, first.bounce), (2, 2, 10 * MIN, false));
    assert_eq!((first.entry_path.as_deref(), first.exit_path.as_deref()), (Some("/p1"), Some("/p2")));
    assert_eq!((first.browser.as_deref(), first.country.as_deref()), (Some("Firefox"), Some("FR")));
    assert!(sessions[1].bounce);
    let events = store.events("site").await.unwrap();
    assert_eq!(events[0].session_id, first.id);
    assert_eq!(events[1].session_id, first.id);
    assert_eq!(events[2].session_id, sessions[1].id);
    store.close().await;
}

pub async fn a_late_event_that_bridges_two_sessions_merges_them<S: Store>(open: &impl Fn(&Path, SiteRules) -> S) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), default_rules());
    store.append(vec![pageview(1, "v", T0), pageview(3, "v", T0 + 50 * MIN)]).await.unwrap();
    assert_eq!(store.sessions("site").await.unwrap().len(), 2);
    store.append(vec![pageview(2, "v", T0 + 25 * MIN)]).await.unwrap();
    let live = store.sessions("site").await.unwrap();
    assert_eq!(live.len(), 1, "{live:?}");
    assert_eq!(live[0].pageviews, 3);
    let live_events = store.events("site").await.unwrap();
    assert!(live_events.iter().all(|e| e.session_id == live[0].id));
    let rebuilt = store.rebuild_sessions().await.unwrap();
    assert_eq!((rebuilt.events, rebuilt.sessions), (3, 1));
    assert_eq!(store.sessions("site").await.unwrap(), live);
    store.close().await;
}

pub async fn salts_rotate_daily_and_only_yesterdays_is_kept<S: Store>(open: &impl Fn(&Path, SiteRules) -> S) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), default_rules());
    let day = T0 / (24 * 60 * MIN);
    let first = store.salts(day, day).await.unwrap();
    assert_eq!(store.salts(day, day).await.unwrap(), first, "stable within a day");
    let next = store.salts(day + 1, day + 1).await.unwrap();
    assert_ne!(next.salt, first.salt);
    assert_eq!(next.day_before, Some(first.salt));
    let later = store.salts(day + 3, day + 3).await.unwrap();
    assert_eq!(later.day_before, None, "salts older than yesterday are gone");
    // Asked for again, day + 1 gets a salt of its own, not its deleted one.
    let again = store.salts(day + 3, day + 1).await.unwrap();
    assert_ne!(again.salt, next.salt, "day {} was deleted", day + 1);
    assert_eq!(again.day_before, None);
    store.close().await;
}

/// A backfill of an older day keys that day by a salt of its own, the
/// same for every event of that day until the next day begins.
pub async fn a_past_day_gets_a_salt_of_its_own_until_the_next_day<S: Store>(open: &impl Fn(&Path, SiteRules) -> S) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), default_rules());
    let today = T0 / (24 * 60 * MIN);
    let live = store.salts(today, today).await.unwrap();
    let three_days_ago = store.salts(today, today - 3).await.unwrap();
    let two_days_ago = store.salts(today, today - 2).await.unwrap();
    assert_eq!(three_days_ago.day, today - 3);
    assert_ne!(three_days_ago.salt, live.salt);
    assert_eq!(two_days_ago.day_before, Some(three_days_ago.salt), "a visit over that midnight joins");
    assert_eq!(store.salts(today, today - 3).await.unwrap(), three_days_ago, "stable within the day");
    assert_eq!(store.salts(today, today + 1).await.unwrap(), live, "an event ahead of the clock uses today's");
    store.salts(today + 1, today + 1).await.unwrap();
    assert_ne!(store.salts(today + 1, today - 3).await.unwrap().salt, three_days_ago.salt, "deleted when the next day began");
    store.close().await;
}

pub async fn bot_hits_add_up_per_day<S: Store>(open: &impl Fn(&Path, SiteRules) -> S) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), default_rules());
    let hit = |day: &str, n| BotHit { site: "site".into(), day: day.into(), bot: "Googlebot".into(), hits: n };
    store.count_bots(vec![hit("2025-11-25", 2)]).await.unwrap();
    store.count_bots(vec![hit("2025-11-25", 3), hit("2025-11-26", 1)]).await.unwrap();
    assert_eq!(store.bot_hits("site").await.unwrap(), vec![hit("2025-11-25", 5), hit("2025-11-26", 1)]);
    assert!(store.events("site").await.unwrap().is_empty());
    store.close().await;
}

pub async fn close_commits_what_is_queued<S: Store>(open: &impl Fn(&Path, SiteRules) -> S) {
    let dir = tempfile::tempdir().unwrap();
    let store = std::sync::Arc::new(open(dir.path(), default_rules()));
    let appends: Vec<_> = (0..50u64)
        .map(|n| {
            let store = store.clone();
            tokio::spawn(async move { store.append(vec![pageview(n, &format!("v{n}"), T0)]).await })
        })
        .collect();
    for a in appends {
        assert!(matches!(a.await.unwrap().unwrap()[0], Appended::Stored { .. }));
    }
    store.close().await;
    let store = open(dir.path(), default_rules());
    assert_eq!(store.events("site").await.unwrap().len(), 50);
    assert_eq!(store.sessions("site").await.unwrap().len(), 50);
    store.close().await;
}

pub async fn a_new_client_session_id_starts_a_new_session<S: Store>(open: &impl Fn(&Path, SiteRules) -> S) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), default_rules());
    let mut first = pageview(1, "v", T0);
    first.client_session_id = Some("a".into());
    let mut second = pageview(2, "v", T0 + MIN);
    second.client_session_id = Some("b".into());
    store.append(vec![first]).await.unwrap();
    let outcomes = store.append(vec![second]).await.unwrap();
    assert!(matches!(outcomes[0], Appended::Stored { session_started: true, .. }), "{outcomes:?}");
    let sessions = store.sessions("site").await.unwrap();
    let ids: Vec<Option<&str>> = sessions.iter().map(|s| s.client_session_id.as_deref()).collect();
    assert_eq!(ids, vec![Some("a"), Some("b")]);
    store.close().await;
}

/// The site's rule: a 30-minute timeout and a 60-minute maximum.
fn an_hour_at_most() -> SiteRules {
    SiteRules::from([("site".to_owned(), Rule { timeout_ms: 30 * MIN, max_ms: 60 * MIN })])
}

pub async fn a_busy_session_ends_at_its_maximum_length<S: Store>(open: &impl Fn(&Path, SiteRules) -> S) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), an_hour_at_most());
    // A pageview every 20 minutes for two hours, one request each.
    for n in 0..7u64 {
        store.append(vec![pageview(n, "v", T0 + n as i64 * 20 * MIN)]).await.unwrap();
    }
    let sessions = store.sessions("site").await.unwrap();
    let spans: Vec<(i64, i64)> = sessions.iter().map(|s| ((s.start_ts - T0) / MIN, s.pageviews)).collect();
    assert_eq!(spans, vec![(0, 3), (60, 3), (120, 1)]);
    store.rebuild_sessions().await.unwrap();
    assert_eq!(store.sessions("site").await.unwrap(), sessions, "rebuild cuts where live ingest cut");
    store.close().await;
}

/// A late event before a long session moves its start, and so where the
/// maximum length cuts it: the session after that cut changes too, though
/// it starts far from the late event.
pub async fn a_late_event_moves_the_cut_of_a_session_at_its_maximum_length<S: Store>(open: &impl Fn(&Path, SiteRules) -> S) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), an_hour_at_most());
    let minutes = [20, 40, 70, 90, 110];
    let events: Vec<StoredEvent> = minutes.iter().enumerate().map(|(n, m)| pageview(n as u64 + 1, "v", T0 + m * MIN)).collect();
    store.append(events).await.unwrap();
    let starts = |sessions: &[sessions::Session]| sessions.iter().map(|s| ((s.start_ts - T0) / MIN, s.pageviews)).collect::<Vec<_>>();
    assert_eq!(starts(&store.sessions("site").await.unwrap()), vec![(20, 3), (90, 2)]);
    store.append(vec![pageview(9, "v", T0 + 5 * MIN)]).await.unwrap();
    let live = store.sessions("site").await.unwrap();
    assert_eq!(starts(&live), vec![(5, 3), (70, 3)]);
    store.rebuild_sessions().await.unwrap();
    assert_eq!(store.sessions("site").await.unwrap(), live, "rebuild equals live");
    store.close().await;
}

/// A cookieless event at 00:10 offers yesterday's key; the visitor was in a
/// session at 23:55 under it, so the visit goes on across midnight.
pub async fn a_cookieless_visit_keeps_yesterdays_key_across_midnight<S: Store>(open: &impl Fn(&Path, SiteRules) -> S) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), default_rules());
    store.append(vec![pageview(1, "yesterdays-key", T0 - 5 * MIN)]).await.unwrap();
    let mut after_midnight = pageview(2, "todays-key", T0 + 10 * MIN);
    after_midnight.visitor_id_yesterday = Some("yesterdays-key".into());
    let outcomes = store.append(vec![after_midnight]).await.unwrap();
    assert!(
        matches!(&outcomes[0], Appended::Stored { visitor_id, session_started: false, .. } if visitor_id == "yesterdays-key"),
        "{outcomes:?}"
    );
    let sessions = store.sessions("site").await.unwrap();
    assert_eq!((sessions.len(), sessions[0].pageviews, sessions[0].duration_ms), (1, 2, 15 * MIN));
    store.close().await;
}

/// The same, when both events arrive in one batch (a queue sent late).
pub async fn a_visit_over_midnight_in_one_batch_keeps_yesterdays_key<S: Store>(open: &impl Fn(&Path, SiteRules) -> S) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), default_rules());
    let before = pageview(1, "yesterdays-key", T0 - 5 * MIN);
    let mut after = pageview(2, "todays-key", T0 + 10 * MIN);
    after.visitor_id_yesterday = Some("yesterdays-key".into());
    let outcomes = store.append(vec![after, before]).await.unwrap();
    assert!(matches!(&outcomes[0], Appended::Stored { visitor_id, .. } if visitor_id == "yesterdays-key"), "{outcomes:?}");
    assert_eq!(store.sessions("site").await.unwrap().len(), 1);
    store.close().await;
}

pub async fn a_visitor_with_no_session_near_midnight_takes_todays_key<S: Store>(open: &impl Fn(&Path, SiteRules) -> S) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), default_rules());
    // Yesterday's visit ended at 23:00, more than a timeout before 00:10.
    store.append(vec![pageview(1, "yesterdays-key", T0 - 60 * MIN)]).await.unwrap();
    let mut after_midnight = pageview(2, "todays-key", T0 + 10 * MIN);
    after_midnight.visitor_id_yesterday = Some("yesterdays-key".into());
    let outcomes = store.append(vec![after_midnight]).await.unwrap();
    assert!(
        matches!(&outcomes[0], Appended::Stored { visitor_id, session_started: true, .. } if visitor_id == "todays-key"),
        "{outcomes:?}"
    );
    store.close().await;
}

/// Live ingest of `events`, in the order and chunks given, leaves the same
/// sessions as a rebuild from scratch, and as the rule applied to all of
/// them at once.
pub async fn live_equals_rebuild<S: Store>(store: &S, chunks: Vec<Vec<StoredEvent>>, rule: sessions::Rule) {
    // Chunks may resend events: each counts once.
    let mut all: Vec<StoredEvent> = Vec::new();
    let mut ids = std::collections::HashSet::new();
    for chunk in chunks {
        all.extend(chunk.iter().filter(|e| ids.insert(e.id.clone())).cloned());
        store.append(chunk).await.unwrap();
    }
    let live_sessions = store.sessions("site").await.unwrap();
    let live_events = store.events("site").await.unwrap();

    let mut expected = Vec::new();
    let mut by_visitor: std::collections::BTreeMap<&str, Vec<&StoredEvent>> = Default::default();
    for e in &all {
        by_visitor.entry(&e.visitor_id).or_default().push(e);
    }
    for events in by_visitor.values_mut() {
        events.sort_by(|a, b| sessions::order(a, b));
        expected.extend(sessions::sessionize(events, rule).into_iter().map(|(s, _)| s));
    }
    expected.sort_by(|a, b| (a.start_ts, &a.id).cmp(&(b.start_ts, &b.id)));
    assert_eq!(live_sessions, expected, "live sessions differ from the rule applied to all events");

    store.rebuild_sessions().await.unwrap();
    assert_eq!(store.sessions("site").await.unwrap(), live_sessions, "rebuild differs from live");
    assert_eq!(store.events("site").await.unwrap(), live_events, "rebuild moved events between sessions");
}
