//! The data lifecycle over real HTTP and the command line: retention on a
//! clock the test sets (runs triggered explicitly, no sleeps), erasure of
//! one person that leaves no trace in the database files or in any answer,
//! export of one person, the audit log.

mod support;

use std::path::Path;
use std::sync::Arc;

use serde_json::{Value, json};
use support::*;
use waymark_collector::clock::ManualClock;
use waymark_collector::event::StoredEvent;

const TOKEN: &str = "lifecycle-test-token";
const DAY: i64 = 24 * 60 * MIN;

/// The test config: `shop` keeps 30 days, an API token for scripts.
fn lifecycle_config() -> waymark_collector::config::Config {
    let mut config = config();
    config.dashboard.api_tokens = vec![TOKEN.into()];
    config.sites.iter_mut().find(|s| s.key == "shop").unwrap().retention_days = Some(30);
    config
}

/// A server on a manual clock at `at`, once its retention run at start is done.
async fn start_lifecycle_at(at: i64) -> (Running, ManualClock) {
    let clock = ManualClock::at(at);
    let server = start_with(lifecycle_config(), Arc::new(clock.clone())).await;
    server.state.retention.finished(1).await;
    (server, clock)
}

async fn api_get(server: &Running, path: &str) -> Answer {
    send(reqwest::Client::new().get(format!("{}{path}", server.url)).bearer_auth(TOKEN)).await
}

async fn erase(server: &Running, body: Value) -> Answer {
    send(reqwest::Client::new().post(format!("{}/api/lifecycle/erase", server.url)).bearer_auth(TOKEN).json(&body)).await
}

/// A browser on shop.example posting `events` at the clock's `at`.
async fn post_shop(server: &Running, clock: &ManualClock, at: i64, events: Vec<Value>) {
    clock.set(at);
    let n = events.len();
    let answer = send(
        server
            .request("/api/collect")
            .header("content-type", "text/plain")
            .header("origin", "https://shop.example")
            .header("user-agent", FIREFOX)
            .body(batch("shop", at, events).to_string()),
    )
    .await;
    assert_eq!((answer.status, answer.body["accepted"].as_u64()), (200, Some(n as u64)), "{}", answer.body);
}

/// A pageview of visitor `v` (SDK session `v`) at `ts` on `path`.
fn visit(n: u64, v: u64, ts: i64, path: &str) -> Value {
    let mut e = pageview(n, ts, path);
    e["visitor_id"] = json!(visitor(v));
    e["session_id"] = json!(session(v));
    e
}

fn count(server: &Running, sql: &str) -> i64 {
    server.query(sql)[0][0].as_i64().unwrap()
}

/// Whether `needle` occurs anywhere in the database file or its WAL.
fn on_disk(db: &Path, needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for suffix in ["", "-wal"] {
        let path = format!("{}{suffix}", db.display());
        if let Ok(bytes) = std::fs::read(&path)
            && bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
        {
            found.push(path);
        }
    }
    found
}

#[tokio::test]
async fn retention_deletes_what_ended_just_outside_the_period_keeps_what_is_just_inside_as_the_dry_run_said() {
    let t0 = MIDNIGHT + 9 * 60 * MIN;
    let (mut server, clock) = start_lifecycle_at(t0).await;
    post_shop(&server, &clock, t0, vec![visit(1, 1, t0, "/gone")]).await;
    post_shop(&server, &clock, t0 + 2_000, vec![visit(2, 2, t0 + 2_000, "/kept")]).await;
    // Thirty days and a second later: the cut-off falls between the two visits.
    clock.set(t0 + 30 * DAY + 1_000);

    let dry = api_get(&server, "/api/lifecycle/retention?site=shop").await;
    assert_eq!(dry.status, 200, "{}", dry.body);
    assert_eq!((dry.body["retention_days"].as_u64(), dry.body["cutoff_ms"].as_i64()), (Some(30), Some(t0 + 1_000)));
    assert_eq!(dry.body["days"], json!([{"day": "2025-11-25", "sessions": 1, "events": 1, "bot_days": 0}]));
    assert_eq!(dry.body["rows"], 2);

    let run = server.state.retention.run_once().await.unwrap();
    assert_eq!(run.rows(), 2, "what the dry run said");
    let paths = server.query("SELECT path FROM events");
    assert_eq!(paths, vec![vec![json!("/kept")]]);
    assert_eq!(count(&server, "SELECT count(*) FROM sessions"), 1);
    // The overview adds up quarter-hour counts: they shrank with the events.
    let overview = api_get(&server, "/api/query/overview?site=shop&from=2025-11-25&to=2025-11-25").await;
    let totals = &overview.body["current"]["totals"];
    assert_eq!((totals["visitors"].as_i64(), totals["pageviews"].as_i64(), totals["events"].as_i64()), (Some(1), Some(1), Some(1)));

    let (_, metrics) = server.get("/metrics").await;
    assert!(metrics.contains("waymark_retention_rows_removed_total 2"), "{metrics}");
    assert!(metrics.contains(&format!("waymark_retention_last_run_timestamp_seconds {}", (t0 + 30 * DAY + 1_000) / 1000)), "{metrics}");
    let after = api_get(&server, "/api/lifecycle/retention?site=shop").await;
    assert_eq!((after.body["rows"].as_u64(), after.body["last_run"]["deleted"]["events"].as_u64()), (Some(0), Some(1)));
    let audit = api_get(&server, "/api/lifecycle/audit?site=shop").await;
    assert_eq!(
        audit.body,
        json!([{"at_ms": t0 + 30 * DAY + 1_000, "site": "shop", "kind": "retention", "rows_removed": 2, "requested_by": "retention"}])
    );
    // The site that keeps everything kept everything.
    let demo = api_get(&server, "/api/lifecycle/retention?site=demo").await;
    assert_eq!((demo.body["retention_days"].clone(), demo.body["rows"].as_u64()), (Value::Null, Some(0)));
    server.shutdown().await;
}

#[tokio::test]
async fn ingest_keeps_its_answers_while_retention_runs() {
    let t0 = MIDNIGHT;
    let (mut server, clock) = start_lifecycle_at(t0).await;
    // 1500 old visits of 3 events: 6000 rows, several chunks.
    let old: Vec<StoredEvent> = (0..4500u64)
        .map(|n| StoredEvent {
            site: "shop".into(),
            id: format!("00000000-0000-4000-9000-{n:012}"),
            ts: t0 + (n as i64 / 3) * 60_000 + n as i64 % 3,
            received_ms: t0,
            name: "$pageview".into(),
            visitor_id: format!("old-{}", n / 3),
            url: "https://shop.example/old".into(),
            path: "/old".into(),
            props: "{}".into(),
            ..StoredEvent::default()
        })
        .collect();
    for chunk in old.chunks(500) {
        server.state.store.append(chunk.to_vec()).await.unwrap();
    }
    let now = t0 + 40 * DAY;
    clock.set(now);
    let senders = (0..8u64).map(|s| {
        let url = server.url.clone();
        tokio::spawn(async move {
            let mut accepted = 0;
            for b in 0..10u64 {
                let events: Vec<Value> = (0..5u64).map(|e| visit(100_000 + s * 1000 + b * 10 + e, 1000 + s, now, "/new")).collect();
                let r = reqwest::Client::new()
                    .post(format!("{url}/api/collect"))
                    .header("content-type", "text/plain")
                    .header("origin", "https://shop.example")
                    .header("user-agent", FIREFOX)
                    .body(batch("shop", now, events).to_string())
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200);
                accepted += r.json::<Value>().await.unwrap()["accepted"].as_u64().unwrap();
            }
            accepted
        })
    });
    let senders: Vec<_> = senders.collect();
    let run = server.state.retention.run_once().await.unwrap();
    let mut accepted = 0;
    for s in senders {
        accepted += s.await.unwrap();
    }
    assert_eq!(accepted, 400, "every batch answered 200 with all its events");
    assert_eq!(run.rows(), 6000);
    assert!(run.sites[0].chunks > 2, "{run:?}");
    assert_eq!(count(&server, "SELECT count(*) FROM events WHERE path = '/new'"), 400);
    assert_eq!(count(&server, "SELECT count(*) FROM events WHERE path = '/old'"), 0);
    server.shutdown().await;
}

#[tokio::test]
async fn an_erased_visitor_leaves_no_trace_in_the_database_files_or_in_any_answer() {
    let t0 = MIDNIGHT + 9 * 60 * MIN;
    let (mut server, clock) = start_lifecycle_at(t0).await;
    let mut anna = vec![visit(1, 1, t0, "/private-diary-of-anna"), visit(2, 1, t0 + MIN, "/pricing")];
    anna[1]["user_id"] = json!("anna@example.com");
    post_shop(&server, &clock, t0 + MIN, anna).await;
    post_shop(&server, &clock, t0 + 2 * MIN, vec![visit(3, 2, t0 + 2 * MIN, "/")]).await;
    let anna_session = server.query(&format!("SELECT id FROM sessions WHERE visitor_id = '{}'", visitor(1)))[0][0].as_str().unwrap().to_owned();
    let traces = [visitor(1), session(1), anna_session.clone(), "anna@example.com".into(), "private-diary-of-anna".into()];
    assert!(!on_disk(&server.db, &visitor(1)).is_empty(), "the test looks where the data is");

    let answer = erase(&server, json!({"site": "shop", "visitor": visitor(1)})).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body, json!({"site": "shop", "kind": "visitor", "visitors": 1, "events": 2, "sessions": 1, "rows_removed": 3}));
    for trace in &traces {
        assert_eq!(on_disk(&server.db, trace), Vec::<String>::new(), "{trace} is still on disk");
    }
    // No answer knows her.
    let export = api_get(&server, &format!("/api/lifecycle/export?site=shop&visitor={}", visitor(1))).await;
    assert_eq!((export.body["events"].clone(), export.body["sessions"].clone()), (json!([]), json!([])));
    let journey = api_get(&server, &format!("/api/query/sessions/{anna_session}?site=shop")).await;
    assert_eq!(journey.status, 404);
    let sessions = api_get(&server, "/api/query/sessions?site=shop&from=2025-11-25&to=2025-11-25").await;
    let pages = api_get(&server, "/api/query/breakdown?site=shop&from=2025-11-25&to=2025-11-25&dimension=page").await;
    let overview = api_get(&server, "/api/query/overview?site=shop&from=2025-11-25&to=2025-11-25").await;
    for answer in [&sessions.body, &pages.body] {
        let text = answer.to_string();
        assert!(traces.iter().all(|t| !text.contains(t.as_str())) && !text.contains("/pricing"), "{text}");
    }
    let totals = &overview.body["current"]["totals"];
    assert_eq!((totals["visitors"].as_i64(), totals["pageviews"].as_i64()), (Some(1), Some(1)), "only ben is counted");

    // Again: nothing left to remove, and the request is recorded.
    let again = erase(&server, json!({"site": "shop", "visitor": visitor(1)})).await;
    assert_eq!((again.status, again.body["rows_removed"].as_u64()), (200, Some(0)));
    let audit = api_get(&server, "/api/lifecycle/audit?site=shop").await;
    let rows: Vec<(String, u64, String)> = audit.body.as_array().unwrap().iter()
        .map(|r| (r["kind"].as_str().unwrap().into(), r["rows_removed"].as_u64().unwrap(), r["requested_by"].as_str().unwrap().into()))
        .collect();
    assert_eq!(rows, vec![("visitor".into(), 3, "api token 0".into()), ("visitor".into(), 0, "api token 0".into())]);
    let audit_text = audit.body.to_string();
    assert!(traces.iter().all(|t| !audit_text.contains(t.as_str())), "{audit_text}");

    // A later visit of the same browser starts afresh: nothing resurrects her.
    post_shop(&server, &clock, t0 + 3 * MIN, vec![visit(4, 1, t0 + 3 * MIN, "/back")]).await;
    let back = server.query(&format!("SELECT start_ts, events, entry_path FROM sessions WHERE visitor_id = '{}'", visitor(1)));
    assert_eq!(back, vec![vec![json!(t0 + 3 * MIN), json!(1), json!("/back")]]);
    let db = server.shutdown().await;
    for trace in ["anna@example.com", "private-diary-of-anna", anna_session.as_str()] {
        assert_eq!(on_disk(&db, trace), Vec::<String>::new(), "{trace} after shutdown");
    }
}

#[tokio::test]
async fn erasure_and_export_refuse_what_they_cannot_do_with_a_reason() {
    let (mut server, _clock) = start_lifecycle_at(MIDNIGHT).await;
    let unsigned = send(reqwest::Client::new().post(format!("{}/api/lifecycle/erase", server.url)).json(&json!({"site": "shop", "all": true}))).await;
    assert_eq!((unsigned.status, unsigned.body["error"].as_str()), (401, Some("not_signed_in")));
    let nobody = erase(&server, json!({"site": "shop"})).await;
    assert_eq!((nobody.status, nobody.body["error"].as_str()), (400, Some("bad_selector")));
    let two = erase(&server, json!({"site": "shop", "visitor": "a", "user": "b"})).await;
    assert_eq!((two.status, two.body["error"].as_str()), (400, Some("bad_selector")));
    let unknown = erase(&server, json!({"site": "nope", "visitor": "a"})).await;
    assert_eq!((unknown.status, unknown.body["error"].as_str()), (404, Some("unknown_site")));
    let site_export = api_get(&server, "/api/lifecycle/export?site=shop").await;
    assert_eq!((site_export.status, site_export.body["error"].as_str()), (400, Some("bad_selector")));
    server.shutdown().await;
}

#[tokio::test]
async fn a_person_receives_their_events_and_sessions_as_json_and_csv() {
    let t0 = MIDNIGHT + 9 * 60 * MIN;
    let (mut server, clock) = start_lifecycle_at(t0).await;
    let mut events = vec![visit(1, 1, t0, "/a"), visit(2, 1, t0 + MIN, "/b")];
    events[1]["user_id"] = json!("user-1");
    post_shop(&server, &clock, t0 + MIN, events).await;
    // The same user on a second device.
    let mut phone = visit(3, 2, t0 + 5 * MIN, "/c");
    phone["user_id"] = json!("user-1");
    post_shop(&server, &clock, t0 + 5 * MIN, vec![phone, visit(4, 2, t0 + 6 * MIN, "/d")]).await;
    post_shop(&server, &clock, t0 + 6 * MIN, vec![visit(5, 3, t0 + 6 * MIN, "/someone-else")]).await;

    let json = api_get(&server, "/api/lifecycle/export?site=shop&user=user-1").await;
    assert_eq!(json.status, 200, "{}", json.body);
    let paths: Vec<&str> = json.body["events"].as_array().unwrap().iter().map(|e| e["path"].as_str().unwrap()).collect();
    assert_eq!(paths, ["/a", "/b", "/c", "/d"]);
    assert_eq!(json.body["sessions"].as_array().unwrap().len(), 2);
    assert_eq!(json.body["visitors"], json!([visitor(1), visitor(2)]));

    let csv = reqwest::Client::new()
        .get(format!("{}/api/lifecycle/export?site=shop&visitor={}&format=csv", server.url, visitor(1)))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert!(csv.headers()["content-disposition"].to_str().unwrap().contains("waymark-shop-visitor-events.csv"));
    let csv = csv.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].starts_with("id,ts,received_ms,name,session_id"), "{csv}");
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(lines[2].contains("https://shop.example/b") && lines[2].contains("user-1"), "{csv}");
    let sessions = api_get(&server, &format!("/api/lifecycle/export?site=shop&visitor={}&format=csv&table=sessions", visitor(2))).await;
    let text = sessions.body.as_str().unwrap();
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(text.contains(",/c,/d,"), "{text}");
    server.shutdown().await;
}

fn waymark(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_waymark"))
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    (output.status.success(), String::from_utf8_lossy(&output.stdout).into_owned(), String::from_utf8_lossy(&output.stderr).into_owned())
}

/// The demo site (the command line's config without a file), two visitors.
async fn demo_with_two_visitors() -> Running {
    let t0 = MIDNIGHT + 9 * 60 * MIN;
    let (server, clock) = start_at(t0).await;
    let mut first = visit(1, 1, t0, "/one");
    first["user_id"] = json!("user-cli");
    for (at, events) in [(t0 + MIN, vec![first, visit(2, 1, t0 + MIN, "/two")]), (t0 + 2 * MIN, vec![visit(3, 2, t0 + 2 * MIN, "/three")])] {
        clock.set(at);
        let answer = server.post_batch(&batch("demo", at, events)).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
    }
    server
}

#[tokio::test]
async fn the_commands_erase_export_and_list_the_audit_and_refuse_beside_a_running_collector() {
    let mut server = demo_with_two_visitors().await;
    let (ok, _, err) = waymark(&server.dir, &["audit"], &[]);
    assert!(!ok && err.contains("is in use"), "{err}");
    server.shutdown().await;

    let (ok, json, err) = waymark(&server.dir, &["export", "--site", "demo", "--user", "user-cli"], &[]);
    assert!(ok, "{err}");
    let json: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(json["events"].as_array().unwrap().len(), 2);
    let (ok, csv, _) = waymark(&server.dir, &["export", "--site", "demo", "--visitor", &visitor(2), "--format", "csv"], &[]);
    assert!(ok && csv.lines().count() == 2 && csv.contains("/three"), "{csv}");

    let (ok, said, err) = waymark(&server.dir, &["erase", "--site", "demo", "--user", "user-cli", "--yes"], &[]);
    assert!(ok, "{err}");
    assert!(said.contains("erased 3 rows (2 events, 1 sessions of 1 visitors)"), "{said}");
    let (_, said, _) = waymark(&server.dir, &["erase", "--site", "demo", "--user", "user-cli", "--yes"], &[]);
    assert!(said.contains("erased 0 rows"), "{said}");
    assert_eq!(server.query("SELECT count(*) FROM events"), vec![vec![json!(1)]]);

    let (ok, audit, _) = waymark(&server.dir, &["audit", "--site", "demo"], &[]);
    assert!(ok);
    let lines: Vec<&str> = audit.lines().collect();
    assert_eq!(lines.len(), 3, "{audit}");
    assert!(lines[1].ends_with("\tdemo\tuser\t3\tcli") && lines[2].ends_with("\tdemo\tuser\t0\tcli"), "{audit}");
    assert!(!audit.contains("user-cli"), "{audit}");

    let (ok, said, err) = waymark(&server.dir, &["erase", "--site", "demo", "--all", "--yes"], &[]);
    assert!(ok, "{err}");
    assert!(said.contains("erased 2 rows"), "{said}");
    assert_eq!(server.query("SELECT count(*) FROM events"), vec![vec![json!(0)]]);
}

#[tokio::test]
async fn the_retention_command_prints_per_day_what_it_then_deletes() {
    let mut server = demo_with_two_visitors().await;
    server.shutdown().await;
    // The visits were on 2025-11-25, more than 30 days before the real clock.
    let thirty = [("WAYMARK_LIFECYCLE__RETENTION_DAYS", "30")];
    let (ok, dry, err) = waymark(&server.dir, &["retention", "--dry-run"], &thirty);
    assert!(ok, "{err}");
    assert!(dry.contains("demo: kept 30 days"), "{dry}");
    assert!(dry.contains("2025-11-25  2 sessions  3 events  0 bot counts"), "{dry}");
    assert!(dry.contains("would delete 5 rows"), "{dry}");
    assert_eq!(server.query("SELECT count(*) FROM events"), vec![vec![json!(3)]], "a dry run deletes nothing");

    let (ok, said, err) = waymark(&server.dir, &["retention"], &thirty);
    assert!(ok, "{err}");
    assert!(said.contains("demo: removed 5 rows (2 sessions, 3 events, 0 bot counts)"), "{said}");
    assert_eq!(server.query("SELECT count(*) FROM events"), vec![vec![json!(0)]]);
    let (_, forever, _) = waymark(&server.dir, &["retention", "--dry-run"], &[]);
    assert!(forever.contains("demo: kept forever"), "{forever}");
}
