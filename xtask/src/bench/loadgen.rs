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
/// The bench site's secret for `/api/server/collect` (its `secret_key`; only
/// the soak and crash configs give it).
pub const SECRET_KEY: &str = "sk-bench-0123456789abcdef";

/// Which door the load goes through.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `POST /api/collect`, the SDK's batch.
    Native,
    /// `POST /v1/batch`, Segment's batch, with the write key as Basic auth.
    Segment,
    /// `POST /api/server/collect`, a site's backend stating each visitor's
    /// address and browser, with the secret key as a bearer token.
    Server,
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
                    Shape::Visits => write_batch(&mut body, connection, requests, load.batch, false),
                    Shape::LongSessions => write_long_session_event(&mut body, connection, index % LONG_SESSION_VISITORS, requests),
                }
                Request::post("/api/collect").header("content-type", "text/plain").header("user-agent", USER_AGENT)
            }
            Endpoint::Segment => {
                write_segment_batch(&mut body, connection, requests, load.batch);
                Request::post("/v1/batch").header("content-type", "application/json").header("authorization", &basic)
            }
            Endpoint::Server => {
                write_batch(&mut body, connection, requests, load.batch, true);
                Request::post("/api/server/collect").header("content-type", "application/json").header("authorization", format!("Bearer {SECRET_KEY}"))
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

/// An open-loop load: requests leave at a fixed rate whatever the answers
/// (a population of visitors does not wait for the collector), each on an
/// idle keep-alive connection or a new one, up to `max_connections`; a
/// request's time counts from the moment it was due, so that waiting for
/// a connection counts too, and a request not answered within `timeout`
/// of that moment is given up.
#[derive(Clone, Copy)]
pub struct OpenLoad {
    pub addr: SocketAddr,
    pub run: u16,
    pub rate: f64,
    pub batch: usize,
    pub duration: Duration,
    pub max_connections: usize,
    pub timeout: Duration,
}

/// What an open-loop load got back.
#[derive(Default)]
pub struct Answers {
    pub sent: u64,
    pub ok: u64,
    pub too_many: u64,
    pub unavailable: u64,
    /// 429s and 503s that said when to come back.
    pub with_retry_after: u64,
    pub other: u64,
    /// No answer: connection refused or reset, or the timeout.
    pub no_answer: u64,
    /// The ids of every event answered 2xx, as numbers.
    pub acknowledged: Vec<u128>,
    /// Every answer's time (any status), sorted.
    pub latencies: Vec<Duration>,
    pub elapsed: Duration,
}

impl Answers {
    pub fn percentile(&self, p: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        self.latencies[((self.latencies.len() - 1) as f64 * p).round() as usize]
    }
}

/// Runs `load` (browser batches to `/api/collect`) on a single-threaded runtime.
pub fn open_loop(load: OpenLoad) -> Result<Answers> {
    use std::sync::{Arc, Mutex};
    type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async move {
        let idle: Arc<Mutex<Vec<Sender>>> = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(tokio::sync::Semaphore::new(load.max_connections));
        let answers = Arc::new(Mutex::new(Answers::default()));
        let started = tokio::time::Instant::now();
        let mut tick = tokio::time::interval(Duration::from_millis(1));
        let mut due = 0u64;
        let mut tasks = tokio::task::JoinSet::new();
        // Ids as in `connection`: the run, then a counter over the whole load.
        let connection = u64::from(load.run) << 8;
        while started.elapsed() < load.duration {
            tick.tick().await;
            let should = (started.elapsed().as_secs_f64() * load.rate) as u64;
            while due < should {
                let at = started + Duration::from_secs_f64(due as f64 / load.rate);
                let mut body = String::new();
                write_batch(&mut body, connection | (due >> 24), due & 0xff_ffff, load.batch, false);
                let (idle, connections, answers) = (idle.clone(), connections.clone(), answers.clone());
                tasks.spawn(async move {
                    let outcome = tokio::time::timeout_at(at + load.timeout, async {
                        let _permit = connections.acquire().await?;
                        let pooled = idle.lock().map_err(|_| anyhow::anyhow!("pool"))?.pop();
                        let mut sender = match pooled {
                            Some(s) if !s.is_closed() => s,
                            _ => {
                                let stream = TcpStream::connect(load.addr).await?;
                                stream.set_nodelay(true)?;
                                let (sender, conn) = hyper::client::conn::http1::handshake::<_, Full<Bytes>>(TokioIo::new(stream)).await?;
                                tokio::spawn(conn);
                                sender
                            }
                        };
                        sender.ready().await?;
                        let request = Request::post("/api/collect")
                            .header("content-type", "text/plain")
                            .header("user-agent", USER_AGENT)
                            .header("host", "bench")
                            .body(Full::new(Bytes::from(body.clone())))?;
                        let response = sender.send_request(request).await?;
                        let status = response.status().as_u16();
                        let retry_after = response.headers().contains_key("retry-after");
                        response.into_body().collect().await?;
                        idle.lock().map_err(|_| anyhow::anyhow!("pool"))?.push(sender);
                        anyhow::Ok((status, retry_after))
                    })
                    .await;
                    let mut a = answers.lock().expect("answers");
                    a.sent += 1;
                    match outcome {
                        Ok(Ok((status, retry_after))) => {
                            a.latencies.push(at.elapsed());
                            match status {
                                200..=299 => {
                                    a.ok += 1;
                                    a.acknowledged.extend(event_ids(&body));
                                }
                                429 => a.too_many += 1,
                                503 => a.unavailable += 1,
                                _ => a.other += 1,
                            }
                            a.with_retry_after += u64::from(matches!(status, 429 | 503) && retry_after);
                        }
                        _ => a.no_answer += 1,
                    }
                });
                due += 1;
            }
            // Finished tasks are reaped as the load goes, not kept to the end.
            while tasks.try_join_next().is_some() {}
        }
        while tasks.join_next().await.is_some() {}
        let mut answers = Arc::try_unwrap(answers).map_err(|_| anyhow::anyhow!("answers still shared"))?.into_inner().map_err(|_| anyhow::anyhow!("answers"))?;
        answers.elapsed = started.elapsed();
        answers.latencies.sort_unstable();
        Ok(answers)
    })
}

/// The event ids of a batch, as numbers.
fn event_ids(body: &str) -> impl Iterator<Item = u128> + '_ {
    body.split(r#""id":""#).skip(1).filter_map(|rest| u128::from_str_radix(&rest.get(..36)?.replace('-', ""), 16).ok())
}

/// An event id as the number [`open_loop`] records.
pub fn id_number(id: &str) -> Option<u128> {
    u128::from_str_radix(&id.replace('-', ""), 16).ok()
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
/// none repeats. `stated`: each event states its visitor's address and
/// browser, as a server-to-server sender does.
pub(crate) fn write_batch(body: &mut String, connection: u64, request: u64, size: usize, stated: bool) {
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
            r#"{{"id":"{:08x}-{:04x}-7{:03x}-8000-{connection:06x}{:06x}","name":"$pageview","ts":{now},"session_id":"{connection:08x}-0000-4000-8000-{visitor:012x}","visitor_id":"{connection:08x}-0001-4000-8000-{visitor:012x}","url":"https://bench.example/page/{n}","referrer":"https://www.google.com/","title":"Page {n}""#,
            now >> 16,
            now & 0xffff,
            n & 0xfff,
            request & 0xff_ffff
        );
        if stated {
            let _ = write!(body, r#","ip":"198.51.100.{}","user_agent":"{USER_AGENT}""#, visitor % 250 + 1);
        }
        body.push('}');
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
