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
