//! The query benchmark behind `cargo xtask bench` (see
//! `xtask/src/bench/query.rs`): seeds a SQLite store with synthetic events
//! over 90 days and derives their sessions with the store's own rule (its
//! rebuild), times the dashboard's queries on it through the read seam, then
//! measures ingest throughput over HTTP with and without dashboard queries
//! running. With `QUERY_BENCH_CLICKHOUSE=http://…` (a server the bench
//! started) each store is also moved there by `waymark migrate`'s own code
//! and the same queries are timed on ClickHouse. Prints a markdown section
//! on stdout.
//!
//! `cargo run --profile server -p waymark-collector --example query_bench -- 1000000 [10000000 …]`

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rusqlite::{Connection, params};
use waymark_collector::config::Config;
use waymark_collector::event::StoredEvent;
use waymark_collector::query::breakdown::BreakdownRequest;
use waymark_collector::query::filter::{Dimension, Filter};
use waymark_collector::query::overview::OverviewRequest;
use waymark_collector::query::period::{Interval, Period};
use waymark_collector::query::realtime::RealtimeRequest;
use waymark_collector::query::{QueryError, Site};
use waymark_collector::store::Store;
use waymark_collector::store::read::Reads;
use waymark_collector::migrate;
use waymark_collector::store::clickhouse::{Client, ClickhouseReads, Connection as ClickhouseConnection};
use waymark_collector::store::sqlite::{SqliteReads, SqliteStore};

const SITE: &str = "bench";
const TIME_ZONE: &str = "Europe/Berlin";
const DAYS: i64 = 90;
/// The end of the seeded history (2026-01-01T00:00Z): "now" for the queries.
const END_MS: i64 = 1_767_225_600_000;
/// Runs of each query: fewer on stores of 5M events and more, whose
/// slowest queries take seconds.
fn runs(events: u64) -> usize {
    if events >= 5_000_000 { 5 } else { 15 }
}
const TOKEN: &str = "bench-token";
/// How long each ingest phase runs.
const INGEST_SECONDS: u64 = 5;
const INGEST_CLIENTS: usize = 8;
const BATCH: usize = 20;

const PATHS: [&str; 12] = ["/", "/pricing", "/docs", "/docs/install", "/docs/api", "/blog", "/blog/launch", "/blog/privacy", "/about", "/contact", "/signup", "/login"];
const SOURCES: [Option<&str>; 6] = [None, Some("Google"), Some("news.example"), Some("Bing"), Some("GitHub"), Some("Newsletter")];
const COUNTRIES: [&str; 10] = ["DE", "US", "FR", "GB", "NL", "IN", "BR", "JP", "CA", "ES"];
const DEVICES: [&str; 3] = ["desktop", "mobile", "tablet"];
const BROWSERS: [&str; 5] = ["Chrome", "Firefox", "Safari", "Edge", "Samsung Internet"];
const OSES: [&str; 5] = ["Windows", "macOS", "Android", "iOS", "Linux"];
const CAMPAIGNS: [Option<&str>; 4] = [None, None, Some("spring"), Some("launch")];
const CUSTOM: [&str; 3] = ["signup", "download", "outbound"];
const PLANS: [&str; 3] = ["free", "pro", "team"];

/// xorshift64*: synthetic data needs speed and repeatability, not quality.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
    fn uuid(&mut self) -> String {
        let (a, b) = (self.next(), self.next());
        format!("{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}", a >> 32, (a >> 16) & 0xffff, a & 0xfff, 0x8000 | (b >> 48) & 0x3fff, b & 0xffff_ffff_ffff)
    }
}

/// Writes `events` events in visits of 1–7 (each one SDK session), in one
/// transaction; their sessions are left to the store's rebuild. Each event
/// is written with the session id the rule will give it, so that the
/// rebuild moves none (a visitor's visits rarely overlap).
fn seed_events(db: &Path, events: u64) -> anyhow::Result<()> {
    let mut conn = Connection::open(db)?;
    conn.pragma_update(None, "synchronous", "OFF")?;
    conn.pragma_update(None, "cache_size", -512_000)?;
    let tx = conn.transaction()?;
    {
        let mut insert_event = tx.prepare(
            "INSERT INTO events (site, id, ts, received_ms, name, session_id, client_session_id, visitor_id, url, host, path,
                source, medium, utm_campaign, browser, os, device, country, props)
             VALUES (?1, ?2, ?3, ?3, ?4, ?5, ?6, ?7, ?8, 'bench.example', ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
        )?;
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let visitors = (events / 8).max(1);
        let mut written = 0;
        while written < events {
            let client_session = rng.uuid();
            let visitor = format!("visitor-{}", rng.below(visitors));
            let count = (1 + rng.below(7)).min(events - written);
            let source = rng.pick(&SOURCES);
            let medium = source.map(|_| "referral");
            let campaign = rng.pick(&CAMPAIGNS);
            let (browser, os, device, country) = (rng.pick(&BROWSERS), rng.pick(&OSES), rng.pick(&DEVICES), rng.pick(&COUNTRIES));
            // Sessions run until "now", so realtime has a live hour to count.
            let start = END_MS - DAYS * 86_400_000 + rng.below((DAYS * 86_400_000 - 35 * 60_000) as u64) as i64;
            let mut ts = start;
            let mut session = String::new();
            for i in 0..count {
                let path = rng.pick(&PATHS);
                let (name, props) = if i == 0 || rng.below(10) < 7 {
                    ("$pageview", "{}".to_owned())
                } else {
                    (rng.pick(&CUSTOM), format!("{{\"plan\":\"{}\"}}", rng.pick(&PLANS)))
                };
                let id = rng.uuid();
                if i == 0 {
                    let first = StoredEvent { id: id.clone(), ts, ..StoredEvent::default() };
                    session = waymark_collector::sessions::session_id(SITE, &visitor, &first);
                }
                insert_event.execute(params![
                    SITE, id, ts, name, session, client_session, visitor, format!("https://bench.example{path}"), path, source,
                    medium, campaign, browser, os, device, country, props
                ])?;
                if i + 1 < count {
                    ts += 10_000 + rng.below(300_000) as i64;
                }
            }
            written += count;
        }
    }
    waymark_collector::store::sqlite::recount_event_slots(&tx)?;
    tx.commit()?;
    Ok(())
}

/// A store in `dir` holding `events` synthetic events and the sessions the
/// rule derives from them; returns the number of sessions and the time taken.
async fn seed(dir: &Path, events: u64) -> anyhow::Result<(u64, Duration)> {
    let started = Instant::now();
    // Opening the store creates the schema and every migration.
    let store = SqliteStore::open(dir)?;
    let db = store.path().to_path_buf();
    store.close().await;
    seed_events(&db, events)?;
    let store = SqliteStore::open(dir)?;
    let rebuilt = store.rebuild_sessions().await?;
    store.close().await;
    Connection::open(&db)?.execute_batch("ANALYZE")?;
    Ok((rebuilt.sessions as u64, started.elapsed()))
}

/// One run of a query through the read seam.
type Query<'a> = Box<dyn Fn() -> Pin<Box<dyn Future<Output = Result<(), QueryError>> + Send + 'a>> + 'a>;
/// A named query, its bar in ms at a million events, and how to run it once.
type Case<'a> = (&'static str, f64, Query<'a>);

struct Timing {
    median_ms: f64,
    max_ms: f64,
}

async fn time(query: &Query<'_>, runs: usize) -> Timing {
    query().await.expect("query"); // warm the page cache and the statement cache
    let mut ms = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        query().await.expect("query");
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    ms.sort_by(f64::total_cmp);
    Timing { median_ms: ms[runs / 2], max_ms: ms[runs - 1] }
}

async fn latencies(reads: &impl Reads, backend: &str, events: u64, sessions: u64, seeded: &str, out: &mut String) -> anyhow::Result<()> {
    let site = Site::new(SITE, TIME_ZONE)?;
    let month = Period::last_days(30, END_MS - 1, &site.time_zone);
    let (reads, site) = (&reads, &site);
    let overview = OverviewRequest { period: month.clone(), interval: Interval::Day, filters: vec![], people: None };
    let breakdown = |dimension: Dimension, filter: Filter| -> Query<'_> {
        let request = BreakdownRequest { period: month.clone(), dimension, filters: vec![filter], limit: 10 };
        Box::new(move || {
            let request = request.clone();
            Box::pin(async move { reads.breakdown(site, &request).await.map(drop) })
        })
    };
    let realtime = RealtimeRequest { now_ms: END_MS, filters: vec![] };
    let cases: Vec<Case> = vec![
        ("realtime (active visitors, 60 minutes)", 20.0, Box::new(move || {
            let request = realtime.clone();
            Box::pin(async move { reads.realtime(site, &request).await.map(drop) })
        })),
        (
            "30-day overview, daily, with previous period",
            100.0,
            Box::new(move || {
                let request = overview.clone();
                Box::pin(async move { reads.overview(site, &request).await.map(drop) })
            }),
        ),
        ("30-day breakdown: pages where country = DE", 200.0, breakdown(Dimension::Page, Filter::new(Dimension::Country, "DE"))),
        ("30-day breakdown: sources where device = mobile", 200.0, breakdown(Dimension::Source, Filter::new(Dimension::Device, "mobile"))),
        ("30-day breakdown: countries where page = /pricing", 200.0, breakdown(Dimension::Country, Filter::new(Dimension::Page, "/pricing"))),
    ];
    out.push_str(&format!(
        "\n### {events} events ({sessions} sessions) over {DAYS} days, {backend}\n\n{seeded} Median and slowest of {} runs \
         after one warm-up, one at a time through the read seam (as the API runs them).\n\n\
         | query | median ms | slowest ms | bar (at 1M) |\n| --- | ---: | ---: | ---: |\n",
        runs(events)
    ));
    for (name, bar, query) in &cases {
        let t = time(query, runs(events)).await;
        out.push_str(&format!("| {name} | {:.1} | {:.1} | ≤ {bar:.0} |\n", t.median_ms, t.max_ms));
        eprintln!("{backend}, {events} events: {name}: {:.1} ms median", t.median_ms);
    }
    Ok(())
}

/// Events/s accepted over HTTP by `INGEST_CLIENTS` concurrent senders, while
/// `readers` clients loop the dashboard's queries.
async fn ingest_rate(url: &str, readers: usize) -> (f64, u64) {
    let stop = Arc::new(AtomicBool::new(false));
    let accepted = Arc::new(AtomicU64::new(0));
    let queries = Arc::new(AtomicU64::new(0));
    // A browser's user agent: without one, the collector counts a bot.
    let client = reqwest::Client::builder()
        .user_agent("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36")
        .build()
        .expect("an HTTP client");
    let mut tasks = Vec::new();
    for n in 0..INGEST_CLIENTS {
        let (stop, accepted, client, url) = (stop.clone(), accepted.clone(), client.clone(), url.to_owned());
        tasks.push(tokio::spawn(async move {
            let mut rng = Rng(0xA5A5_0000 + n as u64 + 1);
            while !stop.load(Ordering::Relaxed) {
                let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
                let session = rng.uuid();
                let events: Vec<_> = (0..BATCH)
                    .map(|_| serde_json::json!({"id": rng.uuid(), "name": "$pageview", "ts": now, "session_id": session, "url": "https://bench.example/load"}))
                    .collect();
                let body = serde_json::json!({"site": SITE, "sent_at": now, "events": events}).to_string();
                let r = client.post(format!("{url}/api/collect")).header("content-type", "text/plain").body(body).send().await;
                match r {
                    Ok(r) if r.status().is_success() => {
                        if let Ok(answer) = r.json::<serde_json::Value>().await {
                            accepted.fetch_add(answer["accepted"].as_u64().unwrap_or(0), Ordering::Relaxed);
                        }
                    }
                    Ok(r) => {
                        eprintln!("ingest refused: {} {}", r.status(), r.text().await.unwrap_or_default());
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    Err(e) => eprintln!("ingest failed: {e}"),
                }
            }
        }));
    }
    let routes = [
        "/api/query/overview?site=bench&from=2025-12-02&to=2025-12-31",
        "/api/query/breakdown?site=bench&from=2025-12-02&to=2025-12-31&dimension=page&filter.country=DE",
        "/api/query/realtime?site=bench",
    ];
    for _ in 0..readers {
        let (stop, queries, client, url) = (stop.clone(), queries.clone(), client.clone(), url.to_owned());
        tasks.push(tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let r = client.get(format!("{url}{}", routes[i % routes.len()])).bearer_auth(TOKEN).send().await;
                if r.map(|r| r.status().is_success()).unwrap_or(false) {
                    queries.fetch_add(1, Ordering::Relaxed);
                }
                i += 1;
            }
        }));
    }
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(INGEST_SECONDS)).await;
    stop.store(true, Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    for t in tasks {
        let _ = t.await;
    }
    (accepted.load(Ordering::Relaxed) as f64 / elapsed, queries.load(Ordering::Relaxed))
}

async fn ingest_section(dir: &Path, out: &mut String) -> anyhow::Result<()> {
    let mut config = Config::demo("127.0.0.1:0".parse()?, dir.to_path_buf());
    let mut bench = config.sites[0].clone();
    bench.key = SITE.into();
    bench.time_zone = TIME_ZONE.into();
    config.sites.push(bench);
    config.dashboard.admin_password = Some("bench".into());
    config.dashboard.api_tokens = vec![TOKEN.into()];
    // One address sends everything here: measure the store, not the limiter.
    config.limits.per_ip_per_second = 1_000_000;
    config.limits.per_ip_burst = 1_000_000;
    config.limits.per_site_per_second = 1_000_000;
    config.limits.per_site_burst = 1_000_000;
    let server = waymark_collector::start(config).await?;
    let url = format!("http://{}", server.addr);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(server.run_until(async move {
        let _ = stopped.await;
    }));
    let wal = || std::fs::metadata(dir.join("waymark.db-wal")).map_or(0, |m| m.len() / 1_048_576);
    let (alone, _) = ingest_rate(&url, 0).await;
    eprintln!("WAL after ingest alone: {} MiB", wal());
    let (with_queries, queries) = ingest_rate(&url, 2).await;
    eprintln!("WAL after ingest with queries: {} MiB", wal());
    let _ = stop.send(());
    running.await??;
    out.push_str(&format!(
        "\n### Ingest while the dashboard queries\n\n{INGEST_CLIENTS} clients post batches of {BATCH} events over HTTP for \
         {INGEST_SECONDS} s, first alone, then with 2 clients looping the overview, a filtered breakdown and realtime \
         on the largest store above. Load generator, collector and queries share this machine's cores.\n\n\
         | | events/s |\n| --- | ---: |\n| ingest alone | {alone:.0} |\n| ingest with queries ({:.1} queries/s) | {with_queries:.0} |\n\
         | ratio | **{:.2}** |\n",
        queries as f64 / INGEST_SECONDS as f64,
        with_queries / alone.max(1.0)
    ));
    Ok(())
}

/// The store in `dir` moved into a database of its own on the server at
/// `url`, as `waymark migrate --to clickhouse` moves it (its sessions
/// recomputed there, its per-day counts compared); the reads of it.
async fn moved_to_clickhouse(dir: &Path, url: &str, events: u64) -> anyhow::Result<(ClickhouseReads, String)> {
    let mut config = Config::demo("127.0.0.1:0".parse()?, dir.to_path_buf());
    config.store.backend = waymark_collector::config::Backend::Clickhouse;
    config.store.url = Some(url.to_owned());
    config.store.database = format!("query_bench_{events}");
    let started = Instant::now();
    eprintln!("moving {events} events to ClickHouse…");
    let moved = migrate::to_clickhouse(&config, 50_000, &mut |_| {}).await?;
    anyhow::ensure!(moved.comparison.first_difference().is_none(), "the move's per-day counts differ");
    let connection = waymark_collector::store::clickhouse::Connection::of(&config.store).expect("ClickHouse");
    let how = format!(
        "One `clickhouse-server` (Debian's 18.16) on this machine; the SQLite store above moved in by `waymark migrate`'s \
         code in {:.1} s (copy, sessions recomputed, per-day counts compared); every read through `FINAL`.",
        started.elapsed().as_secs_f64()
    );
    Ok((ClickhouseReads::new(Client::new(connection)), how))
}

/// The same store keyed as schema version 2 keyed it (events and sessions
/// by id, so every read merges a site's whole table), in a database
/// beside it: the layout before, timed in the same run.
async fn keyed_by_id(url: &str, events: u64) -> anyhow::Result<ClickhouseReads> {
    let (moved, by_id) = (format!("query_bench_{events}"), format!("query_bench_{events}_by_id"));
    let client = Client::new(ClickhouseConnection::server(url.to_owned(), by_id.clone()));
    client.execute_on_server(&format!("CREATE DATABASE IF NOT EXISTS {by_id}")).await?;
    for table in ["events", "sessions"] {
        client.execute(&format!("DROP TABLE IF EXISTS {table}")).await?;
        client.execute(&format!("CREATE TABLE {table} AS {moved}.{table} ENGINE = ReplacingMergeTree(version) ORDER BY (site, id)")).await?;
        client.execute(&format!("INSERT INTO {table} SELECT * FROM {moved}.{table}")).await?;
    }
    Ok(ClickhouseReads::new(client))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let sizes: Vec<u64> = std::env::args().skip(1).map(|a| a.parse()).collect::<Result<_, _>>()?;
    let sizes = if sizes.is_empty() { vec![1_000_000] } else { sizes };
    let mut out = String::from("## Query latency\n\nSynthetic site: 12 pages, 6 sources, 10 countries; sessions of 1–7 events spread over 90 days, reported in Europe/Berlin.\n");
    let mut last_dir = None;
    for events in sizes {
        let dir = tempfile::tempdir()?;
        eprintln!("seeding {events} events…");
        let (sessions, seeded) = seed(dir.path(), events).await?;
        let db = dir.path().join("waymark.db");
        if let Ok(keep) = std::env::var("QUERY_BENCH_KEEP") {
            std::fs::copy(&db, keep)?;
        }
        eprintln!("seeded {sessions} sessions in {:.1} s", seeded.as_secs_f64());
        let how = format!(
            "Seeded in {:.1} s (the events in one transaction, then their sessions by the store's rebuild); a pooled \
             read-only connection on a blocking thread.",
            seeded.as_secs_f64()
        );
        latencies(&SqliteReads::open(&db), "SQLite", events, sessions, &how, &mut out).await?;
        if let Ok(url) = std::env::var("QUERY_BENCH_CLICKHOUSE") {
            let (reads, how) = moved_to_clickhouse(dir.path(), &url, events).await?;
            latencies(&reads, "ClickHouse", events, sessions, &how, &mut out).await?;
            // At 10M the old layout's slowest reads near the client's 30 s
            // statement timeout: timed at smaller sizes only.
            if events >= 5_000_000 {
                last_dir = Some(dir);
                continue;
            }
            let before = keyed_by_id(&url, events).await?;
            let how = "The same rows keyed by id, as schema version 2 keyed them (the layout before time-first keys), \
                       copied in one insert each: the queries above on the old layout, in the same run.";
            latencies(&before, "ClickHouse keyed by id (before)", events, sessions, how, &mut out).await?;
        }
        last_dir = Some(dir);
    }
    if let Some(dir) = &last_dir {
        ingest_section(dir.path(), &mut out).await?;
    }
    println!("{out}");
    Ok(())
}
