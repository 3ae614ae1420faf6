//! A collector on ClickHouse over real HTTP: ingest with a resend, and the
//! query API's answers from the same events. The server is the test's own
//! `clickhouse-server` (see `test_server`); without one installed this is
//! skipped, unless `WAYMARK_CLICKHOUSE=required` (`cargo xtask test`).

mod support;
#[path = "../src/store/clickhouse/test_server.rs"]
#[allow(dead_code)]
mod test_server;

use std::sync::Arc;

use serde_json::Value;
use support::{MIN, batch, now_ms, pageview};
use waymark_collector::clock::SystemClock;
use waymark_collector::config::Backend;

const TOKEN: &str = "clickhouse-test-token-0123456789";

async fn get(server: &support::Running, path: &str) -> (u16, Value) {
    let r = reqwest::Client::new().get(format!("{}{path}", server.url)).bearer_auth(TOKEN).send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

#[tokio::test]
async fn a_collector_on_clickhouse_counts_a_resent_event_once_and_answers_the_dashboard() {
    if test_server::skip() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut config = support::config();
    config.store.backend = Backend::Clickhouse;
    config.store.url = Some(test_server::url());
    config.store.database = test_server::database_for(dir.path());
    config.dashboard.api_tokens = vec![TOKEN.into()];
    let mut server = support::start_with(config, Arc::new(SystemClock)).await;

    let now = now_ms();
    let first = pageview(1, now - 2 * MIN, "/");
    let answer = server.post_batch(&batch("demo", now, vec![first.clone(), pageview(2, now - MIN, "/pricing")])).await;
    assert_eq!((answer.status, answer.body["accepted"].as_u64()), (200, Some(2)), "{}", answer.body);
    let resent = server.post_batch(&batch("demo", now, vec![first])).await;
    assert_eq!((resent.body["accepted"].as_u64(), resent.body["duplicates"].as_u64()), (Some(0), Some(1)), "{}", resent.body);

    let today = jiff::Timestamp::from_millisecond(now).unwrap().to_zoned_datetime(jiff::tz::TimeZone::UTC).date();
    let (from, to) = (today.yesterday().unwrap(), today);
    let (status, overview) = get(&server, &format!("/api/query/overview?site=demo&from={from}&to={to}")).await;
    assert_eq!(status, 200, "{overview}");
    let totals = &overview["current"]["totals"];
    assert_eq!(
        (totals["visitors"].as_i64(), totals["sessions"].as_i64(), totals["pageviews"].as_i64()),
        (Some(1), Some(1), Some(2)),
        "{overview}"
    );
    let (_, page) = get(&server, &format!("/api/query/sessions?site=demo&from={from}&to={to}")).await;
    let session = &page["sessions"][0];
    assert_eq!(
        (page["total"].as_i64(), session["pageviews"].as_i64(), session["duration_ms"].as_i64()),
        (Some(1), Some(2), Some(MIN)),
        "{page}"
    );
    let (_, pages) = get(&server, &format!("/api/query/breakdown?site=demo&from={from}&to={to}&dimension=page")).await;
    assert_eq!(pages["rows"].as_array().map(Vec::len), Some(2), "{pages}");
    server.shutdown().await;
}

#[tokio::test]
async fn with_clickhouse_killed_mid_load_batches_get_503_with_retry_after_and_after_its_restart_every_one_counts_once() {
    if test_server::skip() {
        return;
    }
    let mut clickhouse_server = test_server::OwnServer::start();
    let dir = tempfile::tempdir().unwrap();
    let database = test_server::database_for(dir.path());
    let mut config = support::config();
    config.store.backend = Backend::Clickhouse;
    config.store.url = Some(clickhouse_server.url());
    config.store.database = database.clone();
    // Appends to `incoming`, and this collector's own sessionizer.
    config.store.sessionizer = waymark_collector::config::Sessionizer::Inside;
    let mut server = support::start_with(config, Arc::new(SystemClock)).await;

    let now = now_ms();
    // Batch k: visitor k's visit of five pages; resent until acknowledged,
    // as the SDK does.
    let batch_of = |k: u64| {
        let events = (0..5u64)
            .map(|j| {
                let mut event = pageview(k * 10 + j, now - 10 * MIN + (j as i64) * MIN, &format!("/{j}"));
                event["visitor_id"] = serde_json::json!(support::visitor(k));
                event["session_id"] = serde_json::json!(support::session(k));
                event
            })
            .collect();
        batch("demo", now, events)
    };
    let mut refused = Vec::new();
    let mut acknowledged = 0u64;
    let mut k = 0u64;
    let mut killed = false;
    let mut restarted = false;
    while !restarted || acknowledged < 40 {
        let answer = server.post_batch(&batch_of(k)).await;
        match answer.status {
            200 => {
                assert_eq!(answer.body["accepted"].as_u64().unwrap() + answer.body["duplicates"].as_u64().unwrap(), 5, "{}", answer.body);
                acknowledged += 1;
                k += 1;
            }
            503 => {
                assert!(killed, "503 with the server up: {}", answer.body);
                refused.push((answer.retry_after.clone(), answer.body["error"].clone()));
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            other => panic!("{other}: {}", answer.body),
        }
        if !killed && acknowledged == 20 {
            clickhouse_server.kill();
            killed = true;
        }
        if killed && !restarted && refused.len() >= 5 {
            clickhouse_server.restart();
            restarted = true;
        }
    }
    assert!(refused.iter().all(|(retry, error)| retry.is_some() && error == "store_unavailable"), "{refused:?}");
    assert!(server.get("/healthz").await.0 == 200, "the collector answers health checks after the outage");

    let url = clickhouse_server.url();
    // Durable at the 2xx: in `incoming`, each id of an acknowledged batch.
    let arrived = test_server::rows(&url, &database, "SELECT uniqExact(id) AS ids FROM incoming WHERE site = 'demo'").await;
    assert_eq!(arrived[0]["ids"].as_u64(), Some(k * 5), "every acknowledged event is stored");
    // The sessionizer went on after the outage: each event once, a session per visit.
    let made = "SELECT (SELECT count() FROM events FINAL WHERE site = 'demo') AS events,
                       (SELECT uniqExact(id) FROM events FINAL WHERE site = 'demo') AS ids,
                       count() AS sessions, sum(pageviews) AS pageviews
                FROM sessions FINAL WHERE deleted = 0 AND site = 'demo'";
    let expected = serde_json::json!({"events": k * 5, "ids": k * 5, "sessions": k, "pageviews": k * 5});
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut seen = test_server::rows(&url, &database, made).await.remove(0);
    while seen != expected && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        seen = test_server::rows(&url, &database, made).await.remove(0);
    }
    assert_eq!(seen, expected);
    server.shutdown().await;
}
