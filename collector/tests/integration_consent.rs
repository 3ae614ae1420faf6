//! `GET /api/query/consent` over real HTTP: consent decisions posted to
//! `/api/collect` as the SDK sends them (a grant with ids, a denial made
//! before any grant without ids, a withdrawal with the ids it withdraws),
//! read back as the site owner's consent log, as JSON and as CSV.

mod support;

use std::sync::Arc;

use serde_json::{Value, json};
use support::*;
use waymark_collector::clock::ManualClock;

const TOKEN: &str = "test-api-token-0123456789";
/// 2025-11-25 10:00 UTC.
const T: i64 = MIDNIGHT + 10 * 60 * MIN;
const DAY: &str = "from=2025-11-25&to=2025-11-25";

fn decision(n: u64, ts: i64, ids: bool, path: &str, props: Value) -> Value {
    let mut event = json!({"id": id(n), "name": "$consent", "ts": ts, "url": format!("https://shop.example{path}"), "props": props});
    if ids {
        event["session_id"] = json!(session(1));
        event["visitor_id"] = json!(visitor(1));
    }
    event
}

async fn started() -> Running {
    let mut config = config();
    config.dashboard.api_tokens = vec![TOKEN.into()];
    let server = start_with(config, Arc::new(ManualClock::at(T + 10 * MIN))).await;
    let events = vec![
        pageview(1, T, "/pricing"),
        decision(2, T + 1_000, true, "/pricing", json!({"analytics": "granted", "version": "v2"})),
        decision(3, T + 2 * MIN, false, "/", json!({"analytics": "denied", "version": "v2"})),
        decision(4, T + 5 * MIN, true, "/account", json!({"analytics": "denied", "version": "v3"})),
    ];
    let answer = server.post_batch(&batch("demo", T + 10 * MIN, events)).await;
    assert_eq!(answer.body["accepted"], 4, "{}", answer.body);
    server
}

async fn get(server: &Running, path: &str, token: Option<&str>) -> reqwest::Response {
    let request = reqwest::Client::new().get(format!("{}{path}", server.url));
    let request = match token {
        Some(token) => request.bearer_auth(token),
        None => request,
    };
    request.send().await.unwrap()
}

#[tokio::test]
async fn the_consent_log_shows_when_and_how_each_visitor_decided_newest_first() {
    let mut server = started().await;
    let r = get(&server, &format!("/api/query/consent?site=demo&{DAY}"), Some(TOKEN)).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!((body["total"].as_i64(), body["page"].as_i64(), body["per_page"].as_i64()), (Some(3), Some(0), Some(100)));
    let records = body["records"].as_array().unwrap();
    let row = |r: &Value| {
        (r["id"].as_str().unwrap().to_owned(), r["ts"].as_i64().unwrap(), r["decisions"].clone(), r["version"].clone(), r["path"].clone(), r["cookieless"].clone())
    };
    assert_eq!(
        records.iter().map(row).collect::<Vec<_>>(),
        vec![
            (id(4), T + 5 * MIN, json!({"analytics": "denied"}), json!("v3"), json!("/account"), json!(false)),
            (id(3), T + 2 * MIN, json!({"analytics": "denied"}), json!("v2"), json!("/"), json!(true)),
            (id(2), T + 1_000, json!({"analytics": "granted"}), json!("v2"), json!("/pricing"), json!(false)),
        ]
    );
    // The grant and its withdrawal name the visitor and the session of the
    // pageview; the denial without ids has the collector's daily key.
    let (withdrawal, denial, grant) = (&records[0], &records[1], &records[2]);
    assert_eq!((grant["visitor_id"].as_str(), withdrawal["visitor_id"].as_str()), (Some(visitor(1).as_str()), Some(visitor(1).as_str())));
    let pageview_session = server.query(&format!("SELECT session_id FROM events WHERE id = '{}'", id(1)))[0][0].clone();
    assert_eq!(grant["session_id"], pageview_session);
    assert_eq!(grant["url"], "https://shop.example/pricing");
    assert_eq!(grant["props"], json!({"analytics": "granted", "version": "v2"}));
    let daily_key = denial["visitor_id"].as_str().unwrap();
    assert!(daily_key.len() == 36 && daily_key != visitor(1), "{daily_key}");

    // One visitor: their grant and their withdrawal.
    let r = get(&server, &format!("/api/query/consent?site=demo&{DAY}&visitor={}", visitor(1)), Some(TOKEN)).await;
    let body: Value = r.json().await.unwrap();
    let ids: Vec<&str> = body["records"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!((body["total"].as_i64(), ids), (Some(2), vec![id(4).as_str(), id(2).as_str()]));
    // The day before holds nothing.
    let r = get(&server, "/api/query/consent?site=demo&from=2025-11-24&to=2025-11-24", Some(TOKEN)).await;
    assert_eq!(r.json::<Value>().await.unwrap()["total"], 0);
    server.shutdown().await;
}

#[tokio::test]
async fn the_consent_log_downloads_as_csv_with_the_same_rows() {
    let mut server = started().await;
    let r = get(&server, &format!("/api/query/consent?site=demo&{DAY}&visitor={}&format=csv", visitor(1)), Some(TOKEN)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
    assert_eq!(r.headers()["content-disposition"], "attachment; filename=\"waymark-consent.csv\"");
    let csv = r.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "ts,time,visitor_id,session_id,user_id,cookieless,decisions,version,path,url,props,id");
    assert_eq!(lines.len(), 3, "{csv}");
    let session = server.query(&format!("SELECT session_id FROM events WHERE id = '{}'", id(1)))[0][0].as_str().unwrap().to_owned();
    let v = visitor(1);
    assert_eq!(
        lines[2],
        format!(
            "{},2025-11-25T10:00:01Z,{v},{session},,0,analytics=granted,v2,/pricing,https://shop.example/pricing,\"{{\"\"analytics\"\":\"\"granted\"\",\"\"version\"\":\"\"v2\"\"}}\",{}",
            T + 1_000,
            id(2)
        )
    );
    assert!(lines[1].starts_with(&format!("{},2025-11-25T10:05:00Z,{v},", T + 5 * MIN)) && lines[1].contains(",analytics=denied,v3,/account,"), "{csv}");
    server.shutdown().await;
}

#[tokio::test]
async fn the_consent_log_needs_a_token_and_a_known_site() {
    let mut server = started().await;
    assert_eq!(get(&server, &format!("/api/query/consent?site=demo&{DAY}"), None).await.status(), 401);
    assert_eq!(get(&server, &format!("/api/query/consent?site=nowhere&{DAY}"), Some(TOKEN)).await.status(), 404);
    assert_eq!(get(&server, "/api/query/consent?site=demo&from=2025-11-25", Some(TOKEN)).await.status(), 400);
    server.shutdown().await;
}
