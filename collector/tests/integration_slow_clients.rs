//! Slow and idle clients over real TCP: a body sent a byte at a time is
//! cut off at the body deadline while other clients are answered; idle
//! connections are closed at the header deadline; connections beyond
//! `[server] max_connections` wait until one closes, and a health check
//! on one of them is then answered.

mod support;

use std::sync::Arc;
use std::time::Duration;

use support::{batch, config, now_ms, pageview, start_with};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use waymark_collector::clock::SystemClock;

/// How an exchange on a raw connection ended.
#[derive(Debug, PartialEq)]
enum Ended {
    /// The collector answered with this status (and closed).
    Status(u16),
    /// The collector closed (or reset) the connection without an answer.
    Closed,
}

/// Reads until the collector closes the connection.
async fn until_closed(stream: &mut (impl AsyncReadExt + Unpin)) -> Ended {
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    let text = String::from_utf8_lossy(&answer);
    match text.strip_prefix("HTTP/1.1 ").and_then(|rest| rest.get(..3)).and_then(|code| code.parse().ok()) {
        Some(status) => Ended::Status(status),
        None => Ended::Closed,
    }
}

/// One keep-alive `GET`, answered on an open connection: the status line and body.
async fn get_on(stream: &mut TcpStream, path: &str) -> String {
    stream.write_all(format!("GET {path} HTTP/1.1\r\nHost: collector\r\n\r\n").as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let mut buffer = [0u8; 8192];
    // The answers here are small and carry Content-Length: read until the body is in.
    loop {
        let n = stream.read(&mut buffer).await.unwrap();
        assert!(n > 0, "the collector closed the connection mid-answer");
        answer.extend_from_slice(&buffer[..n]);
        let text = String::from_utf8_lossy(&answer);
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length: usize = head
                .lines()
                .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap()))
                .expect("a content length");
            if body.len() >= length {
                return text.into_owned();
            }
        }
    }
}

#[tokio::test]
async fn a_body_sent_a_byte_at_a_time_is_cut_off_with_408_while_other_clients_are_answered() {
    let mut config = config();
    config.server.body_timeout_seconds = 1;
    let mut server = start_with(config, Arc::new(SystemClock)).await;
    let addr = server.url.strip_prefix("http://").unwrap().to_owned();

    let slow = TcpStream::connect(&addr).await.unwrap();
    let (mut reading, mut writing) = slow.into_split();
    writing
        .write_all(b"POST /api/collect HTTP/1.1\r\nHost: collector\r\nContent-Type: text/plain\r\nContent-Length: 100000\r\n\r\n{")
        .await
        .unwrap();
    // A byte every 50 ms, far slower than any real client, until the
    // collector stops listening.
    let trickle = tokio::spawn(async move {
        for _ in 0..100_000 {
            if writing.write_all(b" ").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });

    let answer = server.post_batch(&batch("demo", now_ms(), vec![pageview(1, now_ms(), "/while-slow")])).await;
    assert_eq!((answer.status, answer.body["accepted"].as_u64()), (200, Some(1)), "{}", answer.body);

    let ended = until_closed(&mut reading).await;
    assert!(matches!(ended, Ended::Status(408) | Ended::Closed), "the slow body ended with {ended:?}");
    trickle.await.unwrap();
    assert_eq!(server.query("SELECT count(*) FROM events"), vec![vec![serde_json::json!(1)]]);
    server.shutdown().await;
}

#[tokio::test]
async fn idle_connections_are_closed_at_the_header_deadline_and_new_clients_are_then_answered() {
    let mut config = config();
    config.server.header_timeout_seconds = 1;
    config.server.max_connections = 50;
    let mut server = start_with(config, Arc::new(SystemClock)).await;
    let addr = server.url.strip_prefix("http://").unwrap().to_owned();

    // One asks once and keeps the connection open: idle after its answer.
    let mut asked_once = TcpStream::connect(&addr).await.unwrap();
    assert!(get_on(&mut asked_once, "/healthz").await.starts_with("HTTP/1.1 200"));
    let mut idle = vec![asked_once];
    for _ in 0..300 {
        idle.push(TcpStream::connect(&addr).await.unwrap());
    }
    // Six times the limit sit idle; a new client is answered once the
    // collector has closed enough of them.
    let (status, body) = server.get("/healthz").await;
    assert_eq!((status, body.as_str()), (200, "ok"));
    for mut connection in idle {
        assert_eq!(until_closed(&mut connection).await, Ended::Closed);
    }
    server.shutdown().await;
}

#[tokio::test]
async fn connections_beyond_the_limit_wait_until_one_closes_then_their_health_check_is_answered() {
    let mut config = config();
    config.server.max_connections = 2;
    config.server.header_timeout_seconds = 600;
    let mut server = start_with(config, Arc::new(SystemClock)).await;
    let addr = server.url.strip_prefix("http://").unwrap().to_owned();

    let mut first = TcpStream::connect(&addr).await.unwrap();
    let mut second = TcpStream::connect(&addr).await.unwrap();
    assert!(get_on(&mut first, "/healthz").await.starts_with("HTTP/1.1 200"));
    assert!(get_on(&mut second, "/healthz").await.starts_with("HTTP/1.1 200"));

    // A third client connects (the kernel's backlog takes it) and asks.
    let mut third = TcpStream::connect(&addr).await.unwrap();
    third.write_all(b"GET /healthz HTTP/1.1\r\nHost: collector\r\nConnection: close\r\n\r\n").await.unwrap();
    // The collector serves two connections, not the third: it is not
    // accepted while both slots are taken.
    let metrics = get_on(&mut first, "/metrics").await;
    assert!(metrics.lines().any(|l| l == "waymark_open_connections 2"), "{metrics}");

    drop(second);
    let mut answer = String::new();
    third.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200") && answer.ends_with("ok"), "{answer}");
    drop(first);
    server.shutdown().await;
}
