//! More ingest requests than `[limits] ingest_in_flight` at once: the one
//! past the limit is answered at once with 503 `overloaded` and
//! `Retry-After` (not late), health checks are still answered, the request
//! being handled is stored, and the refused batch sent again once there is
//! room is stored too: nothing acknowledged is lost, nothing stored twice.
//! The limit is held by a request whose body is not all sent yet, so the
//! test waits on the collector's own count of requests in flight, not on
//! time.

mod support;

use std::sync::Arc;

use support::{FIREFOX, batch, config, id, now_ms, pageview, start_with};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use waymark_collector::clock::SystemClock;

#[tokio::test]
async fn an_ingest_request_past_the_in_flight_limit_is_refused_at_once_with_503_and_retry_after_and_nothing_acknowledged_is_lost() {
    let mut config = config();
    config.limits.ingest_in_flight = 1;
    let mut server = start_with(config, Arc::new(SystemClock)).await;
    let addr = server.url.strip_prefix("http://").unwrap().to_owned();
    let now = now_ms();

    // A sender whose body is on its way: it holds the one slot.
    let held = batch("demo", now, vec![pageview(1, now, "/held")]).to_string();
    let (first, rest) = held.split_at(held.len() / 2);
    let mut slow = TcpStream::connect(&addr).await.unwrap();
    slow.write_all(
        format!("POST /api/collect HTTP/1.1\r\nHost: collector\r\nContent-Type: text/plain\r\nUser-Agent: {FIREFOX}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{first}", held.len())
            .as_bytes(),
    )
    .await
    .unwrap();
    while server.state.metrics.ingest_in_flight.get() < 1 {
        tokio::task::yield_now().await;
    }

    let refused_batch = batch("demo", now, vec![pageview(2, now, "/refused")]);
    let refused = server.post_batch(&refused_batch).await;
    assert_eq!((refused.status, refused.body["error"].as_str()), (503, Some("overloaded")));
    assert_eq!(refused.retry_after.as_deref(), Some("1"));
    assert!(refused.body["message"].as_str().unwrap().contains("ingest_in_flight"), "{}", refused.body);
    let server_batch = server
        .request("/api/server/collect")
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {}", support::SECRET))
        .body(batch("shop", now, vec![pageview(3, now, "/backend")]).to_string());
    assert_eq!(support::send(server_batch).await.status, 503, "the server-to-server route is bounded by the same limit");
    assert_eq!(server.get("/healthz").await.0, 200, "health checks are answered while ingest is full");

    slow.write_all(rest.as_bytes()).await.unwrap();
    let mut answer = String::new();
    slow.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    while server.state.metrics.ingest_in_flight.get() > 0 {
        tokio::task::yield_now().await;
    }
    // The sender retries the refused batch, as told.
    assert_eq!(server.post_batch(&refused_batch).await.status, 200);

    let stored: Vec<String> = server.query("SELECT id FROM events ORDER BY id").into_iter().map(|row| row[0].as_str().unwrap().to_owned()).collect();
    assert_eq!(stored, [id(1), id(2)], "the held and the retried event, each once; the refused server batch was not stored");
    let metrics = server.get("/metrics").await.1;
    assert!(metrics.contains(r#"waymark_requests_refused_total{reason="overloaded"} 2"#), "{metrics}");
    server.shutdown().await;
}
