//! Bodies past the size limits, plain and compressed, over real HTTP.

mod support;

use std::io::Write;

use serde_json::json;
use support::*;
use waymark_protocol::limits;

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

#[tokio::test]
async fn a_body_over_one_mebibyte_is_refused_as_too_large() {
    let mut server = start().await;
    let answer = server.post(vec![b' '; limits::MAX_BODY_BYTES + 1]).await;
    assert_eq!((answer.status, answer.body["error"].as_str()), (413, Some("body_too_large")));
    assert!(answer.body["message"].as_str().unwrap().contains("1048576"));
    server.shutdown().await;
}

#[tokio::test]
async fn a_gzip_bomb_is_stopped_at_the_limit() {
    let mut server = start().await;
    // 64 MiB of spaces compress to about 64 KiB.
    let bomb = gzip(&vec![b' '; 64 * 1024 * 1024]);
    let request = server.request("/api/collect").header("content-type", "text/plain").header("content-encoding", "gzip");
    let answer = send(request.header("user-agent", FIREFOX).body(bomb)).await;
    assert_eq!((answer.status, answer.body["error"].as_str()), (413, Some("body_too_large")));
    let (status, _) = server.get("/healthz").await;
    assert_eq!(status, 200);
    server.shutdown().await;
}

#[tokio::test]
async fn a_batch_over_the_event_limit_is_refused_whole() {
    let mut server = start().await;
    let now = now_ms();
    let events: Vec<_> = (0..=limits::MAX_EVENTS_PER_BATCH as u64).map(|n| cookieless(n, now, "/")).collect();
    let answer = server.post_batch(&batch("demo", now, events)).await;
    assert_eq!((answer.status, answer.body["error"].as_str()), (413, Some("too_many_events")));
    server.shutdown().await;
    assert_eq!(server.query("SELECT count(*) FROM events"), vec![vec![json!(0)]]);
}
