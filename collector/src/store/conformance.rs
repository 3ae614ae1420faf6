//! What every [`Store`] backend must do, as tests any backend runs:
//! `conformance::run(|dir| MyStore::open(dir))` from its own test module.
//! Each check opens a fresh store in its own temporary directory.

use std::path::Path;

use super::{Appended, BotHit, Store};
use crate::event::StoredEvent;
use crate::sessions;

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

pub async fn run<S: Store, F: Fn(&Path) -> S>(open: F) {
    appends_report_new_and_duplicate_events(&open).await;
    committed_events_are_there_after_reopening(&open).await;
    a_session_continues_across_a_reopening(&open).await;
    events_within_the_timeout_share_a_session(&open).await;
    a_late_event_that_bridges_two_sessions_merges_them(&open).await;
    salts_rotate_daily_and_only_yesterdays_is_kept(&open).await;
    bot_hits_add_up_per_day(&open).await;
    close_commits_what_is_queued(&open).await;
}

async fn appends_report_new_and_duplicate_events<S: Store>(open: &impl Fn(&Path) -> S) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
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

async fn committed_events_are_there_after_reopening<S: Store>(open: &impl Fn(&Path) -> S) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store.append(vec![pageview(1, "v", T0)]).await.unwrap();
    store.close().await;
    let store = open(dir.path());
    let events = store.events("site").await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].country.as_deref(), Some("FR"));
    store.close().await;
}

/// A backend may remember recent visitors in memory; after a restart it
/// must find where each visitor left off in what it stored.
async fn a_session_continues_across_a_reopening<S: Store>(open: &impl Fn(&Path) -> S) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    // Two sessions ending at the same moment: the later event by id decides.
    let mut other_tab = pageview(2, "v", T0 + 5 * MIN);
    other_tab.client_session_id = Some("tab-2".into());
    let mut first_tab = pageview(1, "v", T0 + 5 * MIN);
    first_tab.client_session_id = Some("tab-1".into());
    store.append(vec![first_tab, other_tab]).await.unwrap();
    store.close().await;
    let store = open(dir.path());
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

async fn events_within_the_timeout_share_a_session<S: Store>(open: &impl Fn(&Path) -> S) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
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

async fn a_late_event_that_bridges_two_sessions_merges_them<S: Store>(open: &impl Fn(&Path) -> S) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
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

async fn salts_rotate_daily_and_only_yesterdays_is_kept<S: Store>(open: &impl Fn(&Path) -> S) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let day = T0 / (24 * 60 * MIN);
    let first = store.salts(day).await.unwrap();
    assert_eq!(store.salts(day).await.unwrap(), first, "stable within a day");
    let next = store.salts(day + 1).await.unwrap();
    assert_ne!(next.today, first.today);
    assert_eq!(next.yesterday, Some(first.today));
    let later = store.salts(day + 3).await.unwrap();
    assert_eq!(later.yesterday, None, "salts older than yesterday are gone");
    assert_eq!(store.salts(day + 1).await.unwrap().yesterday, None, "day {} was deleted", day);
    store.close().await;
}

async fn bot_hits_add_up_per_day<S: Store>(open: &impl Fn(&Path) -> S) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let hit = |day: &str, n| BotHit { site: "site".into(), day: day.into(), bot: "Googlebot".into(), hits: n };
    store.count_bots(vec![hit("2025-11-25", 2)]).await.unwrap();
    store.count_bots(vec![hit("2025-11-25", 3), hit("2025-11-26", 1)]).await.unwrap();
    assert_eq!(store.bot_hits("site").await.unwrap(), vec![hit("2025-11-25", 5), hit("2025-11-26", 1)]);
    assert!(store.events("site").await.unwrap().is_empty());
    store.close().await;
}

async fn close_commits_what_is_queued<S: Store>(open: &impl Fn(&Path) -> S) {
    let dir = tempfile::tempdir().unwrap();
    let store = std::sync::Arc::new(open(dir.path()));
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
    let store = open(dir.path());
    assert_eq!(store.events("site").await.unwrap().len(), 50);
    assert_eq!(store.sessions("site").await.unwrap().len(), 50);
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
