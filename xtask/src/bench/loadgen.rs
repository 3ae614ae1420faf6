//! A load generator for the collector's ingest endpoints: HTTP/1.1
//! keep-alive connections, each sending batches one after another (closed
//! loop, for the highest rate) or on a schedule (open loop, for latency at
//! a given rate). Every event has a fresh id, so nothing is a duplicate.
//! In the usual [`Shape::Visits`] each visitor sends a few requests then
//! makes way for a new one; [`Shape::LongSessions`] is the hard case for
//! sessionizing: a few visitors whose one session each keeps growing. The
//! visits' pageviews go to the native endpoint (`/api/collect`, as the SDK
//! sends them) or to the Segment-compatible one (`/v1/batch`, as Segment's
//! server libraries send them).

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

pub const USER_AGENT: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
/// The bench site's write key for `/v1/batch` (its `write_key` in the config).
pub const WRITE_KEY: &str = "wk-bench-0123456789abcdef";

/// Which door the load goes through.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `POST /api/collect`, the SDK's batch.
    Native,
    /// `POST /v1/batch`, Segment's batch, with the write key as Basic auth.
    Segment,
}

#[derive(Clone, Copy)]
pub struct Load {
    pub addr: SocketAddr,
    /// Distinguishes the runs against one store, so that no id repeats.
    pub run: u16,
    pub connections: usize,
    pub batch: usize,
    pub duration: Duration,
    /// Requests per second over all connections; `None` sends as fast as
    /// the server answers.
    pub rate: Option<f64>,
    pub endpoint: Endpoint,
    pub shape: Shape,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Visitors of ten requests each, timed to the millisecond, ids in time order.
    Visits,
    /// [`LONG_SESSION_VISITORS`] visitors, one session each, for the whole
    /// run; timestamps in whole seconds (as many backends send them) and
    /// random ids, so that most events tie with the latest stored one and
    /// sort before it.
    LongSessions,
}

pub const LONG_SESSION_VISITORS: usize = 8;

pub struct Measured {
    pub requests: u64,
    pub events: u64,
    pub failures: u64,
    pub elapsed: Duration,
    latencies: Vec<Duration>,
}

impl Measured {
    pub fn requests_per_second(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }
    pub fn events_per_second(&self) -> f64 {
        self.events as f64 / self.elapsed.as_secs_f64()
    }
    /// Two loads run at the same time, as one.
    pub fn merge(mut self, other: Measured) -> Measured {
        self.requests += other.requests;
        self.events += other.events;
        self.failures += other.failures;
        self.elapsed = self.elapsed.max(other.elapsed);
        self.latencies.extend(other.latencies);
        self.latencies.sort_unstable();
        self
    }

    pub fn percentile(&self, p: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let at = ((self.latencies.len() - 1) as f64 * p).round() as usize;
        self.latencies[at]
    }
}

/// Runs `load` against `POST /api/collect` on a single-threaded runtime:
/// the generator takes at most one of the machine's cores.
pub fn run(load: Load) -> Result<Measured> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async move {
        let started = Instant::now();
        let deadline = started + load.duration;
        let workers: Vec<_> = (0..load.connections).map(|c| tokio::spawn(connection(load, c, deadline))).collect();
        let mut measured = Measured { requests: 0, events: 0, failures: 0, elapsed: Duration::ZERO, latencies: Vec::new() };
        for worker in workers {
            let (requests, failures, latencies) = worker.await??;
            measured.requests += requests;
            measured.failures += failures;
            measured.latencies.extend(latencies);
        }
        measured.elapsed = started.elapsed();
        measured.events = measured.requests * load.batch as u64;
        measured.latencies.sort_unstable();
        Ok(measured)
    })
}

async fn connection(load: Load, index: usize, deadline: Instant) -> Result<(u64, u64, Vec<Duration>)> {
    // Ids carry the run and the connection, so that none repeats.
    let connection = (u64::from(load.run) << 8) | (index as u64 & 0xff);
    let stream = TcpStream::connect(load.addr).await.context("connecting to the collector")?;
    stream.set_nodelay(true)?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake::<_, Full<Bytes>>(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let mut schedule = load.rate.map(|rate| {
        let every = Duration::from_secs_f64(load.connections as f64 / rate);
        let mut interval = tokio::time::interval_at(tokio::time::Instant::now() + every.mul_f64(index as f64 / load.connections as f64), every);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        interval
    });
    let (mut requests, mut failures, mut latencies) = (0u64, 0u64, Vec::new());
    let mut body = String::new();
    let basic = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{WRITE_KEY}:")));
    while Instant::now() < deadline {
        if let Some(interval) = &mut schedule {
            interval.tick().await;
        }
        let request = match load.endpoint {
            Endpoint::Native => {
                match load.shape {
                    Shape::Visits => write_batch(&mut body, connection, requests, load.batch),
                    Shape::LongSessions => write_long_session_event(&mut body, connection, index % LONG_SESSION_VISITORS, requests),
                }
                Request::post("/api/collect").header("content-type", "text/plain").header("user-agent", USER_AGENT)
            }
            Endpoint::Segment => {
                write_segment_batch(&mut body, connection, requests, load.batch);
                Request::post("/v1/batch").header("content-type", "application/json").header("authorization", &basic)
            }
        };
        let request = request.header("host", "bench").body(Full::new(Bytes::from(body.clone())))?;
        let sent = Instant::now();
        let response = sender.send_request(request).await?;
        let ok = response.status().is_success();
        response.into_body().collect().await?;
        latencies.push(sent.elapsed());
        requests += 1;
        failures += u64::from(!ok);
    }
    Ok((requests, failures, latencies))
}

/// The same pageviews as [`write_batch`] as Segment's `page` calls, as a
/// server library sends them: ISO 8601 times, `sentAt`, the visitor's
/// browser in `context.userAgent`.
fn write_segment_batch(body: &mut String, connection: u64, request: u64, size: usize) {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
    let at = iso_8601(now);
    let visitor = request / 10;
    body.clear();
    let _ = write!(body, r#"{{"sentAt":"{at}","batch":["#);
    for n in 0..size as u64 {
        if n > 0 {
            body.push(',');
        }
        let _ = write!(
            body,
            r#"{{"type":"page","messageId":"{:08x}-{:04x}-7{:03x}-8000-{connection:06x}{:06x}","anonymousId":"{connection:08x}-0001-4000-8000-{visitor:012x}","timestamp":"{at}","properties":{{}},"context":{{"library":{{"name":"analytics-python","version":"2.4.0"}},"userAgent":"{USER_AGENT}","page":{{"url":"https://bench.example/page/{n}","referrer":"https://www.google.com/","title":"Page {n}"}}}}}}"#,
            now >> 16,
            now & 0xffff,
            n & 0xfff,
            request & 0xff_ffff
        );
    }
    body.push_str("]}");
}

/// `ms` since the epoch as `2025-11-25T12:00:00.123Z`, as the clients write times.
fn iso_8601(ms: u64) -> String {
    jiff::Timestamp::from_millisecond(ms as i64).map_or_else(|_| String::new(), |at| format!("{at:.3}"))
}

/// A batch of `size` pageviews; a visitor sends ten requests. Event ids
/// are UUID v7 like the SDK's (time first); the bits browsers fill at
/// random hold the run, connection, request and position here, so that
/// none repeats.
fn write_batch(body: &mut String, connection: u64, request: u64, size: usize) {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
    let visitor = request / 10;
    body.clear();
    let _ = write!(body, r#"{{"site":"demo","sent_at":{now},"events":["#);
    for n in 0..size as u64 {
        if n > 0 {
            body.push(',');
        }
        let _ = write!(
            body,
            r#"{{"id":"{:08x}-{:04x}-7{:03x}-8000-{connection:06x}{:06x}","name":"$pageview","ts":{now},"session_id":"{connection:08x}-0000-4000-8000-{visitor:012x}","visitor_id":"{connection:08x}-0001-4000-8000-{visitor:012x}","url":"https://bench.example/page/{n}","referrer":"https://www.google.com/","title":"Page {n}"}}"#,
            now >> 16,
            now & 0xffff,
            n & 0xfff,
            request & 0xff_ffff
        );
    }
    body.push_str("]}");
}

/// One pageview of visitor `visitor`'s one session, at the current whole
/// second, with an id that is unique but in no order (UUID v4-shaped).
fn write_long_session_event(body: &mut String, connection: u64, visitor: usize, request: u64) {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
    let second = now / 1000 * 1000;
    // SplitMix64: a well-spread value from a counter, so ids fall at random.
    let mut z = (connection << 40 | request).wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    let random = z ^ (z >> 31);
    body.clear();
    let _ = write!(
        body,
        r#"{{"site":"demo","sent_at":{now},"events":[{{"id":"{:08x}-{:04x}-4{:03x}-8{:03x}-{connection:06x}{:06x}","name":"$pageview","ts":{second},"session_id":"5e55105e-0000-4000-8000-{visitor:012x}","visitor_id":"0151705e-0000-4000-8000-{visitor:012x}","url":"https://bench.example/page/{}"}}]}}"#,
        random >> 32,
        (random >> 16) & 0xffff,
        (random >> 4) & 0xfff,
        random & 0xfff,
        request & 0xff_ffff,
        request % 50
    );
}

#[cfg(test)]
mod tests {
    #[test]
    fn times_are_written_as_iso_8601() {
        assert_eq!(super::iso_8601(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(super::iso_8601(1_764_072_000_123), "2025-11-25T12:00:00.123Z");
        assert_eq!(super::iso_8601(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }
}
