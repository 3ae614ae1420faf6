//! Visitors and sessions as the collector derives them from what arrives
//! at `/api/collect`, on a clock the test sets; and `waymark sessions
//! rebuild` giving back what live ingest produced.

mod support;

use serde_json::{Value, json};
use support::*;

fn sessions(server: &Running) -> Vec<Vec<Value>> {
    server.query("SELECT visitor_id, start_ts, end_ts, pageviews, events, entry_path, exit_path, bounce FROM sessions ORDER BY start_ts")
}

fn event_sessions(server: &Running) -> Vec<Vec<Value>> {
    server.query("SELECT id, visitor_id, session_id FROM events ORDER BY ts")
}

/// Posts one cookieless pageview at the clock's time.
async fn visit(server: &Running, clock: &waymark_collector::clock::ManualClock, n: u64, at: i64, path: &str) {
    clock.set(at);
    let answer = server.post_batch(&batch("demo", at, vec![cookieless(n, at, path)])).await;
    assert_eq!(answer.body["accepted"], 1, "{}", answer.body);
}

#[tokio::test]
async fn the_cookieless_visitor_key_is_stable_within_a_day_and_changes_the_next() {
    let day1 = MIDNIGHT + 10 * 60 * MIN;
    let (mut server, clock) = start_at(day1).await;
    visit(&server, &clock, 1, day1, "/").await;
    visit(&server, &clock, 2, day1 + 5 * 60 * MIN, "/later-that-day").await;
    visit(&server, &clock, 3, day1 + 24 * 60 * MIN, "/next-day").await;
    let events = event_sessions(&server);
    assert_eq!(events[0][1], events[1][1], "same visitor within a day");
    assert_ne!(events[1][1], events[2][1], "a new key the next day");
    assert!(events.iter().all(|e| e[1].as_str().unwrap().len() == 36));
    server.shutdown().await;
    // Salts older than yesterday are gone; no IP address is stored anywhere.
    assert_eq!(server.query("SELECT count(*) FROM salts"), vec![vec![json!(2)]]);
    let dump = std::fs::read(&server.db).unwrap();
    assert!(!dump.windows(9).any(|w| w == b"127.0.0.1"));
}

#[tokio::test]
async fn a_cookieless_visit_spans_midnight() {
    let (mut server, clock) = start_at(MIDNIGHT - 10 * MIN).await;
    visit(&server, &clock, 1, MIDNIGHT - 10 * MIN, "/").await;
    visit(&server, &clock, 2, MIDNIGHT + 10 * MIN, "/after-midnight").await;
    visit(&server, &clock, 3, MIDNIGHT + 90 * MIN, "/new-visit").await;
    let s = sessions(&server);
    assert_eq!(s.len(), 2, "{s:?}");
    assert_eq!((s[0][3].as_i64(), s[0][5].as_str(), s[0][6].as_str()), (Some(2), Some("/"), Some("/after-midnight")));
    // The visit after a 80-minute break is a new session under today's key.
    assert_ne!(s[0][0], s[1][0]);
    server.shutdown().await;
}

#[tokio::test]
async fn an_idle_gap_of_29_59_continues_a_session_and_30_01_ends_it() {
    let start = MIDNIGHT + 9 * 60 * MIN;
    let (mut server, clock) = start_at(start).await;
    visit(&server, &clock, 1, start, "/").await;
    visit(&server, &clock, 2, start + 29 * MIN + 59_000, "/b").await;
    visit(&server, &clock, 3, start + 29 * MIN + 59_000 + 30 * MIN + 1_000, "/c").await;
    let s = sessions(&server);
    assert_eq!(s.len(), 2, "{s:?}");
    assert_eq!((s[0][3].as_i64(), s[0][7].as_i64()), (Some(2), Some(0)));
    assert_eq!((s[1][3].as_i64(), s[1][7].as_i64()), (Some(1), Some(1)), "a single pageview is a bounce");
    server.shutdown().await;
}

#[tokio::test]
async fn a_new_client_session_id_starts_a_new_session() {
    let start = MIDNIGHT + 9 * 60 * MIN;
    let (mut server, clock) = start_at(start).await;
    let mut second = pageview(2, start + MIN, "/b");
    second["session_id"] = json!(session(2));
    clock.set(start + MIN);
    server.post_batch(&batch("demo", start + MIN, vec![pageview(1, start, "/a"), second])).await;
    let s = server.query("SELECT visitor_id, client_session_id, pageviews FROM sessions ORDER BY start_ts");
    assert_eq!(s, vec![vec![json!(visitor(1)), json!(session(1)), json!(1)], vec![json!(visitor(1)), json!(session(2)), json!(1)]]);
    server.shutdown().await;
}

#[tokio::test]
async fn a_late_event_joins_the_sessions_it_falls_between() {
    let start = MIDNIGHT + 9 * 60 * MIN;
    let (mut server, clock) = start_at(start + 60 * MIN).await;
    // Delivered first: 09:00 and 09:50, two sessions.
    let _ = clock;
    server.post_batch(&batch("demo", start + 60 * MIN, vec![pageview(1, start, "/a"), pageview(3, start + 50 * MIN, "/c")])).await;
    assert_eq!(sessions(&server).len(), 2);
    // An event queued offline, from 09:25, arrives later and bridges them.
    server.post_batch(&batch("demo", start + 60 * MIN, vec![pageview(2, start + 25 * MIN, "/b")])).await;
    let s = sessions(&server);
    assert_eq!(s.len(), 1, "{s:?}");
    assert_eq!((s[0][3].as_i64(), s[0][5].as_str(), s[0][6].as_str()), (Some(3), Some("/a"), Some("/c")));
    let events = event_sessions(&server);
    assert!(events.iter().all(|e| e[2] == events[0][2]), "every event points at the merged session: {events:?}");
    server.shutdown().await;
}

#[tokio::test]
async fn sessions_rebuild_gives_back_what_live_ingest_produced() {
    let start = MIDNIGHT + 9 * 60 * MIN;
    let (mut server, clock) = start_at(start).await;
    for (n, minute) in [(1u64, 0i64), (4, 95), (2, 20), (6, 200), (3, 40), (5, 130)] {
        visit(&server, &clock, n, start + minute * MIN, &format!("/p{n}")).await;
    }
    let live = server.query("SELECT * FROM sessions ORDER BY site, id");
    let live_events = event_sessions(&server);
    server.shutdown().await;
    rusqlite::Connection::open(&server.db).unwrap().execute_batch("DELETE FROM sessions; UPDATE events SET session_id = 'stale'").unwrap();

    let output = std::process::Command::new(env!("CARGO_BIN_EXE_waymark"))
        .args(["sessions", "rebuild", "--data-dir"])
        .arg(&server.dir)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(said.contains("rebuilt 4 sessions from 6 events"), "{said}");
    assert_eq!(server.query("SELECT * FROM sessions ORDER BY site, id"), live);
    assert_eq!(event_sessions(&server), live_events);
}

#[tokio::test]
async fn every_sessions_column_is_filled_from_the_visit() {
    let start = MIDNIGHT + 9 * 60 * MIN;
    let (mut server, clock) = start_at(start + 3 * MIN).await;
    let mut landing = pageview(1, start, "/landing?utm_source=news&utm_medium=email&utm_campaign=launch&utm_term=t&utm_content=c");
    landing["referrer"] = json!("https://news.example/story");
    landing["user_id"] = json!("user-42");
    let mut signup = pageview(2, start + MIN, "/landing");
    signup["name"] = json!("signup");
    let _ = clock;
    server.post_batch(&batch("demo", start + 3 * MIN, vec![landing, signup, pageview(3, start + 3 * MIN, "/thanks")])).await;
    server.shutdown().await;
    let named = server.query(
        "SELECT user_id, duration_ms, pageviews, events, entry_path, exit_path, bounce, referrer_host, source, medium,
                utm_campaign, utm_term, utm_content, browser, os, device FROM sessions",
    );
    assert_eq!(
        named[0],
        vec![
            json!("user-42"), json!(3 * MIN), json!(2), json!(3), json!("/landing"), json!("/thanks"), json!(0),
            json!("news.example"), json!("news"), json!("email"), json!("launch"), json!("t"), json!("c"),
            json!("Firefox"), json!("Linux"), json!("desktop")
        ]
    );
}
