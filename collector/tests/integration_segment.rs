//! `POST /v1/*`, the Segment-compatible tracking API, over real HTTP
//! against a real SQLite file: what each call is stored as, the write key,
//! the limits, and how these events join the SDK's visitors and sessions.

mod support;

use std::sync::Arc;

use serde_json::{Value, json};
use support::*;
use waymark_collector::clock::SystemClock;

/// `Authorization: Basic base64("<write key>:")`, as the clients send it.
fn basic(key: &str) -> String {
    use base64::Engine;
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{key}:")))
}

async fn post_call(server: &Running, call: &str, body: &Value) -> Answer {
    let request = server.request(&format!("/v1/{call}")).header("content-type", "application/json");
    send(request.header("authorization", basic(WRITE_KEY)).body(body.to_string())).await
}

/// An ISO 8601 time, as the clients write it.
fn iso(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).unwrap().to_string()
}

fn track(message_id: &str, event: &str) -> Value {
    json!({"type": "track", "messageId": message_id, "anonymousId": visitor(1), "event": event,
           "timestamp": iso(now_ms()), "properties": {"plan": "pro"}})
}

fn reasons(answer: &Answer) -> Vec<String> {
    answer.body["results"].as_array().unwrap().iter().map(|r| r["reason"].as_str().unwrap_or("ok").to_owned()).collect()
}

#[tokio::test]
async fn each_call_is_stored_as_its_mapping_says() {
    let mut server = start().await;
    let now = now_ms();
    let calls = [
        (
            "track",
            json!({"messageId": "m-track", "userId": "user-7", "anonymousId": "anon-1", "event": "Order Completed",
            "timestamp": iso(now - 4 * MIN), "properties": {"total": 42.5, "cart": {"items": 2}},
            "context": {"campaign": {"source": "newsletter", "medium": "email", "name": "spring"}}}),
        ),
        (
            "page",
            json!({"messageId": "m-page", "anonymousId": "anon-1", "name": "Pricing", "timestamp": iso(now - 3 * MIN),
            "context": {"page": {"url": "https://shop.example/pricing", "referrer": "https://news.example/", "title": "Pricing | Shop"}}}),
        ),
        (
            "screen",
            json!({"messageId": "m-screen", "anonymousId": "anon-1", "name": "Order Details", "timestamp": iso(now - 2 * MIN),
            "context": {"app": {"namespace": "com.example.shop"}}}),
        ),
        (
            "identify",
            json!({"messageId": "m-identify", "userId": "user-7", "anonymousId": "anon-1", "timestamp": iso(now - MIN),
            "traits": {"plan": "pro", "address": {"city": "Lyon"}}}),
        ),
        ("alias", json!({"messageId": "m-alias", "previousId": "anon-1", "userId": "user-7", "timestamp": iso(now)})),
    ];
    for (call, body) in &calls {
        let answer = post_call(&server, call, body).await;
        assert_eq!((answer.status, answer.body["accepted"].as_u64()), (200, Some(1)), "{call}: {}", answer.body);
    }
    server.shutdown().await;
    let rows = server.query(
        "SELECT name, path, title, referrer, user_id, props, utm_source, utm_campaign, visitor_id, session_id FROM events ORDER BY ts",
    );
    let column = |i: usize| rows.iter().map(|r| r[i].clone()).collect::<Vec<_>>();
    assert_eq!(column(0), [json!("Order Completed"), json!("$pageview"), json!("$pageview"), json!("$identify"), json!("$identify")]);
    assert_eq!(column(1), [json!("/"), json!("/pricing"), json!("/Order%20Details"), json!("/"), json!("/")]);
    assert_eq!(rows[1][2..4], [json!("Pricing | Shop"), json!("https://news.example/")]);
    assert_eq!(rows[2][2], json!("Order Details"));
    assert_eq!(column(4), [json!("user-7"), Value::Null, Value::Null, json!("user-7"), json!("user-7")]);
    let props: Vec<Value> = column(5).iter().map(|p| serde_json::from_str(p.as_str().unwrap()).unwrap()).collect();
    assert_eq!(props[0], json!({"total": 42.5, "cart.items": 2.0}));
    assert_eq!(props[1], json!({"name": "Pricing"}));
    assert_eq!(props[3], json!({"plan": "pro", "address.city": "Lyon"}));
    assert_eq!(props[4], json!({"previous_id": "anon-1"}));
    assert_eq!(rows[0][6..8], [json!("newsletter"), json!("spring")], "context.campaign is the UTM");
    assert!(column(8).iter().all(|v| v == &rows[0][8]), "one visitor, anon-1 (and its alias): {rows:?}");
    assert!(column(9).iter().all(|s| s == &rows[0][9]), "one session: {rows:?}");
    assert_eq!(
        server.query("SELECT pageviews, events, entry_path, exit_path, user_id FROM sessions"),
        vec![vec![json!(2), json!(5), json!("/pricing"), json!("/Order%20Details"), json!("user-7")]]
    );
}

#[tokio::test]
async fn a_resent_message_is_counted_once() {
    let mut server = start().await;
    let batch = json!({"batch": [track("ajs-42", "Signed Up"), track("0F8FAD5B-D9CB-469F-A165-70867728950E", "Upgraded")]});
    let first = post_call(&server, "batch", &batch).await;
    assert_eq!(first.body["accepted"], 2, "{}", first.body);
    let again = post_call(&server, "batch", &batch).await;
    assert_eq!((again.status, again.body["duplicates"].as_u64()), (200, Some(2)), "{}", again.body);
    server.shutdown().await;
    let ids = server.query("SELECT id FROM events ORDER BY name");
    assert_eq!(ids.len(), 2);
    assert_eq!(ids[1][0], json!("0f8fad5b-d9cb-469f-a165-70867728950e"), "a UUID message id is the event id");
}

#[tokio::test]
async fn a_mixed_batch_keeps_the_good_messages_and_says_why_each_other_was_refused() {
    let mut server = start().await;
    let too_many: serde_json::Map<String, Value> = (0..70).map(|i| (format!("k{i}"), json!(i))).collect();
    let mut nested = track("m-nested", "Too Much");
    nested["properties"] = json!({"deep": too_many});
    let mut long_value = track("m-long", "Long");
    long_value["properties"] = json!({"note": {"text": "x".repeat(2000)}});
    let mut nobody = track("m-nobody", "Nobody");
    nobody.as_object_mut().unwrap().remove("anonymousId");
    let batch = json!({"batch": [
        track("m-good", "Kept"), nested, long_value, nobody,
        {"type": "group", "messageId": "m-group", "userId": "u", "groupId": "acme"},
        {"type": "track", "messageId": "m-big", "userId": "u", "event": "Big", "properties": {"blob": "y".repeat(40 * 1024)}},
    ]});
    let answer = post_call(&server, "batch", &batch).await;
    assert_eq!(answer.status, 200);
    assert_eq!(
        reasons(&answer),
        ["ok", "too_many_props", "prop_value_too_long", "identity_missing", "group_unsupported", "event_too_large"]
    );
    let message = answer.body["results"][3]["message"].as_str().unwrap();
    assert!(message.contains("anonymousId") && message.contains("userId"), "{message}");
    server.shutdown().await;
    assert_eq!(server.query("SELECT name FROM events"), vec![vec![json!("Kept")]]);
}

#[tokio::test]
async fn the_write_key_comes_as_the_basic_user_name_or_in_the_body() {
    let mut server = start().await;
    let body = json!({"batch": [track("m-1", "Signed Up")]});
    for authorization in [None, Some(basic("wk-wrong-0123456789abcdef")), Some("Bearer wk-shop-0123456789abcdef".to_owned())] {
        let mut request = server.request("/v1/batch").header("content-type", "application/json");
        if let Some(authorization) = authorization {
            request = request.header("authorization", authorization);
        }
        let answer = send(request.body(body.to_string())).await;
        assert_eq!((answer.status, answer.body["error"].as_str()), (401, Some("bad_write_key")), "{}", answer.body);
        assert!(answer.body["message"].as_str().unwrap().contains("write_key"));
    }
    let mut in_body = body.clone();
    in_body["writeKey"] = json!(WRITE_KEY);
    let answer = send(server.request("/v1/batch").header("content-type", "application/json").body(in_body.to_string())).await;
    assert_eq!((answer.status, answer.body["accepted"].as_u64()), (200, Some(1)), "{}", answer.body);
    server.shutdown().await;
}

#[tokio::test]
async fn unreadable_bodies_and_bodies_over_the_limits_are_refused_whole() {
    let mut server = start().await;
    let request = |call: &str, body: String| {
        server
            .request(&format!("/v1/{call}"))
            .header("content-type", "application/json")
            .header("authorization", basic(WRITE_KEY))
            .body(body)
    };
    let answer = send(request("batch", "{\"batch\": [".into())).await;
    assert_eq!((answer.status, answer.body["error"].as_str()), (400, Some("malformed")));
    let padding = "p".repeat(10 * 1024);
    let messages: Vec<Value> = (0..60)
        .map(|n| {
            let mut m = track(&format!("m-{n}"), "Padded");
            m["properties"] = json!({"padding": padding});
            m
        })
        .collect();
    let answer = send(request("batch", json!({"batch": messages}).to_string())).await;
    assert_eq!((answer.status, answer.body["error"].as_str()), (413, Some("body_too_large")), "600 KB");
    assert!(answer.body["message"].as_str().unwrap().contains(&(500 * 1024).to_string()));
    let mut big = track("m-big", "Big");
    big["properties"] = json!({"blob": "y".repeat(33 * 1024)});
    let answer = send(request("track", big.to_string())).await;
    assert_eq!(answer.status, 413, "one message over 32 KB");
    let answer = send(request("collect", "{}".into())).await;
    assert_eq!((answer.status, answer.body["error"].as_str()), (404, Some("unknown_call")));
    server.shutdown().await;
    assert_eq!(server.query("SELECT count(*) FROM events"), vec![vec![json!(0)]]);
}

#[tokio::test]
async fn a_segment_message_with_the_sdks_visitor_id_joins_its_session() {
    let mut server = start().await;
    let now = now_ms();
    let sdk = post_from_shop_page(&server, &batch("shop", now, vec![pageview(1, now - 5 * MIN, "/cart")])).await;
    assert_eq!(sdk.body["accepted"], 1);
    // The shop's backend reports the order for the visitor the page had.
    let mut order = track("m-order", "Order Completed");
    order["timestamp"] = json!(iso(now));
    let answer = post_call(&server, "track", &order).await;
    assert_eq!(answer.body["accepted"], 1, "{}", answer.body);
    server.shutdown().await;
    assert_eq!(server.query("SELECT count(DISTINCT visitor_id), count(DISTINCT session_id) FROM events"), vec![vec![json!(1), json!(1)]]);
    assert_eq!(server.query("SELECT events, bounce FROM sessions"), vec![vec![json!(2), json!(0)]]);
}

#[tokio::test]
async fn a_server_states_the_visitors_browser_and_its_clock_is_corrected_by_sent_at() {
    let mut server = start().await;
    let now = now_ms();
    // The sender's clock runs an hour behind; its event happened a minute before it sent.
    let skew = 60 * MIN;
    let mut message = track("m-1", "Played");
    message["timestamp"] = json!(iso(now - skew - MIN));
    message["context"] = json!({"userAgent": FIREFOX, "ip": "203.0.113.7"});
    let answer = post_call(&server, "batch", &json!({"batch": [message], "sentAt": iso(now - skew)})).await;
    assert_eq!(answer.body["accepted"], 1, "{}", answer.body);
    server.shutdown().await;
    let rows = server.query("SELECT ts, browser FROM events");
    let ts = rows[0][0].as_i64().unwrap();
    assert!((now - MIN - ts).abs() < 5_000, "stored {} ms from a minute ago", now - MIN - ts);
    assert_eq!(rows[0][1], json!("Firefox"));
}

#[tokio::test]
async fn a_browser_is_held_to_the_sites_origins_and_its_own_request() {
    let mut server = start().await;
    let page = |origin: &'static str| {
        let mut message = track("m-page", "Clicked");
        message["writeKey"] = json!(WRITE_KEY);
        message["context"] = json!({"userAgent": GOOGLEBOT, "ip": "8.8.8.8"});
        server
            .request("/v1/t")
            .header("content-type", "text/plain")
            .header("origin", origin)
            .header("user-agent", FIREFOX)
            .body(message.to_string())
    };
    let refused = send(page("https://evil.example")).await;
    assert_eq!((refused.status, refused.body["error"].as_str()), (403, Some("origin_not_allowed")));
    let answer = send(page("https://shop.example")).await;
    assert_eq!(answer.body["accepted"], 1, "the request's own user agent counts, not the stated one: {}", answer.body);
    // analytics.js's preflight for `Authorization: Basic`.
    let preflight = reqwest::Client::new()
        .request(reqwest::Method::OPTIONS, format!("{}/v1/t", server.url))
        .header("origin", "https://shop.example")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "authorization,content-type")
        .send()
        .await
        .unwrap();
    let allowed = preflight.headers().get("access-control-allow-headers").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    assert!(allowed.contains("authorization"), "{allowed:?}");
    server.shutdown().await;
    assert_eq!(server.query("SELECT browser FROM events"), vec![vec![json!("Firefox")]]);
}

#[tokio::test]
async fn a_sender_over_its_sites_rate_is_told_when_to_retry() {
    let mut config = config();
    config.limits.per_site_per_second = 1;
    config.limits.per_site_burst = 1;
    let mut server = start_with(config, Arc::new(SystemClock)).await;
    let body = json!({"batch": [track("m-1", "Signed Up")]});
    assert_eq!(post_call(&server, "batch", &body).await.status, 200);
    let limited = post_call(&server, "batch", &body).await;
    assert_eq!((limited.status, limited.body["error"].as_str()), (429, Some("rate_limited")));
    assert!(limited.retry_after.is_some_and(|s| s.parse::<u64>().unwrap() >= 1));
    server.shutdown().await;
}
