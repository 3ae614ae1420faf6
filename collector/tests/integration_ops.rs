//! `/healthz`, `/readyz` and `/metrics` over real HTTP.

mod support;

use serde_json::json;
use support::*;

#[tokio::test]
async fn health_and_readiness_answer_while_serving() {
    let mut server = start().await;
    assert_eq!(server.get("/healthz").await, (200, "ok".to_string()));
    let (status, text) = server.get("/readyz").await;
    assert_eq!(status, 200, "{text}");
    server.shutdown().await;
}

#[tokio::test]
async fn metrics_count_accepted_duplicate_and_rejected_events_by_reason() {
    let mut server = start().await;
    let now = now_ms();
    let mut bad = pageview(2, now, "/");
    bad["name"] = json!("");
    server.post_batch(&batch("demo", now, vec![pageview(1, now, "/"), bad])).await;
    server.post_batch(&batch("demo", now, vec![pageview(1, now, "/")])).await;
    server.post("{").await;
    let (status, text) = server.get("/metrics").await;
    assert_eq!(status, 200);
    for line in [
        "waymark_events_accepted_total 1",
        "waymark_events_duplicate_total 1",
        "waymark_events_rejected_total{reason=\"name_empty\"} 1",
        "waymark_requests_refused_total{reason=\"malformed\"} 1",
        "waymark_write_queue_depth 0",
        "waymark_commit_seconds_count",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn every_refusal_is_counted_once_under_its_code_whichever_route_refused_it() {
    let mut server = start().await;
    let now = now_ms();
    let unknown = server.post_batch(&batch("nope", now, vec![pageview(1, now, "/")])).await;
    assert_eq!(unknown.status, 404);
    let mut bad = pageview(2, now, "/");
    bad["name"] = json!("");
    assert_eq!(server.post_batch(&batch("demo", now, vec![bad])).await.status, 400);
    let guessed = server
        .request("/api/server/collect")
        .header("content-type", "application/json")
        .header("authorization", "Bearer guess-guess-guess")
        .body(json!({"site": "shop", "events": []}).to_string());
    assert_eq!(send(guessed).await.status, 401);
    let anonymous = reqwest::get(format!("{}/api/query/overview?site=demo", server.url)).await.unwrap();
    assert_eq!(anonymous.status(), 401);
    let wrong_password = server.request("/api/auth/sign-in").json(&json!({"password": "guess"}));
    assert_eq!(send(wrong_password).await.status, 401);
    // Answers that refused nothing are not counted.
    assert_eq!(server.post_batch(&batch("demo", now, vec![pageview(3, now, "/")])).await.status, 200);

    let (_, text) = server.get("/metrics").await;
    let mut refused: Vec<&str> = text.lines().filter(|l| l.starts_with("waymark_requests_refused_total{")).collect();
    refused.sort();
    assert_eq!(
        refused,
        [
            "waymark_requests_refused_total{reason=\"all_events_rejected\"} 1",
            "waymark_requests_refused_total{reason=\"bad_secret\"} 1",
            "waymark_requests_refused_total{reason=\"not_signed_in\"} 1",
            "waymark_requests_refused_total{reason=\"unknown_site\"} 1",
            "waymark_requests_refused_total{reason=\"wrong_password\"} 1",
        ]
    );
    server.shutdown().await;
}
