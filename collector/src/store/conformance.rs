//! The write seam's conformance suite: what every [`Store`] backend must
//! do. A backend runs it by one line in its test module,
//! `write_conformance_tests!(|dir, rules| MyStore::open(dir, rules));`, which makes
//! each case its own `#[test]` (so the first failure hides none of the
//! others). Each case opens a fresh store in its own temporary directory,
//! with the session rules it gives (site key → rule).

use std::collections::HashMap;
use std::path::Path;

use super::lifecycle::{AuditKind, Deleted, Erased, Selector};
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
/// `$open` opens: `Fn(&Path, SiteRules) -> impl Store`. With
/// `skip_when: $skip`, each case returns at once when `$skip` is true (a
/// backend whose server is not installed here).
macro_rules! write_conformance_tests {
    ($open:expr) => {
        $crate::store::conformance::write_conformance_tests!($open, skip_when: false);
    };
    ($open:expr, skip_when: $skip:expr) => {
        $crate::store::conformance::write_conformance_tests!(@cases $open, $skip;
            appends_report_new_and_duplicate_events,
            committed_events_are_there_after_reopening,
            a_session_continues_across_a_reopening,
            events_within_the_timeout_share_a_session,
            a_late_event_that_bridges_two_sessions_merges_them,
            late_and_tied_events_inside_a_session_join_it_as_a_rebuild_would,
            a_late_event_beside_another_client_session_splits_the_session_it_lands_in,
            salts_rotate_daily_and_only_yesterdays_is_kept,
            a_past_day_gets_a_salt_of_its_own_until_the_next_day,
            bot_hits_add_up_per_day,
            close_commits_what_is_queued,
            a_new_client_session_id_starts_a_new_session,
            a_busy_session_ends_at_its_maximum_length,
            a_late_event_moves_the_cut_of_a_session_at_its_maximum_length,
            a_cookieless_visit_keeps_yesterdays_key_across_midnight,
            a_visit_over_midnight_in_one_batch_keeps_yesterdays_key,
            a_visitor_with_no_session_near_midnight_takes_todays_key,
            retention_deletes_whole_sessions_that_ended_before_the_cutoff_and_counts_them_first,
            retention_chunks_stay_within_their_rows_and_add_up,
            an_erased_visitor_is_gone_and_their_next_event_starts_afresh,
            erasing_a_user_erases_every_visitor_linked_to_them,
            erasing_by_session_erases_that_sessions_visitor,
            erasing_a_site_removes_all_of_it_and_nothing_of_another,
            erasures_and_retention_runs_are_audited_without_ids,
        );
    };
    (@cases $open:expr, $skip:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $case() {
                if $skip {
                    return;
                }
                $crate::store::conformance::$case(&$open).await;
            }
        )*
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

/// Whole-second timestamps, as server senders give them: events of one
/// second tie and are ordered by id, so most arrive "before" the latest.
pub async fn late_and_tied_events_inside_a_session_join_it_as_a_rebuild_would<S: Store>(open: &impl Fn(&Path, SiteRules) -> S) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), default_rules());
    let in_session = |n: u64, ts: i64| StoredEvent { client_session_id: Some("c".into()), ..pageview(n, "v", ts) };
    store.append(vec![in_session(10, T0), in_session(50, T0 + 20 * MIN), in_session(90, T0 + 20 * MIN)]).await.unwrap();
    // Tied with the latest (an id before it), then inside, then an engagement.
    store.append(vec![in_session(60, T0 + 20 * MIN)]).await.unwrap();
    store.append(vec![in_session(20, T0 + 5 * MIN), StoredEvent { name: "$engagement".into(), ..in_session(30, T0 + 6 * MIN) }]).await.unwrap();
    let live = store.sessions("site").await.unwrap();
    assert_eq!(live.len(), 1, "{live:?}");
    assert_eq!((live[0].pageviews, live[0].events, live[0].bounce), (5, 6, false));
    assert_eq!((live[0].entry_path.as_deref(), live[0].exit_path.as_deref()), (Some("/p10"), Some("/p90")));
    assert!(store.events("site").await.unwrap().iter().all(|e| e.session_id == live[0].id));
    store.rebuild_sessions().await.unwrap();
    assert_eq!(store.sessions("site").await.unwrap(), live, "rebuild equals live");
    store.close().await;
}

/// A server event without a client session id joins two client sessions
/// into one session; a late event of the first beside the second splits it.
pub async fn a_late_event_beside_another_client_session_splits_the_session_it_lands_in<S: Store>(
    open: &impl Fn(&Path, SiteRules) -> S,
) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), default_rules());
    let client = |n: u64, ts: i64, c: Option<&str>| StoredEvent { client_session_id: c.map(str::to_owned), ..pageview(n, "v", ts) };
    store.append(vec![client(1, T0, Some("a")), client(2, T0 + MIN, None), client(3, T0 + 2 * MIN, Some("b"))]).await.unwrap();
    assert_eq!(store.sessions("site").await.unwrap().len(), 1, "joined by the event without a client session id");
    store.append(vec![client(4, T0 + 90_000, Some("a"))]).await.unwrap();
    let live = store.sessions("site").await.unwrap();
    assert_eq!(live.iter().map(|s| s.pageviews).collect::<Vec<_>>(), vec![3, 1], "{live:?}");
    store.rebuild_sessions().await.unwrap();
    assert_eq!(store.sessions("site").await.unwrap(), live, "rebuild equals live");
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
    // Yesterday's may exist (made a day ahead, by a store that does), but
    // not one of the days before.
    assert!(![Some(first.salt), Some(next.salt)].contains(&later.day_before), "salts older than yesterday are gone");
    // Asked for again, day + 1 gets a salt of its own, not its deleted one.
    let again = store.salts(day + 3, day + 1).await.unwrap();
    assert_ne!(again.salt, next.salt, "day {} was deleted", day + 1);
    assert_ne!(again.day_before, Some(first.salt));
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

/// Deletes chunk after chunk until nothing is left before `before_ms`.
async fn retain<S: Store>(store: &S, site: &str, before_ms: i64, max_rows: usize) -> (Deleted, Vec<Deleted>) {
    let mut total = Deleted::default();
    let mut chunks = Vec::new();
    loop {
        let chunk = store.delete_before(site, before_ms, max_rows).await.unwrap();
        if chunk.is_empty() {
            return (total, chunks);
        }
        total.add(chunk);
        chunks.push(chunk);
    }
}

/// A pageview of `visitor` on `site`.
fn pageview_on(site: &str, n: u64, visitor: &str, ts: i64) -> StoredEvent {
    StoredEvent { site: site.into(), ..pageview(n, visitor, ts) }
}

/// A cut-off at T0 + 10 days. Anna's first session ends a minute before it
/// (gone), ben's session starts before it and ends after (kept whole),
/// carl's starts after (kept); anna's second visit is days later (kept).
pub async fn retention_deletes_whole_sessions_that_ended_before_the_cutoff_and_counts_them_first<S: Store>(
    open: &impl Fn(&Path, SiteRules) -> S,
) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), default_rules());
    let day = 24 * 60 * MIN;
    let cutoff = T0 + 10 * day;
    store
        .append(vec![
            pageview(1, "anna", cutoff - 20 * MIN),
            pageview(2, "anna", cutoff - MIN),
            pageview(3, "ben", cutoff - 10 * MIN),
            pageview(4, "ben", cutoff + 5 * MIN),
            pageview(5, "carl", cutoff + MIN),
            pageview(6, "anna", cutoff + 3 * day),
        ])
        .await
        .unwrap();
    let bots = |d: &str| BotHit { site: "site".into(), day: d.into(), bot: "Googlebot".into(), hits: 3 };
    // The cut-off's day is 2025-12-05: the day before goes, that day stays.
    store.count_bots(vec![bots("2025-12-04"), bots("2025-12-05")]).await.unwrap();

    let preview = store.count_before("site", cutoff).await.unwrap();
    let counted: Vec<(&str, u64, u64, u64)> = preview.iter().map(|d| (d.day.as_str(), d.sessions, d.events, d.bot_days)).collect();
    assert_eq!(counted, vec![("2025-12-04", 1, 2, 1)]);

    let (deleted, _) = retain(&store, "site", cutoff, 1_000).await;
    assert_eq!(deleted, Deleted { events: 2, sessions: 1, bot_days: 1 }, "the dry run's counts are what went");
    let events: Vec<String> = store.events("site").await.unwrap().into_iter().map(|e| e.path).collect();
    assert_eq!(events, ["/p3", "/p5", "/p4", "/p6"]);
    let kept = store.sessions("site").await.unwrap();
    let visitors: Vec<(&str, i64)> = kept.iter().map(|s| (s.visitor_id.as_str(), s.events)).collect();
    assert_eq!(visitors, vec![("ben", 2), ("carl", 1), ("anna", 1)], "ben's session straddles the cut-off and stays whole");
    assert_eq!(store.bot_hits("site").await.unwrap(), vec![bots("2025-12-05")]);
    assert!(store.count_before("site", cutoff).await.unwrap().is_empty(), "a second run finds nothing");
    store.rebuild_sessions().await.unwrap();
    assert_eq!(store.sessions("site").await.unwrap(), kept, "a rebuild from what stays gives what stayed");
    store.close().await;
}

pub async fn retention_chunks_stay_within_their_rows_and_add_up<S: Store>(open: &impl Fn(&Path, SiteRules) -> S) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), default_rules());
    // Twenty visitors, each a session of three events an hour apart from the next visitor's.
    let events: Vec<StoredEvent> = (0..60u64).map(|n| pageview(n, &format!("v{}", n / 3), T0 + (n / 3) as i64 * 60 * MIN + (n % 3) as i64 * MIN)).collect();
    store.append(events).await.unwrap();
    store.append(vec![pageview_on("other", 100, "v0", T0)]).await.unwrap();
    let cutoff = T0 + 15 * 60 * MIN;
    let counted: u64 = store.count_before("site", cutoff).await.unwrap().iter().map(|d| d.events + d.sessions).sum();
    let (deleted, chunks) = retain(&store, "site", cutoff, 9).await;
    assert_eq!((deleted.sessions, deleted.events, deleted.rows()), (15, 45, counted));
    assert!(chunks.iter().all(|c| c.rows() <= 9 && c.rows() > 0), "{chunks:?}");
    assert_eq!(chunks.len(), 8, "two sessions (8 rows) a chunk: {chunks:?}");
    assert_eq!(store.sessions("site").await.unwrap().len(), 5);
    assert_eq!(store.events("other").await.unwrap().len(), 1, "another site keeps its data");
    store.close().await;
}

pub async fn an_erased_visitor_is_gone_and_their_next_event_starts_afresh<S: Store>(open: &impl Fn(&Path, SiteRules) -> S) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), default_rules());
    store.append(vec![pageview(1, "anna", T0), pageview(2, "anna", T0 + 60 * MIN), pageview(3, "ben", T0)]).await.unwrap();
    store.append(vec![pageview(4, "anna", T0 + 61 * MIN)]).await.unwrap();
    let erased = store.erase("site", &Selector::Visitor("anna".into()), T0, "cli").await.unwrap();
    assert_eq!(erased, Erased { visitors: 1, events: 3, sessions: 2 });
    let left: Vec<String> = store.events("site").await.unwrap().into_iter().map(|e| e.visitor_id).collect();
    assert_eq!(left, ["ben"]);
    assert_eq!(store.sessions("site").await.unwrap().len(), 1);
    assert_eq!(store.erase("site", &Selector::Visitor("anna".into()), T0, "cli").await.unwrap(), Erased::default(), "a second time: nothing");
    // A minute after her last event: were she remembered, this would
    // continue her erased session.
    let outcomes = store.append(vec![pageview(5, "anna", T0 + 62 * MIN)]).await.unwrap();
    assert!(matches!(outcomes[0], Appended::Stored { session_started: true, .. }), "{outcomes:?}");
    let anna: Vec<_> = store.sessions("site").await.unwrap().into_iter().filter(|s| s.visitor_id == "anna").collect();
    assert_eq!((anna.len(), anna[0].events, anna[0].start_ts), (1, 1, T0 + 62 * MIN));
    store.close().await;
}

pub async fn erasing_a_user_erases_every_visitor_linked_to_them<S: Store>(open: &impl Fn(&Path, SiteRules) -> S) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), default_rules());
    let identified = |n, visitor: &str, ts| StoredEvent { user_id: Some("user-7".into()), ..pageview(n, visitor, ts) };
    // Her laptop and her phone, each identified once; and someone else.
    store.append(vec![pageview(1, "laptop", T0), identified(2, "laptop", T0 + MIN), identified(3, "phone", T0 + 90 * MIN)]).await.unwrap();
    store.append(vec![pageview(4, "phone", T0 + 200 * MIN), pageview(5, "someone", T0)]).await.unwrap();
    store.append(vec![StoredEvent { user_id: Some("user-7".into()), ..pageview_on("other", 6, "laptop", T0) }]).await.unwrap();
    let erased = store.erase("site", &Selector::User("user-7".into()), T0, "cli").await.unwrap();
    assert_eq!(erased, Erased { visitors: 2, events: 4, sessions: 3 });
    let left: Vec<String> = store.events("site").await.unwrap().into_iter().map(|e| e.visitor_id).collect();
    assert_eq!(left, ["someone"]);
    assert_eq!(store.events("other").await.unwrap().len(), 1, "erasure is per site");
    store.close().await;
}

pub async fn erasing_by_session_erases_that_sessions_visitor<S: Store>(open: &impl Fn(&Path, SiteRules) -> S) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), default_rules());
    store.append(vec![pageview(1, "anna", T0), pageview(2, "anna", T0 + 90 * MIN), pageview(3, "ben", T0)]).await.unwrap();
    let first = store.sessions("site").await.unwrap().into_iter().find(|s| s.visitor_id == "anna").unwrap();
    let erased = store.erase("site", &Selector::Session(first.id), T0, "cli").await.unwrap();
    assert_eq!(erased, Erased { visitors: 1, events: 2, sessions: 2 });
    assert!(store.sessions("site").await.unwrap().iter().all(|s| s.visitor_id == "ben"));
    store.close().await;
}

pub async fn erasing_a_site_removes_all_of_it_and_nothing_of_another<S: Store>(open: &impl Fn(&Path, SiteRules) -> S) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), default_rules());
    let events: Vec<StoredEvent> = (0..30u64).map(|n| pageview(n, &format!("v{}", n % 7), T0 + n as i64 * 20 * MIN)).collect();
    store.append(events).await.unwrap();
    store.append(vec![pageview_on("other", 100, "v0", T0)]).await.unwrap();
    store.count_bots(vec![BotHit { site: "site".into(), day: "2099-01-01".into(), bot: "Googlebot".into(), hits: 1 }]).await.unwrap();
    let sessions = store.sessions("site").await.unwrap().len() as u64;
    let erased = store.erase("site", &Selector::Site, T0, "cli").await.unwrap();
    assert_eq!(erased, Erased { visitors: 7, events: 30, sessions });
    assert!(store.events("site").await.unwrap().is_empty() && store.sessions("site").await.unwrap().is_empty());
    assert!(store.bot_hits("site").await.unwrap().is_empty());
    assert_eq!(store.events("other").await.unwrap().len(), 1);
    store.close().await;
}

pub async fn erasures_and_retention_runs_are_audited_without_ids<S: Store>(open: &impl Fn(&Path, SiteRules) -> S) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), default_rules());
    store.append(vec![pageview(1, "visitor-anna", T0), pageview(2, "visitor-ben", T0)]).await.unwrap();
    store.erase("site", &Selector::Visitor("visitor-anna".into()), T0 + 1, "admin").await.unwrap();
    store.erase("site", &Selector::Visitor("visitor-anna".into()), T0 + 2, "admin").await.unwrap();
    store.erase("other", &Selector::User("user-x".into()), T0 + 3, "api token").await.unwrap();
    let record = super::lifecycle::AuditRecord { at_ms: T0 + 4, site: "site".into(), kind: AuditKind::Retention, rows_removed: 7, requested_by: "retention".into() };
    store.record_audit(record.clone()).await.unwrap();
    let audit = store.audit(Some("site")).await.unwrap();
    let rows: Vec<(i64, AuditKind, u64, &str)> = audit.iter().map(|r| (r.at_ms - T0, r.kind, r.rows_removed, r.requested_by.as_str())).collect();
    assert_eq!(rows, vec![(1, AuditKind::Visitor, 2, "admin"), (2, AuditKind::Visitor, 0, "admin"), (4, AuditKind::Retention, 7, "retention")]);
    assert_eq!(store.audit(None).await.unwrap().len(), 4);
    let text = serde_json::to_string(&store.audit(None).await.unwrap()).unwrap();
    assert!(!text.contains("anna") && !text.contains("user-x"), "{text}");
    store.close().await;
}

/// Events of two visitors over two hours, some with client session ids,
/// sent in any order and any chunking, some chunks sent again (alone or
/// with the next chunk: a retry, a replayed queue).
pub fn streams() -> impl proptest::strategy::Strategy<Value = Vec<Vec<StoredEvent>>> {
    use proptest::prelude::*;
    let event = (0..2usize, 0..120i64, 0..4u8, prop::option::of(0..2u8));
    (prop::collection::vec(event, 1..24), sends()).prop_map(|(specs, sends)| {
        let events = specs.into_iter().enumerate().map(|(n, (visitor, minute, second, client_session))| {
            let mut e = pageview(n as u64, ["anna", "ben"][visitor], T0 + minute * MIN + i64::from(second) * 15_000);
            e.client_session_id = client_session.map(|c| format!("{visitor}-{c}"));
            e
        });
        chunked(events.collect(), sends)
    })
}

/// Long, busy sessions in whole seconds, as server senders time them:
/// many events of one second tie and are ordered by id, late ones land
/// inside a session; pageviews, engagement, custom events and user ids.
/// Mostly one client session and no user id per visitor, as a browser
/// sends; some streams all pageviews, as a server's.
pub fn busy_streams() -> impl proptest::strategy::Strategy<Value = Vec<Vec<StoredEvent>>> {
    use proptest::prelude::*;
    let event = (0..2usize, 0..60i64, 0..3i64, 0..6usize, 0..6u8, 0..8u8);
    (prop::collection::vec(event, 1..40), any::<bool>(), sends()).prop_map(|(specs, only_pageviews, sends)| {
        let events = specs.into_iter().enumerate().map(|(n, (visitor, minute, second, name, client_session, user))| {
            let mut e = pageview(n as u64, ["anna", "ben"][visitor], T0 + minute * MIN + second * 1_000);
            let names = ["$pageview", "$pageview", "$pageview", "$engagement", "$engagement", "signup"];
            e.name = if only_pageviews { names[0] } else { names[name] }.into();
            e.client_session_id = match client_session {
                0..4 => Some(format!("{visitor}-0")),
                4 => Some(format!("{visitor}-1")),
                _ => None,
            };
            e.user_id = (user >= 6).then(|| format!("user-{}", user - 6));
            e
        });
        chunked(events.collect(), sends)
    })
}

/// How a stream is sent: chunk sizes, and chunks sent again (alone or
/// with the next).
type Sends = (Vec<usize>, Vec<(proptest::sample::Index, bool)>);

fn sends() -> impl proptest::strategy::Strategy<Value = Sends> {
    use proptest::prelude::*;
    (prop::collection::vec(1..5usize, 1..24), prop::collection::vec((any::<prop::sample::Index>(), any::<bool>()), 0..3))
}

fn chunked(events: Vec<StoredEvent>, (chunk_sizes, resent): Sends) -> Vec<Vec<StoredEvent>> {
    let mut chunks = Vec::new();
    let mut rest = events.as_slice();
    for size in chunk_sizes.into_iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (chunk, tail) = rest.split_at(size.min(rest.len()));
        chunks.push(chunk.to_vec());
        rest = tail;
    }
    for (which, with_next) in resent {
        let k = which.index(chunks.len());
        let mut again = chunks[k].clone();
        if with_next && k + 1 < chunks.len() {
            again.extend(chunks[k + 1].iter().cloned());
        }
        chunks.push(again);
    }
    chunks
}

/// Live ingest of `events`, in the order and chunks given, leaves the same
/// sessions as a rebuild from scratch, and as the rule applied to all of
/// them at once.
pub async fn live_equals_rebuild<S: Store>(store: &S, chunks: Vec<Vec<StoredEvent>>, rule: sessions::Rule) {
    appended_equal_rebuild(&[store], chunks, rule, || ()).await;
}

/// As [`live_equals_rebuild`], with the chunks sent to `collectors` in
/// turn (several stores on one database), `settle` run after each append
/// and once at the end (a sessionizer's round, or nothing), and the
/// sessions read from the first collector.
pub async fn appended_equal_rebuild<S: Store>(collectors: &[&S], chunks: Vec<Vec<StoredEvent>>, rule: sessions::Rule, mut settle: impl FnMut()) {
    // Chunks may resend events: each counts once.
    let mut all: Vec<StoredEvent> = Vec::new();
    let mut ids = std::collections::HashSet::new();
    for (n, chunk) in chunks.into_iter().enumerate() {
        all.extend(chunk.iter().filter(|e| ids.insert(e.id.clone())).cloned());
        collectors[n % collectors.len()].append(chunk).await.unwrap();
        settle();
    }
    settle();
    let store = collectors[0];
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
