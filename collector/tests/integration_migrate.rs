//! `waymark migrate --to clickhouse`, the real binary, from a SQLite store
//! a real collector filled, into the test's own `clickhouse-server` (see
//! `test_server`): the dashboard answers the same afterwards, the small
//! tables come along, a stopped move resumes without duplicates, and the
//! two stores it cannot reach are named. Without the server installed
//! this is skipped, unless `WAYMARK_CLICKHOUSE=required` (`cargo xtask test`).

mod support;
#[path = "../src/store/clickhouse/test_server.rs"]
#[allow(dead_code)]
mod test_server;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use serde_json::{Value, json};
use support::{FIREFOX, GOOGLEBOT, MIN, Running, now_ms, session, visitor};
use waymark_collector::access::{Role, Sites};
use waymark_collector::clock::{DAY_MS, SystemClock};
use waymark_collector::config::{Backend, Config};
use waymark_collector::store::Store;
use waymark_collector::store::accounts::Accounts;
use waymark_collector::store::lifecycle::{AuditKind, AuditRecord, Selector};
use waymark_collector::store::sqlite::{SqliteAccounts, SqliteStore};

const TOKEN: &str = "migrate-test-token-0123456789abcdef";
const HOUR: i64 = 60 * MIN;

/// The config the binary reads: the test collector's sites and rules,
/// `[store]` pointing at ClickHouse.
fn config_file(dir: &Path, database: &str) -> PathBuf {
    let path = dir.join("waymark.toml");
    let text = format!(
        "[store]\nbackend = \"clickhouse\"\nurl = \"{}\"\ndatabase = \"{database}\"\n\n\
         [[site]]\nkey = \"demo\"\n\n\
         [[site]]\nkey = \"shop\"\nallowed_origins = [\"https://shop.example\"]\nsession_timeout_minutes = 30\nsession_max_minutes = 1440\n",
        test_server::url()
    );
    std::fs::write(&path, text).unwrap();
    path
}

fn waymark(args: &[&str], data_dir: &Path, env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_waymark"));
    command.arg("migrate").args(args).arg("--data-dir").arg(data_dir).env_remove("WAYMARK_CONFIG").env("WAYMARK_LOG", "warn");
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().unwrap()
}

fn said(out: &Output) -> String {
    format!("stdout:\n{}\nstderr:\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

fn clickhouse_config(database: String) -> Config {
    let mut config = support::config();
    config.store.backend = Backend::Clickhouse;
    config.store.url = Some(test_server::url());
    config.store.database = database;
    config.dashboard.api_tokens = vec![TOKEN.into()];
    config
}

/// A consented pageview of visitor `v` in its client session `s`.
fn view(n: u64, v: u64, s: u64, ts: i64, path: &str) -> Value {
    json!({"id": support::id(n), "name": "$pageview", "ts": ts, "session_id": session(s), "visitor_id": visitor(v),
           "url": format!("https://shop.example{path}")})
}

async fn post(server: &Running, site: &str, agent: &str, events: Vec<Value>) {
    let body = json!({"site": site, "sent_at": now_ms(), "events": events}).to_string();
    let mut request = server.request("/api/collect").header("content-type", "text/plain").header("user-agent", agent);
    if site == "shop" {
        request = request.header("origin", "https://shop.example");
    }
    let answer = support::send(request.body(body)).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
}

async fn overview(server: &Running, site: &str) -> Value {
    let today = jiff::Timestamp::now().to_zoned_datetime(jiff::tz::TimeZone::UTC).date();
    let from = today.checked_sub(jiff::Span::new().days(3)).unwrap();
    let url = format!("{}/api/query/overview?site={site}&from={from}&to={today}&interval=day", server.url);
    let r = reqwest::Client::new().get(url).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

/// Three days of two sites through the collector's HTTP API: visitors
/// with bounces and longer visits, late events (one absorbed, one joining
/// two sessions), a cookieless visitor today and a bot.
async fn seed(server: &Running) {
    let now = now_ms();
    let today = now - now.rem_euclid(DAY_MS);
    let mut n = 0;
    let mut next = || {
        n += 1;
        n
    };
    for (site, visitors) in [("demo", 1..=4u64), ("shop", 5..=7u64)] {
        for days_ago in [2i64, 1] {
            let start = today - days_ago * DAY_MS + 9 * HOUR;
            for v in visitors.clone() {
                let s = v * 10 + days_ago as u64;
                let t = start + v as i64 * 7 * MIN;
                let mut events = vec![view(next(), v, s, t, "/")];
                for k in 1..(v % 3) as i64 + 1 {
                    events.push(view(next(), v, s, t + k * 4 * MIN, &format!("/page-{k}")));
                }
                post(server, site, FIREFOX, events).await;
            }
        }
        // Today: visitors in the last hour (one of them bounces).
        for v in visitors {
            let t = now - 50 * MIN + v as i64 * MIN;
            let count = if v % 2 == 0 { 1 } else { 3 };
            post(server, site, FIREFOX, (0..count).map(|k| view(next(), v, v * 10, t + k * 2 * MIN, "/today")).collect()).await;
        }
    }
    // Late events: one inside a visit (absorbed), one between two visits of
    // the same client session (joining them into one).
    let yesterday = today - DAY_MS + 15 * HOUR;
    post(server, "demo", FIREFOX, vec![view(next(), 8, 80, yesterday, "/"), view(next(), 8, 80, yesterday + 10 * MIN, "/b")]).await;
    post(server, "demo", FIREFOX, vec![view(next(), 8, 80, yesterday + 50 * MIN, "/c")]).await;
    post(server, "demo", FIREFOX, vec![view(next(), 8, 80, yesterday + 5 * MIN, "/late")]).await;
    post(server, "demo", FIREFOX, vec![view(next(), 8, 80, yesterday + 30 * MIN, "/later")]).await;
    // Cookieless, today.
    let cookieless = |n: u64, ts: i64| json!({"id": support::id(n), "name": "$pageview", "ts": ts, "url": "https://shop.example/no-consent"});
    post(server, "demo", FIREFOX, vec![cookieless(next(), now - 3 * MIN)]).await;
    // A bot, counted and not stored.
    post(server, "demo", GOOGLEBOT, vec![view(next(), 9, 90, now - MIN, "/")]).await;
}

#[tokio::test]
async fn a_moved_store_answers_the_dashboard_as_sqlite_did_with_its_users_bots_audit_and_cookieless_visitors() {
    if test_server::skip() {
        return;
    }
    let mut config = support::config();
    config.dashboard.api_tokens = vec![TOKEN.into()];
    let mut sqlite = support::start_with(config.clone(), Arc::new(SystemClock)).await;
    seed(&sqlite).await;
    let (demo, shop) = (overview(&sqlite, "demo").await, overview(&sqlite, "shop").await);
    let figures = |o: &Value| ["visitors", "sessions", "bounces", "pageviews"].map(|k| o["current"]["totals"][k].as_i64().unwrap());
    // Five visitors and a cookieless one; the late events joined visitor 8's two visits.
    assert_eq!(figures(&demo), [6, 14, 5, 30], "{demo}");
    assert!(demo["current"]["totals"]["avg_duration_ms"].as_f64().unwrap() > 0.0, "{demo}");
    let bots = sqlite.state.store.bot_hits("demo").await.unwrap();
    assert_eq!(bots.iter().map(|b| b.hits).sum::<i64>(), 1, "{bots:?}");
    sqlite.shutdown().await;
    let events = support::query(&sqlite.db, "SELECT count(*) FROM events")[0][0].as_i64().unwrap();

    // A user kept in the database, and a record in the audit log.
    let accounts: Arc<dyn Accounts> = Arc::new(SqliteAccounts::open_in(&sqlite.dir).unwrap());
    let users = waymark_collector::users::Users::open(&config, accounts).unwrap();
    users.add("ana", "correct horse battery", Role::Viewer, Sites::All, now_ms()).unwrap();
    let store = SqliteStore::open(&sqlite.dir).unwrap();
    let record = AuditRecord { at_ms: now_ms(), site: "shop".into(), kind: AuditKind::Visitor, rows_removed: 0, requested_by: "cli".into() };
    store.record_audit(record.clone()).await.unwrap();
    store.close().await;

    let database = test_server::database_for(&sqlite.dir.join("clickhouse"));
    let file = config_file(&sqlite.dir, &database);
    let out = waymark(&["--to", "clickhouse", "--config", file.to_str().unwrap(), "--page-rows", "7"], &sqlite.dir, &[]);
    assert!(out.status.success(), "{}", said(&out));
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(stderr.contains(&format!("events: 7/{events} rows copied")), "{}", said(&out));
    assert!(stderr.contains(&format!("events: {events}/{events} rows copied")), "{}", said(&out));
    assert!(stderr.contains("dashboard users: done, 1 rows written"), "{}", said(&out));
    let day = |ago: i64| waymark_collector::clock::day_label((now_ms() - ago * DAY_MS).div_euclid(DAY_MS));
    for (ago, site) in [(2, "demo"), (1, "shop"), (0, "demo")] {
        assert!(stdout.lines().any(|l| l.starts_with(&day(ago)) && l.contains(site)), "no row for {site} {} in\n{stdout}", day(ago));
    }
    assert!(!stdout.contains("differs") && stdout.contains("every day matches"), "{}", said(&out));

    let mut clickhouse = support::start_with(clickhouse_config(database), Arc::new(SystemClock)).await;
    assert_eq!(overview(&clickhouse, "demo").await, demo, "the demo site's overview moved as it was");
    assert_eq!(overview(&clickhouse, "shop").await, shop, "the shop's overview moved as it was");
    assert_eq!(clickhouse.state.store.bot_hits("demo").await.unwrap(), bots);
    assert_eq!(clickhouse.state.store.audit(None).await.unwrap(), vec![record]);
    let signed_in = clickhouse
        .request("/api/auth/sign-in")
        .json(&json!({"name": "ana", "password": "correct horse battery"}))
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 200, "ana signs in on ClickHouse with her password");

    // Today's cookieless visitor comes back: the same visitor, the same visit.
    let totals = |o: &Value| o["current"]["totals"].clone();
    let before = totals(&demo);
    let body = json!({"site": "demo", "sent_at": now_ms(), "events": [
        {"id": support::id(9_999), "name": "$pageview", "ts": now_ms(), "url": "https://shop.example/again"}]});
    let answer = clickhouse.post_batch(&body).await;
    assert_eq!(answer.body["accepted"].as_u64(), Some(1), "{}", answer.body);
    let after = totals(&overview(&clickhouse, "demo").await);
    assert_eq!(
        (after["visitors"].as_i64(), after["sessions"].as_i64(), after["pageviews"].as_i64()),
        (before["visitors"].as_i64(), before["sessions"].as_i64(), before["pageviews"].as_i64().map(|p| p + 1)),
        "before {before}, after {after}"
    );
    clickhouse.shutdown().await;
}

/// 3,000 events of three sites over four days, appended through the store.
async fn seed_through_the_store(dir: &Path) {
    let store = SqliteStore::open(dir).unwrap();
    let start = support::MIDNIGHT - 4 * DAY_MS;
    let mut events = Vec::new();
    for i in 0..3_000u64 {
        let (site, day, v) = (["a", "b", "c"][(i % 3) as usize], (i / 3) % 4, (i / 12) % 50);
        let ts = start + day as i64 * DAY_MS + v as i64 * 13 * MIN + (i / 600) as i64 * MIN;
        events.push(waymark_collector::event::StoredEvent {
            site: site.into(),
            id: support::id(i),
            ts,
            received_ms: ts,
            name: "$pageview".into(),
            visitor_id: visitor(v),
            client_session_id: Some(session(v * 10 + day)),
            url: format!("https://{site}.example/p{}", i % 7),
            host: format!("{site}.example"),
            path: format!("/p{}", i % 7),
            props: "{}".into(),
            ..Default::default()
        });
    }
    for chunk in events.chunks(500) {
        store.append(chunk.to_vec()).await.unwrap();
    }
    store.close().await;
}

#[tokio::test]
async fn a_move_stopped_after_a_page_goes_on_where_it_was_and_counts_every_event_once() {
    if test_server::skip() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    seed_through_the_store(dir.path()).await;
    let database = test_server::database_for(dir.path());
    let url = test_server::url();
    let flags = ["--to", "clickhouse", "--url", url.as_str(), "--database", database.as_str(), "--page-rows", "400"];

    // Stopped as if killed once the third page is in, before its marker.
    let stopped = waymark(&[&flags[..], &["--exit-after-pages", "3"]].concat(), dir.path(), &[]);
    assert_eq!(stopped.status.code(), Some(137), "{}", said(&stopped));
    assert!(String::from_utf8_lossy(&stopped.stderr).contains("events: 800/3000 rows copied"), "{}", said(&stopped));
    let count = "SELECT count() AS n FROM events FINAL";
    assert_eq!(test_server::rows(&test_server::url(), &database, count).await, [json!({"n": 1200})]);

    let resumed = waymark(&flags, dir.path(), &[]);
    assert!(resumed.status.success(), "{}", said(&resumed));
    let stderr = String::from_utf8_lossy(&resumed.stderr);
    assert!(stderr.contains("events: resuming after 800 of 3000 rows copied by an earlier run"), "{}", said(&resumed));
    assert!(stderr.contains("events: done, 2200 rows written by this run of 3000"), "{}", said(&resumed));
    assert_eq!(test_server::rows(&test_server::url(), &database, count).await, [json!({"n": 3000})], "the page written twice counts once");

    let per_day = format!("SELECT site, intDiv(ts, {DAY_MS}) AS day, count() AS n FROM events FINAL GROUP BY site, day ORDER BY site, day");
    let sqlite_per_day: Vec<Value> = support::query(
        &dir.path().join("waymark.db"),
        &format!("SELECT site, ts / {DAY_MS}, count(*) FROM events GROUP BY 1, 2 ORDER BY 1, 2"),
    )
    .into_iter()
    .map(|r| json!({"site": r[0], "day": r[1], "n": r[2]}))
    .collect();
    assert_eq!(sqlite_per_day.len(), 12);
    assert_eq!(test_server::rows(&test_server::url(), &database, &per_day).await, sqlite_per_day);
    let sessions = support::query(&dir.path().join("waymark.db"), "SELECT count(*) FROM sessions")[0][0].as_i64().unwrap();
    let live_sessions = test_server::rows(&test_server::url(), &database, "SELECT count() AS n FROM sessions FINAL WHERE deleted = 0").await;
    assert_eq!(live_sessions, [json!({"n": sessions})]);

    // Once more: nothing left to copy, nothing doubled.
    let again = waymark(&flags, dir.path(), &[]);
    assert!(again.status.success(), "{}", said(&again));
    assert!(String::from_utf8_lossy(&again.stderr).contains("events: done, 0 rows written by this run of 3000"), "{}", said(&again));
    assert_eq!(test_server::rows(&test_server::url(), &database, count).await, [json!({"n": 3000})]);

    // The collector ran on SQLite again: a move copies what is new, on a
    // site the first move had passed.
    let store = SqliteStore::open(dir.path()).unwrap();
    let stored = store.events("a").await.unwrap();
    let late = stored[..30].iter().enumerate().map(|(i, e)| waymark_collector::event::StoredEvent {
        id: format!("00000000-0000-4000-9000-{i:012}"),
        ..e.clone()
    });
    store.append(late.collect()).await.unwrap();
    store.close().await;
    let later = waymark(&flags, dir.path(), &[]);
    assert!(later.status.success(), "{}", said(&later));
    assert!(String::from_utf8_lossy(&later.stderr).contains("events of days behind: done"), "{}", said(&later));
    assert_eq!(test_server::rows(&test_server::url(), &database, count).await, [json!({"n": 3030})]);

    // A visitor erased in SQLite after the move: the check fails on the
    // first day that differs, and says so.
    let db = dir.path().join("waymark.db");
    let first_day_of_b = format!("SELECT count(*) FROM events WHERE site = 'b' AND ts < {}", support::MIDNIGHT - 3 * DAY_MS);
    let before = support::query(&db, &first_day_of_b)[0][0].as_i64().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    store.erase("b", &Selector::Visitor(visitor(3)), now_ms(), "cli").await.unwrap();
    store.close().await;
    let after = support::query(&db, &first_day_of_b)[0][0].as_i64().unwrap();
    assert!(after < before, "visitor 3 had events on the first day");
    let differs = waymark(&flags, dir.path(), &[]);
    assert!(!differs.status.success(), "{}", said(&differs));
    let first = waymark_collector::clock::day_label((support::MIDNIGHT - 4 * DAY_MS) / DAY_MS);
    let stderr = String::from_utf8_lossy(&differs.stderr);
    assert!(stderr.contains(&format!("events of site \"b\" on {first} differ: {after} in SQLite, {before} in ClickHouse")), "{}", said(&differs));
    let stdout = String::from_utf8_lossy(&differs.stdout);
    assert!(stdout.lines().any(|l| l.starts_with(&first) && l.contains(" b ") && l.ends_with("differs")), "{stdout}");
}

#[tokio::test]
async fn a_missing_sqlite_store_an_unreachable_server_or_a_running_collector_is_named() {
    if test_server::skip() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let url = test_server::url();
    let out = waymark(&["--to", "clickhouse", "--url", &url], &dir.path().join("nothing-here"), &[]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no SQLite store in"), "{}", said(&out));
    assert!(!dir.path().join("nothing-here").exists(), "looking for the store does not create it");

    seed_through_the_store(dir.path()).await;
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let nowhere = format!("http://127.0.0.1:{port}");
    let env = [("WAYMARK_STORE__BACKEND", "clickhouse"), ("WAYMARK_STORE__URL", nowhere.as_str())];
    let out = waymark(&["--to", "clickhouse"], dir.path(), &env);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains(&format!("ClickHouse at {nowhere} is unreachable")), "{}", said(&out));

    // A collector running on the store: the move waits for it to stop.
    let _running = waymark_collector::server::lock_data_dir(dir.path()).unwrap();
    let out = waymark(&["--to", "clickhouse", "--url", &url], dir.path(), &[]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("is in use: a collector"), "{}", said(&out));
}

#[tokio::test]
async fn a_move_killed_while_it_copies_resumes_to_the_exact_counts() {
    use std::io::BufRead;
    if test_server::skip() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    seed_through_the_store(dir.path()).await;
    let database = test_server::database_for(dir.path());
    let url = test_server::url();
    let flags = ["migrate", "--to", "clickhouse", "--url", url.as_str(), "--database", database.as_str(), "--page-rows", "100"];
    let mut child = Command::new(env!("CARGO_BIN_EXE_waymark"))
        .args(flags)
        .arg("--data-dir")
        .arg(dir.path())
        .env_remove("WAYMARK_CONFIG")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
    // The first line of progress (log lines may come before it).
    let first = lines.find_map(|l| l.ok().filter(|l| l.starts_with("events:"))).expect("a line of progress");
    assert!(first.starts_with("events: 100/3000 rows copied"), "{first}");
    child.kill().unwrap();
    assert!(!child.wait().unwrap().success());
    let count = "SELECT count() AS n FROM events FINAL";
    let copied = test_server::rows(&test_server::url(), &database, count).await[0]["n"].as_u64().unwrap();
    assert!((100..3000).contains(&copied), "killed after the first page of 30: {copied} copied");

    let resumed = waymark(&flags[1..], dir.path(), &[]);
    assert!(resumed.status.success(), "{}", said(&resumed));
    assert!(String::from_utf8_lossy(&resumed.stderr).contains("events: resuming after"), "{}", said(&resumed));
    assert_eq!(test_server::rows(&test_server::url(), &database, count).await, [json!({"n": 3000})]);
}
