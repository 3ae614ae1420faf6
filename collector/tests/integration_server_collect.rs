//! `POST /api/server/collect` (backends, offline stores) over real HTTP
//! against a real SQLite file.

mod support;

use std::path::Path;
use std::sync::Arc;

use serde_json::{Value, json};
use support::*;
use waymark_collector::clock::SystemClock;

async fn post_server(server: &Running, secret: Option<&str>, body: &Value) -> Answer {
    let mut request = server.request("/api/server/collect").header("content-type", "application/json").body(body.to_string());
    if let Some(secret) = secret {
        request = request.header("authorization", format!("Bearer {secret}"));
    }
    send(request).await
}

fn server_batch(events: Vec<Value>) -> Value {
    json!({"site": "shop", "events": events})
}

/// A purchase recorded by the shop's backend for the visitor at `ip`.
fn purchase(n: u64, ts: i64, ip: &str, user_agent: &str) -> Value {
    json!({"id": id(n), "name": "purchase", "ts": ts, "url": "https://shop.example/checkout",
           "ip": ip, "user_agent": user_agent, "props": {"total": 42.5}})
}

#[tokio::test]
async fn the_secret_key_is_required_and_checked() {
    let mut server = start().await;
    let body = server_batch(vec![purchase(1, now_ms(), "203.0.113.7", FIREFOX)]);
    for secret in [None, Some("wrong-wrong-wrong-wrong")] {
        let answer = post_server(&server, secret, &body).await;
        assert_eq!((answer.status, answer.body["error"].as_str()), (401, Some("bad_secret")));
        assert!(answer.body["message"].as_str().unwrap().contains("Authorization: Bearer"));
    }
    let mut unknown = body.clone();
    unknown["site"] = json!("nope");
    let answer = post_server(&server, Some(SECRET), &unknown).await;
    assert_eq!((answer.status, answer.body["error"].as_str()), (404, Some("unknown_site")), "as on every route");
    // The demo site has no secret: its server endpoint is closed.
    let mut demo = body.clone();
    demo["site"] = json!("demo");
    assert_eq!(post_server(&server, Some(SECRET), &demo).await.status, 401);
    assert_eq!(post_server(&server, Some(SECRET), &body).await.body["accepted"], 1);
    server.shutdown().await;
}

#[tokio::test]
async fn a_server_event_joins_the_browsers_cookieless_visitor_and_session() {
    let mut server = start().await;
    let now = now_ms();
    let browser = post_from_shop_page(&server, &batch("shop", now, vec![cookieless(1, now - MIN, "/cart")])).await;
    assert_eq!(browser.body["accepted"], 1);
    // The backend reports the purchase with the address and browser it saw.
    let answer = post_server(&server, Some(SECRET), &server_batch(vec![purchase(2, now, "127.0.0.1", FIREFOX)])).await;
    assert_eq!(answer.body["accepted"], 1, "{}", answer.body);
    server.shutdown().await;
    let rows = server.query("SELECT name, visitor_id, session_id, browser FROM events ORDER BY ts");
    assert_eq!(rows[0][1], rows[1][1], "same visitor");
    assert_eq!(rows[0][2], rows[1][2], "same session");
    assert_eq!(rows[1][3], json!("Firefox"), "enriched from the stated user agent");
    assert_eq!(server.query("SELECT events, bounce FROM sessions"), vec![vec![json!(2), json!(0)]]);
}

#[tokio::test]
async fn past_events_within_the_backfill_window_are_accepted() {
    let mut server = start().await;
    let now = now_ms();
    let day = 24 * 60 * MIN;
    let mut known_visitor = purchase(3, now - 2 * day, "", "");
    known_visitor.as_object_mut().unwrap().retain(|k, _| k != "ip" && k != "user_agent");
    known_visitor["visitor_id"] = json!(visitor(9));
    let answer = post_server(
        &server,
        Some(SECRET),
        &server_batch(vec![
            purchase(1, now - 10 * day, "203.0.113.7", FIREFOX),
            purchase(2, now - 40 * day, "203.0.113.7", FIREFOX),
            known_visitor,
            purchase(4, now, "not-an-ip", FIREFOX),
            json!({"id": id(5), "name": "refund", "ts": now, "url": "https://shop.example/"}),
        ]),
    )
    .await;
    let reasons: Vec<_> = answer.body["results"].as_array().unwrap().iter().map(|r| r["reason"].as_str().unwrap_or("ok")).collect();
    assert_eq!(reasons, ["ok", "timestamp_too_old", "ok", "ip_invalid", "visitor_unknown"]);
    // Browsers may not backfill that far.
    let browser = post_from_shop_page(&server, &batch("shop", now, vec![cookieless(6, now - 10 * day, "/")])).await;
    assert_eq!(browser.body["results"][0]["reason"], "timestamp_too_old");
    server.shutdown().await;
    assert_eq!(server.query("SELECT count(*) FROM events"), vec![vec![json!(2)]]);
}

#[tokio::test]
async fn a_backend_batch_whose_every_event_is_rejected_is_a_400_and_a_mixed_one_a_200() {
    let mut server = start().await;
    let now = now_ms();
    let day = 24 * 60 * MIN;
    let too_old = purchase(1, now - 40 * day, "203.0.113.7", FIREFOX);
    let bad_ip = purchase(2, now, "not-an-ip", FIREFOX);
    let answer = post_server(&server, Some(SECRET), &server_batch(vec![too_old.clone(), bad_ip.clone()])).await;
    assert_eq!(answer.status, 400, "{}", answer.body);
    let reasons: Vec<_> = answer.body["results"].as_array().unwrap().iter().map(|r| r["reason"].as_str().unwrap()).collect();
    assert_eq!(reasons, ["timestamp_too_old", "ip_invalid"]);
    let answer = post_server(&server, Some(SECRET), &server_batch(vec![too_old, purchase(3, now, "203.0.113.7", FIREFOX)])).await;
    assert_eq!((answer.status, answer.body["accepted"].as_u64(), answer.body["rejected"].as_u64()), (200, Some(1), Some(1)));
    server.shutdown().await;
}

#[tokio::test]
async fn the_browser_endpoint_ignores_a_stated_address() {
    let mut server = start().await;
    let now = now_ms();
    let mut event = cookieless(1, now, "/");
    event["ip"] = json!("8.8.8.8");
    event["user_agent"] = json!(GOOGLEBOT);
    let answer = server.post_batch(&batch("demo", now, vec![event])).await;
    assert_eq!(answer.body["accepted"], 1, "the request's own user agent counts, not the stated one");
    server.shutdown().await;
}

#[tokio::test]
async fn the_country_comes_from_the_address_which_is_then_dropped() {
    let mut config = config();
    config.geoip_db = Some(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/node_modules/@ip-location-db/geo-whois-asn-country-mmdb/geo-whois-asn-country.mmdb"),
    );
    let mut server = start_with(config, Arc::new(SystemClock)).await;
    let now = now_ms();
    let answer = post_server(&server, Some(SECRET), &server_batch(vec![purchase(1, now, "8.8.8.8", FIREFOX)])).await;
    assert_eq!(answer.body["accepted"], 1);
    server.shutdown().await;
    assert_eq!(server.query("SELECT country FROM events"), vec![vec![json!("US")]]);
    assert_eq!(server.query("SELECT country FROM sessions"), vec![vec![json!("US")]]);
    let file = std::fs::read(&server.db).unwrap();
    assert!(!file.windows(7).any(|w| w == b"8.8.8.8"), "the address is not in the database");
}

#[tokio::test]
async fn a_backend_is_held_to_its_sites_rate_and_a_guesser_to_its_address() {
    let mut config = config();
    config.limits.per_ip_per_second = 1;
    config.limits.per_ip_burst = 2;
    let mut server = start_with(config, Arc::new(SystemClock)).await;
    let now = now_ms();
    for n in 0..5 {
        let answer = post_server(&server, Some(SECRET), &server_batch(vec![purchase(n, now, "203.0.113.7", FIREFOX)])).await;
        assert_eq!(answer.status, 200, "request {n} from the backend: {}", answer.body);
    }
    let guesses: Vec<u16> = {
        let mut statuses = Vec::new();
        for _ in 0..3 {
            statuses.push(post_server(&server, Some("guess-guess-guess-guess"), &server_batch(vec![])).await.status);
        }
        statuses
    };
    assert_eq!(guesses, [401, 401, 429]);
    server.shutdown().await;
}

/// A backend that sends three days of one cookieless person's purchases at
/// once (an offline store catching up) keys each day apart: nothing links
/// the days, though the events arrive together, today. A visit over a
/// midnight still joins (yesterday's key).
#[tokio::test]
async fn a_backfill_of_three_days_counts_a_cookieless_person_once_per_day() {
    let today = MIDNIGHT + 12 * 60 * MIN;
    let (mut server, _clock) = start_at(today).await;
    let ip = "203.0.113.7";
    let days_ago = |d: i64, minutes: i64| today - d * 24 * 60 * MIN + minutes * MIN;
    let events = vec![
        purchase(1, days_ago(3, 0), ip, FIREFOX),
        purchase(2, days_ago(3, 60), ip, FIREFOX),
        // 23:55 and 00:05 of the night two days ago: one visit.
        purchase(3, days_ago(2, -12 * 60 - 5), ip, FIREFOX),
        purchase(4, days_ago(2, -12 * 60 + 5), ip, FIREFOX),
        purchase(5, days_ago(1, 0), ip, FIREFOX),
        purchase(6, days_ago(2, 0), ip, FIREFOX),
    ];
    let answer = post_server(&server, Some(SECRET), &server_batch(events)).await;
    assert_eq!(answer.body["accepted"], 6, "{}", answer.body);
    let rows = server.query("SELECT id, visitor_id FROM events ORDER BY ts");
    let visitor_of = |n: u64| rows.iter().find(|r| r[0] == json!(id(n))).unwrap()[1].clone();
    assert_eq!(visitor_of(1), visitor_of(2), "one key within a day");
    assert_eq!(visitor_of(3), visitor_of(4), "a visit over midnight keeps the day before's key");
    assert_eq!(visitor_of(1), visitor_of(3), "23:55 is the same day");
    let distinct: std::collections::HashSet<String> = [1, 6, 5].iter().map(|&n| visitor_of(n).to_string()).collect();
    assert_eq!(distinct.len(), 3, "three days, three keys: {rows:?}");
    // 12:00 and 13:00 of the first day, its midnight, the next two noons.
    let sessions = server.query("SELECT count(*) FROM sessions");
    assert_eq!(sessions, vec![vec![json!(5)]]);
    server.shutdown().await;
}
