//! `POST /api/collect` (browsers) over real HTTP against a real SQLite file.

mod support;

use std::io::Write;

use serde_json::json;
use support::*;
use waymark_collector::clock::{Clock, ManualClock};

#[tokio::test]
async fn a_mixed_batch_keeps_its_valid_events_and_names_the_invalid_ones() {
    let mut server = start().await;
    let now = now_ms();
    let mut bad_id = pageview(2, now, "/");
    bad_id["id"] = json!("not-a-uuid");
    let mut no_name = pageview(3, now, "/");
    no_name["name"] = json!("");
    let mut bad_url = pageview(4, now, "/");
    bad_url["url"] = json!("javascript:alert(1)");
    let mut bad_prop = pageview(5, now, "/");
    bad_prop["props"] = json!({"nested": {"no": 1}});
    let answer =
        server.post_batch(&batch("demo", now, vec![pageview(1, now, "/pricing?x=1"), bad_id, no_name, bad_url, bad_prop])).await;
    assert_eq!(answer.status, 200);
    assert_eq!((answer.body["accepted"].as_u64(), answer.body["rejected"].as_u64()), (Some(1), Some(4)));
    let reasons: Vec<_> = answer.body["results"].as_array().unwrap().iter().map(|r| r["reason"].as_str().unwrap_or("")).collect();
    assert_eq!(reasons, ["", "id_invalid", "name_empty", "url_invalid", "event_malformed"]);
    assert_eq!(answer.body["results"][2]["message"], "event 2: `name` is empty");
    // A property that is not a string, number or boolean: that event alone
    // is refused, with its id and where the reader stopped.
    assert_eq!(answer.body["results"][4]["id"], json!(id(5)));
    assert!(answer.body["results"][4]["message"].as_str().unwrap().starts_with("event 4: not an event:"));

    let db = server.shutdown().await;
    let rows = query(&db, "SELECT id, path, browser, device, source FROM events");
    assert_eq!(rows, vec![vec![json!(id(1)), json!("/pricing"), json!("Firefox"), json!("desktop"), json!("(direct)")]]);
}

#[tokio::test]
async fn a_batch_whose_every_event_is_rejected_is_a_400_with_each_events_reason() {
    let mut server = start().await;
    let now = now_ms();
    let mut no_name = pageview(1, now, "/");
    no_name["name"] = json!("");
    let mut bad_id = pageview(2, now, "/");
    bad_id["id"] = json!("not-a-uuid");
    let answer = server.post_batch(&batch("demo", now, vec![no_name, bad_id])).await;
    assert_eq!(answer.status, 400);
    assert_eq!((answer.body["accepted"].as_u64(), answer.body["rejected"].as_u64()), (Some(0), Some(2)));
    let reasons: Vec<_> = answer.body["results"].as_array().unwrap().iter().map(|r| r["reason"].as_str().unwrap()).collect();
    assert_eq!(reasons, ["name_empty", "id_invalid"]);
    assert_eq!(answer.body["results"][0]["message"], "event 0: `name` is empty");
    server.shutdown().await;
    assert_eq!(server.query("SELECT count(*) FROM events"), vec![vec![json!(0)]]);
}

#[tokio::test]
async fn an_empty_batch_is_answered_200_with_nothing_counted() {
    let mut server = start().await;
    let answer = server.post_batch(&batch("demo", now_ms(), vec![])).await;
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.body,
        json!({"accepted": 0, "duplicates": 0, "rejected": 0, "filtered": 0, "results": [],
               "session": {"timeout_ms": 30 * MIN, "max_ms": 24 * 60 * MIN}}),
        "the answer carries the site's session rule"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_resent_event_is_acknowledged_as_a_duplicate_and_stored_once() {
    let mut server = start().await;
    let now = now_ms();
    let body = batch("demo", now, vec![pageview(1, now, "/")]);
    assert_eq!(server.post_batch(&body).await.body["accepted"], 1);
    let again = server.post_batch(&body).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.body["duplicates"], 1);
    assert_eq!(again.body["results"][0]["outcome"], "duplicate");
    // The same id twice in one batch is also stored once.
    let twice = server.post_batch(&batch("demo", now, vec![pageview(2, now, "/"), pageview(2, now, "/")])).await;
    assert_eq!((twice.body["accepted"].as_u64(), twice.body["duplicates"].as_u64()), (Some(1), Some(1)));
    server.shutdown().await;
    assert_eq!(query(&server.db, "SELECT count(*) FROM events"), vec![vec![json!(2)]]);
}

#[tokio::test]
async fn malformed_bodies_and_unknown_sites_are_refused_with_a_reason() {
    let mut server = start().await;
    let answer = server.post("{not json").await;
    assert_eq!((answer.status, answer.body["error"].as_str()), (400, Some("malformed")));
    let answer = server.post(json!({"site": "demo", "events": []}).to_string()).await;
    assert_eq!(answer.status, 400);
    assert!(answer.body["message"].as_str().unwrap().contains("missing field `sent_at`"), "{}", answer.body);
    let answer = server.post(b"{\"site\":\"d\xffmo\"}".to_vec()).await;
    assert_eq!((answer.status, answer.body["error"].as_str()), (400, Some("utf8_invalid")));
    // The same status and code as on every other route that names a site.
    let answer = server.post(json!({"site": "nope", "sent_at": 0, "events": []}).to_string()).await;
    assert_eq!((answer.status, answer.body["error"].as_str()), (404, Some("unknown_site")));
    assert!(answer.body["message"].as_str().unwrap().contains("\"nope\""), "{}", answer.body);
    // Still serving.
    let now = now_ms();
    assert_eq!(server.post_batch(&batch("demo", now, vec![pageview(1, now, "/")])).await.status, 200);
    server.shutdown().await;
}

#[tokio::test]
async fn only_text_and_json_bodies_are_accepted() {
    let mut server = start().await;
    let now = now_ms();
    let body = batch("demo", now, vec![pageview(1, now, "/")]).to_string();
    let with_type = |t: &str| server.request("/api/collect").header("user-agent", FIREFOX).header("content-type", t).body(body.clone());
    let answer = send(with_type("application/x-www-form-urlencoded")).await;
    assert_eq!((answer.status, answer.body["error"].as_str()), (415, Some("unsupported_content_type")));
    assert!(answer.body["message"].as_str().unwrap().contains("text/plain"));
    assert_eq!(send(with_type("application/json")).await.status, 200);
    assert_eq!(send(with_type("text/plain;charset=UTF-8")).await.body["duplicates"], 1);
    let answer = send(with_type("text/plain").header("content-encoding", "br")).await;
    assert_eq!((answer.status, answer.body["error"].as_str()), (415, Some("unsupported_content_encoding")));
    server.shutdown().await;
}

#[tokio::test]
async fn a_gzipped_batch_is_read_like_a_plain_one() {
    let mut server = start().await;
    let now = now_ms();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(batch("demo", now, vec![pageview(1, now, "/")]).to_string().as_bytes()).unwrap();
    let request = server.request("/api/collect").header("content-type", "text/plain").header("content-encoding", "gzip");
    let answer = send(request.header("user-agent", FIREFOX).body(gz.finish().unwrap())).await;
    assert_eq!((answer.status, answer.body["accepted"].as_u64()), (200, Some(1)));
    let answer = send(server.request("/api/collect").header("content-type", "text/plain").header("content-encoding", "gzip").body("not gzip")).await;
    assert_eq!((answer.status, answer.body["error"].as_str()), (400, Some("gzip_invalid")));
    server.shutdown().await;
}

#[tokio::test]
async fn only_allowed_origins_may_send_for_a_site() {
    let mut server = start().await;
    let now = now_ms();
    let body = batch("shop", now, vec![pageview(1, now, "/")]).to_string();
    let from = |origin: Option<&str>| {
        let r = server.request("/api/collect").header("content-type", "text/plain").header("user-agent", FIREFOX).body(body.clone());
        match origin {
            Some(o) => r.header("origin", o),
            None => r,
        }
    };
    let answer = send(from(Some("https://evil.example"))).await;
    assert_eq!((answer.status, answer.body["error"].as_str()), (403, Some("origin_not_allowed")));
    assert!(answer.body["message"].as_str().unwrap().contains("https://evil.example"));
    assert_eq!(send(from(None)).await.status, 403);
    assert_eq!(send(from(Some("https://shop.example"))).await.body["accepted"], 1);
    server.shutdown().await;
}

#[tokio::test]
async fn a_site_that_lists_no_origins_refuses_another_websites_page_with_403_and_what_to_add() {
    let mut server = start().await;
    let now = now_ms();
    let body = batch("demo", now, vec![pageview(1, now, "/")]).to_string();
    let from = |origin: Option<&str>| {
        let r = server.request("/api/collect").header("content-type", "text/plain").header("user-agent", FIREFOX).body(body.clone());
        match origin {
            Some(o) => r.header("origin", o),
            None => r,
        }
    };
    let refused = send(from(Some("https://evil.example"))).await;
    assert_eq!((refused.status, refused.body["error"].as_str()), (403, Some("origin_not_allowed")));
    let message = refused.body["message"].as_str().unwrap();
    assert!(message.contains("accepts only the collector's own origin"), "{message}");
    assert!(message.contains(r#"add allowed_origins = ["https://evil.example"] to its [[site]]"#), "{message}");
    assert_eq!(send(from(Some("null"))).await.status, 403, "a sandboxed frame names no site");
    assert!(server.query("SELECT id FROM events").is_empty());

    let own = send(from(Some(&server.url))).await;
    assert_eq!((own.status, own.body["accepted"].as_u64()), (200, Some(1)), "the collector's own pages, as the demo");
    assert_eq!(send(from(None)).await.body["duplicates"], 1, "no Origin: not a web page, accepted");
    let counted = server.get("/metrics").await.1;
    assert!(counted.contains(r#"waymark_requests_refused_total{reason="origin_not_allowed"} 2"#), "{counted}");
    server.shutdown().await;
}

#[tokio::test]
async fn a_site_with_a_star_takes_every_origin() {
    let mut config = support::config();
    config.sites[0].allowed_origins = vec!["*".into()];
    let mut server = support::start_with(config, std::sync::Arc::new(waymark_collector::clock::SystemClock)).await;
    let now = now_ms();
    for (n, origin) in [(1, "https://anyone.example"), (2, "null")] {
        let r = server
            .request("/api/collect")
            .header("content-type", "text/plain")
            .header("user-agent", FIREFOX)
            .header("origin", origin)
            .body(batch("demo", now, vec![pageview(n, now, "/")]).to_string());
        assert_eq!(send(r).await.body["accepted"], 1, "{origin}");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn with_a_public_url_the_own_origin_is_that_address_whatever_the_host() {
    let mut config = support::config();
    config.public_url = Some("https://stats.example.com".into());
    let mut server = support::start_with(config, std::sync::Arc::new(waymark_collector::clock::SystemClock)).await;
    let now = now_ms();
    let from = |n: u64, origin: &str| {
        server
            .request("/api/collect")
            .header("content-type", "text/plain")
            .header("user-agent", FIREFOX)
            .header("origin", origin)
            .body(batch("demo", now, vec![pageview(n, now, "/")]).to_string())
    };
    assert_eq!(send(from(1, "https://stats.example.com")).await.status, 200);
    let refused = send(from(2, &server.url)).await;
    assert_eq!(refused.status, 403, "the Host no longer decides");
    assert!(refused.body["message"].as_str().unwrap().contains("(https://stats.example.com)"), "{:?}", refused.body);
    server.shutdown().await;
}

#[tokio::test]
async fn a_page_on_another_origin_may_read_the_answer_and_its_retry_after() {
    let mut server = start().await;
    let now = now_ms();
    let r = server
        .request("/api/collect")
        .header("content-type", "text/plain")
        .header("user-agent", FIREFOX)
        .header("origin", "https://shop.example")
        .body(batch("shop", now, vec![pageview(1, now, "/")]).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["access-control-allow-origin"], "https://shop.example");
    assert_eq!(r.headers()["access-control-expose-headers"].to_str().unwrap().to_ascii_lowercase(), "retry-after");
    server.shutdown().await;
}

#[tokio::test]
async fn a_client_clock_two_hours_behind_is_corrected_and_far_times_are_refused() {
    let mut server = start().await;
    let now = now_ms();
    let behind = now - 120 * MIN;
    let mut future = pageview(2, now + 60 * MIN, "/");
    future["ts"] = json!(now + 60 * MIN);
    let answer = server
        .post_batch(&json!({"site": "demo", "sent_at": behind, "events": [pageview(1, behind - 1000, "/")]}))
        .await;
    assert_eq!(answer.body["accepted"], 1);
    let answer = server.post_batch(&batch("demo", now, vec![future, pageview(3, now - 8 * 24 * 60 * MIN, "/")])).await;
    let reasons: Vec<_> = answer.body["results"].as_array().unwrap().iter().map(|r| r["reason"].clone()).collect();
    assert_eq!(reasons, [json!("timestamp_in_future"), json!("timestamp_too_old")]);
    server.shutdown().await;
    let ts = server.query("SELECT ts FROM events")[0][0].as_i64().unwrap();
    assert!((ts - (now - 1000)).abs() < 5_000, "stored at {ts}, expected about {}", now - 1000);
}

#[tokio::test]
async fn bots_are_counted_not_stored() {
    let mut server = start().await;
    let now = now_ms();
    let body = batch("demo", now, vec![pageview(1, now, "/"), pageview(2, now, "/a")]).to_string();
    let request = server.request("/api/collect").header("content-type", "text/plain").header("user-agent", GOOGLEBOT);
    let answer = send(request.body(body)).await;
    assert_eq!((answer.status, answer.body["filtered"].as_u64(), answer.body["accepted"].as_u64()), (200, Some(2), Some(0)));
    assert_eq!(answer.body["results"][0]["outcome"], "filtered");
    server.shutdown().await;
    assert_eq!(server.query("SELECT count(*) FROM events"), vec![vec![json!(0)]]);
    assert_eq!(server.query("SELECT site, bot, hits FROM bot_hits"), vec![vec![json!("demo"), json!("Googlebot"), json!(2)]]);
}

#[tokio::test]
async fn events_are_enriched_with_device_source_and_campaign() {
    let mut server = start().await;
    let now = now_ms();
    let mut event = pageview(1, now, "/?utm_source=newsletter&utm_medium=email&utm_campaign=spring");
    event["referrer"] = json!("https://mail.google.com/");
    let request = server.request("/api/collect").header("content-type", "text/plain").header("user-agent", CHROME_ANDROID);
    send(request.body(batch("demo", now, vec![event]).to_string())).await;
    let mut from_search = pageview(2, now + 1, "/b");
    from_search["session_id"] = json!(session(2));
    from_search["referrer"] = json!("https://www.google.com/");
    server.post_batch(&batch("demo", now, vec![from_search])).await;
    server.shutdown().await;
    let rows = server.query("SELECT browser, os, device, source, medium, utm_campaign, referrer_host FROM events ORDER BY id");
    assert_eq!(rows[0], vec![json!("Chrome"), json!("Android"), json!("mobile"), json!("newsletter"), json!("email"), json!("spring"), json!("mail.google.com")]);
    assert_eq!(rows[1][3..5], [json!("Google"), json!("organic")]);
}

#[tokio::test]
async fn a_sender_over_its_rate_is_told_when_to_retry_and_is_accepted_after_that_wait() {
    let mut config = config();
    config.limits.per_ip_per_second = 1;
    config.limits.per_ip_burst = 2;
    let clock = ManualClock::at(now_ms());
    let mut server = start_with(config, std::sync::Arc::new(clock.clone())).await;
    let now = clock.now_ms();
    let body = batch("demo", now, vec![pageview(1, now, "/")]);
    assert_eq!(server.post_batch(&body).await.status, 200);
    assert_eq!(server.post_batch(&body).await.status, 200);
    let answer = server.post_batch(&body).await;
    assert_eq!((answer.status, answer.body["error"].as_str()), (429, Some("rate_limited")));
    assert_eq!(answer.retry_after.as_deref(), Some("1"));
    clock.advance(999);
    assert_eq!(server.post_batch(&body).await.status, 429, "not before the wait is over");
    clock.advance(1);
    assert_eq!(server.post_batch(&body).await.status, 200);
    server.shutdown().await;
}

#[tokio::test]
async fn a_full_write_queue_answers_503_with_retry_after_and_loses_nothing_acknowledged() {
    let mut config = config();
    config.limits.write_queue = 1;
    let mut server = start_with(config, std::sync::Arc::new(waymark_collector::clock::SystemClock)).await;
    // Another process holds the write lock: the writer waits on it.
    let blocker = rusqlite::Connection::open(&server.db).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
    let now = now_ms();
    let mut requests = tokio::task::JoinSet::new();
    for n in 0..20 {
        let request = reqwest::Client::new()
            .post(format!("{}/api/collect", server.url))
            .header("content-type", "text/plain")
            .header("user-agent", FIREFOX)
            .body(batch("demo", now, vec![pageview(n, now, "/")]).to_string());
        requests.spawn(async move { (n, send(request).await) });
    }
    // Nothing can be committed while the lock is held, so the first answer
    // is a refusal: the writer holds one request, the queue one more.
    let (_, first) = requests.join_next().await.unwrap().unwrap();
    assert_eq!((first.status, first.body["error"].as_str()), (503, Some("store_busy")));
    assert_eq!(first.retry_after.as_deref(), Some("1"));
    assert_eq!(server.get("/readyz").await.0, 503, "not ready while the queue is full");

    blocker.execute_batch("COMMIT").unwrap();
    let mut acknowledged = Vec::new();
    while let Some(joined) = requests.join_next().await {
        let (n, answer) = joined.unwrap();
        match answer.status {
            200 => acknowledged.push(id(n)),
            503 => assert_eq!(answer.body["error"], "store_busy"),
            other => panic!("request {n} answered {other}"),
        }
    }
    assert!(!acknowledged.is_empty(), "the requests held while blocked are committed after");
    assert_eq!(server.get("/readyz").await.0, 200);
    let mut stored: Vec<String> =
        server.query("SELECT id FROM events").into_iter().map(|row| row[0].as_str().unwrap().to_owned()).collect();
    stored.sort();
    acknowledged.sort();
    assert_eq!(stored, acknowledged, "exactly the acknowledged events are on disk");
    server.shutdown().await;
}

#[tokio::test]
async fn the_live_feed_reports_new_sessions_and_enriched_stored_events() {
    let mut server = start().await;
    let mut feed = server.state.live.subscribe();
    let now = now_ms();
    let mut bad = pageview(3, now, "/");
    bad["name"] = json!("");
    server.post_batch(&batch("demo", now, vec![pageview(1, now, "/a"), pageview(2, now + 1, "/b"), bad])).await;
    server.post_batch(&batch("demo", now, vec![pageview(1, now, "/a")])).await;
    let mut messages = Vec::new();
    while let Ok(message) = feed.try_recv() {
        messages.push(serde_json::to_value(message).unwrap());
    }
    let kinds: Vec<_> = messages.iter().map(|m| m["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["rejected", "session_started", "stored", "stored", "duplicate"]);
    let session = messages[1]["session_id"].clone();
    assert_eq!(messages[2]["event"]["session_id"], session);
    assert_eq!(messages[3]["event"]["session_id"], session);
    assert_eq!(messages[2]["event"]["browser"], "Firefox");
    assert_eq!(messages[2]["event"]["source"], "(direct)");
    server.shutdown().await;
}
