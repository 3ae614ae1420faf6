//! Grown past one machine: two collectors and a sessionizer, each the real
//! `waymark` binary, on a ClickHouse cluster of two shards (the test's own
//! `clickhouse-server`s, see `test_server`). Browser and server events for
//! the same visitors arrive at different collectors, interleaved, resent
//! and out of order, while the sessionizer and a collector are killed
//! with SIGKILL and restarted; the query API then answers what one
//! collector on SQLite answers for the same stream.

mod support;
#[path = "../src/store/clickhouse/test_server.rs"]
#[allow(dead_code)]
mod test_server;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{FIREFOX, MIN, SECRET, batch, cookieless, id, now_ms};

const TOKEN: &str = "cluster-test-token-0123456789";

/// A `waymark` process, killed when dropped.
struct Process {
    child: Child,
    /// What it printed first: the address it listens on, or that it runs.
    line: String,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Process {
    fn start(args: &[&str], config: &Path, ready: &str) -> Process {
        let mut child = Command::new(env!("CARGO_BIN_EXE_waymark"))
            .args(args)
            .arg("--config")
            .arg(config)
            .env("WAYMARK_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the waymark binary starts");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let line = loop {
            match lines.next() {
                Some(Ok(line)) if line.starts_with(ready) => break line,
                Some(Ok(_)) => continue,
                _ => panic!("waymark {args:?} ended before printing {ready:?}"),
            }
        };
        // The rest of its output is not read; keep the pipe open and drained.
        std::thread::spawn(move || for _ in lines {});
        Process { child, line }
    }

    fn collector(config: &Path) -> Process {
        Process::start(&["serve"], config, "waymark listening on ")
    }

    fn sessionizer(config: &Path) -> Process {
        Process::start(&["sessionize"], config, "waymark sessionizer running")
    }

    fn url(&self) -> String {
        self.line.trim_start_matches("waymark listening on ").to_owned()
    }

    /// SIGKILL: nothing is flushed or closed.
    fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn cluster_config(dir: &Path, name: &str, shards: &[String], database: &str, url: &str) -> PathBuf {
    let data = dir.join(name);
    std::fs::create_dir_all(&data).unwrap();
    let shards: Vec<String> = shards.iter().map(|s| format!("{s:?}")).collect();
    let text = format!(
        r#"listen = "127.0.0.1:0"
data_dir = {data:?}

[store]
backend = "clickhouse"
url = {url:?}
database = {database:?}
cluster = "{cluster}"
shards = [{shards}]
sessionizer = "separate"

[dashboard]
api_tokens = ["{TOKEN}"]

[[site]]
key = "shop"
allowed_origins = ["https://shop.example"]
secret_key = "{SECRET}"
"#,
        cluster = test_server::CLUSTER_NAME,
        shards = shards.join(", "),
    );
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

/// The test cluster, a database of `dir`'s own on it, and the configs of
/// collectors A and B: each talks to a shard of its own (the sessionizer
/// to A's).
struct Setup {
    shards: Vec<String>,
    database: String,
    a_config: PathBuf,
    b_config: PathBuf,
}

impl Setup {
    fn new(dir: &Path) -> Setup {
        let shards = test_server::cluster_urls();
        let database = test_server::database_for(dir);
        let a_config = cluster_config(dir, "a", &shards, &database, &shards[0]);
        let b_config = cluster_config(dir, "b", &shards, &database, &shards[1]);
        Setup { shards, database, a_config, b_config }
    }
}

/// Where an event goes: the browser's beacon or the shop's backend.
#[derive(Clone)]
enum Via {
    Browser(Value),
    Server(Value),
}

/// The request that sends `send` to the collector at `url`.
fn request(url: &str, send: &Via) -> reqwest::RequestBuilder {
    let client = reqwest::Client::new();
    match send {
        Via::Browser(event) => client
            .post(format!("{url}/api/collect"))
            .header("content-type", "text/plain")
            .header("user-agent", FIREFOX)
            .header("origin", "https://shop.example")
            .body(batch("shop", now_ms(), vec![event.clone()]).to_string()),
        Via::Server(event) => client
            .post(format!("{url}/api/server/collect"))
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {SECRET}"))
            .body(json!({"site": "shop", "events": [event]}).to_string()),
    }
}

async fn deliver(url: &str, send: &Via) -> u16 {
    let answer = request(url, send).send().await.unwrap();
    let status = answer.status().as_u16();
    assert_eq!(status, 200, "{}", answer.text().await.unwrap());
    status
}

/// A pageview with the SDK's ids of visitor `v`, session `s`.
fn with_ids(n: u64, v: u64, s: u64, ts: i64, path: &str) -> Value {
    json!({"id": id(n), "name": "$pageview", "ts": ts, "visitor_id": support::visitor(v), "session_id": support::session(s),
           "url": format!("https://shop.example{path}")})
}

/// The shop's backend reporting a purchase of the cookieless visitor
/// that browses from 127.0.0.1 with Firefox.
fn purchase(n: u64, ts: i64) -> Value {
    json!({"id": id(n), "name": "purchase", "ts": ts, "url": "https://shop.example/checkout",
           "ip": "127.0.0.1", "user_agent": FIREFOX})
}

/// The stream, in the order it is sent: out of order within visitors,
/// and with resends (the same event again, at the other collector).
fn stream(now: i64) -> Vec<Via> {
    use Via::*;
    vec![
        Browser(with_ids(1, 1, 1, now - 95 * MIN, "/a")),
        Browser(cookieless(20, now - 30 * MIN, "/cart")),
        Browser(with_ids(2, 1, 1, now - 100 * MIN, "/")),
        Server(purchase(21, now - 27 * MIN)),
        Browser(with_ids(10, 2, 2, now - 50 * MIN, "/pricing")),
        Browser(with_ids(3, 1, 1, now - 90 * MIN, "/b")),
        Browser(with_ids(1, 1, 1, now - 95 * MIN, "/a")),
        Browser(cookieless(22, now - 28 * MIN, "/checkout")),
        Browser(with_ids(4, 1, 3, now - 20 * MIN, "/again")),
        Server(purchase(21, now - 27 * MIN)),
        Browser(with_ids(5, 1, 3, now - 19 * MIN, "/again/2")),
        Browser(with_ids(11, 2, 2, now - 49 * MIN, "/pricing/2")),
        Browser(with_ids(12, 3, 4, now - 10 * MIN, "/blog")),
        Browser(with_ids(4, 1, 3, now - 20 * MIN, "/again")),
    ]
}

/// The dashboard's totals and sessions (start, pageviews, events,
/// duration, bounce, entry and exit page) of yesterday and today.
async fn answers(url: &str, from: &str, to: &str) -> (Value, Vec<Value>) {
    let client = reqwest::Client::new();
    let get = |path: String| {
        let client = client.clone();
        async move { client.get(format!("{url}{path}")).bearer_auth(TOKEN).send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let overview = get(format!("/api/query/overview?site=shop&from={from}&to={to}")).await;
    let page = get(format!("/api/query/sessions?site=shop&from={from}&to={to}&limit=100")).await;
    let mut sessions: Vec<Value> = page["sessions"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|s| json!([s["start_ts"], s["pageviews"], s["events"], s["duration_ms"], s["bounce"], s["entry_path"], s["exit_path"]]))
        .collect();
    sessions.sort_by_key(|s| s[0].as_i64());
    (overview["current"]["totals"].clone(), sessions)
}

/// Whether two collectors' answers agree: counts exactly, times to within
/// 250 ms (each collector corrects the browser's clock by the moment it
/// received the batch, a few milliseconds apart).
fn agree((totals, sessions): &(Value, Vec<Value>), (expected_totals, expected_sessions): &(Value, Vec<Value>)) -> bool {
    let near = |a: &Value, b: &Value| matches!((a.as_f64(), b.as_f64()), (Some(a), Some(b)) if (a - b).abs() <= 250.0);
    let counts = |t: &Value| {
        let mut t = t.clone();
        t.as_object_mut().map(|o| o.remove("avg_duration_ms"));
        t
    };
    counts(totals) == counts(expected_totals)
        && near(&totals["avg_duration_ms"], &expected_totals["avg_duration_ms"])
        && sessions.len() == expected_sessions.len()
        && sessions.iter().zip(expected_sessions).all(|(s, e)| {
            near(&s[0], &e[0]) && near(&s[3], &e[3]) && [1, 2, 4, 5, 6].iter().all(|&i| s[i] == e[i])
        })
}

#[tokio::test]
async fn two_collectors_and_a_sessionizer_killed_mid_stream_on_two_shards_answer_as_one_collector_on_sqlite() {
    if test_server::skip() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let Setup { a_config, b_config, .. } = Setup::new(dir.path());
    let a = Process::collector(&a_config);
    let mut b = Process::collector(&b_config);
    let mut sessionizer = Process::sessionizer(&a_config);
    let mut reference = support::config();
    reference.dashboard.api_tokens = vec![TOKEN.into()];
    let mut sqlite = support::start_with(reference, std::sync::Arc::new(waymark_collector::clock::SystemClock)).await;

    let now = now_ms();
    let sends = stream(now);
    for (n, send) in sends.iter().enumerate() {
        // Browser events alternate between the collectors; the backend's go to B.
        let to = match send {
            Via::Browser(_) if n % 2 == 0 => a.url(),
            _ => b.url(),
        };
        deliver(&to, send).await;
        deliver(&sqlite.url, send).await;
        if n == 5 {
            sessionizer.kill();
            sessionizer = Process::sessionizer(&a_config);
        }
        if n == 9 {
            b.kill();
            b = Process::collector(&b_config);
        }
    }

    let today = jiff::Timestamp::from_millisecond(now).unwrap().to_zoned_datetime(jiff::tz::TimeZone::UTC).date();
    let (from, to) = (today.yesterday().unwrap().to_string(), today.to_string());
    let expected = answers(&sqlite.url, &from, &to).await;
    assert_eq!(expected.0["sessions"], 5, "the reference: {:?}", expected);
    // The sessionizer reads a second once it is two seconds old.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = answers(&a.url(), &from, &to).await;
    while !agree(&seen, &expected) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(250)).await;
        seen = answers(&a.url(), &from, &to).await;
    }
    assert!(agree(&seen, &expected), "collector A on the cluster against SQLite:\n{seen:?}\n{expected:?}");
    let from_b = answers(&b.url(), &from, &to).await;
    assert!(agree(&from_b, &expected), "collector B reads the same:\n{from_b:?}");
    drop(sessionizer);
    sqlite.shutdown().await;
}

/// `sql`'s one number (named `n`), asked of the cluster through `url`.
async fn count(url: &str, database: &str, sql: &str) -> u64 {
    test_server::rows(url, database, sql).await[0]["n"].as_u64().unwrap_or_else(|| panic!("{sql}"))
}

#[tokio::test]
async fn a_collector_killed_under_load_loses_nothing_it_acknowledged_and_the_other_takes_over() {
    if test_server::skip() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let Setup { shards, database, a_config, b_config } = Setup::new(dir.path());
    let a = Process::collector(&a_config);
    let b = Process::collector(&b_config);
    let _sessionizer = Process::sessionizer(&a_config);
    let (a_url, b_url) = (a.url(), b.url());

    // Eight senders, 25 batches of 4 pageviews each, to B; a batch B does
    // not answer goes to A (a load balancer's retry), until acknowledged.
    const SENDERS: u64 = 8;
    const BATCHES: u64 = 25;
    let acknowledged_by_b = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let now = now_ms();
    let senders: Vec<_> = (0..SENDERS)
        .map(|sender| {
            let (a_url, b_url, by_b) = (a_url.clone(), b_url.clone(), acknowledged_by_b.clone());
            tokio::spawn(async move {
                for k in 0..BATCHES {
                    let events = (0..4)
                        .map(|j| with_ids(1_000 * (sender * BATCHES + k) + j, 100 + sender, 100 + sender, now - 60 * MIN + (k * 4 + j) as i64 * 1_000, "/"))
                        .map(Via::Browser);
                    for event in events {
                        let mut to = b_url.clone();
                        loop {
                            match request(&to, &event).send().await {
                                Ok(answer) if answer.status() == 200 => {
                                    if to == b_url {
                                        by_b.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                                    }
                                    break;
                                }
                                _ => to = a_url.clone(),
                            }
                        }
                    }
                }
            })
        })
        .collect();
    // Kill B once it has acknowledged some of the load.
    while acknowledged_by_b.load(std::sync::atomic::Ordering::Relaxed) < 150 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    b.kill();
    for sender in senders {
        sender.await.unwrap();
    }
    let total = SENDERS * BATCHES * 4;
    assert!(acknowledged_by_b.load(std::sync::atomic::Ordering::Relaxed) < total, "B was killed before the end of the load");

    // Every event acknowledged by either collector, made an event once, in
    // one session per sender.
    let deadline = Instant::now() + Duration::from_secs(60);
    let stored = "SELECT count() AS n FROM events FINAL WHERE site = 'shop'";
    let sessions = "SELECT count() AS n FROM sessions FINAL WHERE site = 'shop' AND deleted = 0";
    while (count(&shards[0], &database, stored).await, count(&shards[0], &database, sessions).await) != (total, SENDERS)
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(count(&shards[0], &database, stored).await, total);
    assert_eq!(count(&shards[0], &database, "SELECT uniqExact(id) AS n FROM events WHERE site = 'shop'").await, total, "no event twice");
    assert_eq!(count(&shards[0], &database, sessions).await, SENDERS);
}
