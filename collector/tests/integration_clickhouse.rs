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
