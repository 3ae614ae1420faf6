//! The lifecycle benchmark behind `cargo xtask bench` (see
//! `xtask/src/bench/lifecycle.rs`): seeds a SQLite store with synthetic
//! events over 90 days (sessions by the store's own rebuild), then
//! - measures appends through the write seam alone (as `store_bench`
//!   does: requests always in flight, no HTTP),
//! - runs retention that deletes the oldest 30 of the 90 days through the
//!   retention job (bounded chunks on the writer) while the same appends
//!   go on, and reports rows/s and the append rate beside it against alone,
//! - times the erasure of one visitor (the transaction, and the WAL's
//!   checkpoint and truncation after it).
//!
//! Prints a markdown section on stdout.
//!
//! `cargo run --profile server -p waymark-collector --example lifecycle_bench -- [events] [ingest_seconds]`

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rusqlite::{Connection, params};
use waymark_collector::clock::{DAY_MS, ManualClock};
use waymark_collector::config::Config;
use waymark_collector::event::StoredEvent;
use waymark_collector::lifecycle::retention::{CHUNK_ROWS, Retention};
use waymark_collector::store::Store;
use waymark_collector::store::lifecycle::Selector;
use waymark_collector::store::sqlite::SqliteStore;

/// The collector's allocator, as in `waymark`.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SITE: &str = "bench";
const DAYS: i64 = 90;
/// Keeping 60 of the 90 days deletes the oldest 30.
const KEEP_DAYS: u32 = 60;
/// The end of the seeded history (2026-01-01T00:00Z): "now".
const END_MS: i64 = 1_767_225_600_000;
const APPENDERS: u64 = 16;
const BATCH: u64 = 20;

/// xorshift64*: repeatable synthetic data.
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
}

/// `events` events in visits of 1–7 spread evenly over the 90 days, written
/// in one transaction with the session ids the rule gives them; the
/// sessions come from the store's rebuild.
async fn seed(dir: &Path, events: u64) -> anyhow::Result<(u64, Duration)> {
    let started = Instant::now();
    let store = SqliteStore::open(dir)?;
    let db = store.path().to_path_buf();
    store.close().await;
    let mut conn = Connection::open(&db)?;
    conn.pragma_update(None, "synchronous", "OFF")?;
    let tx = conn.transaction()?;
    {
        let mut insert = tx.prepare(
            "INSERT INTO events (site, id, ts, received_ms, name, session_id, client_session_id, visitor_id, url, host, path, props,
                browser, os, device, country, source)
             VALUES (?1, ?2, ?3, ?3, '$pageview', ?4, ?5, ?6, ?7, 'bench.example', ?8, '{}', 'Firefox', 'Linux', 'desktop', 'DE', 'Google')",
        )?;
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let visitors = (events / 8).max(1);
        // Visits start in time order (as they arrive live), four events
        // each on average, evenly over the 90 days.
        let spacing = ((DAYS * DAY_MS - 3_600_000) / (events as i64 / 4).max(1)).max(1);
        let mut written = 0;
        let mut visit = 0u64;
        while written < events {
            let visitor = format!("visitor-{}", rng.below(visitors));
            let count = (1 + rng.below(7)).min(events - written);
            let start = END_MS - DAYS * DAY_MS + (visit as i64 * spacing).min(DAYS * DAY_MS - 3_600_000);
            let mut ts = start + rng.below(spacing as u64) as i64;
            let client_session = format!("cs-{visit}");
            let mut session = String::new();
            for i in 0..count {
                // Time first, as the SDK's UUID v7 event ids are.
                let id = format!("{:012x}-{:04x}-7000-8000-{:012x}", ts, i, rng.next() & 0xffff_ffff_ffff);
                if i == 0 {
                    session = waymark_collector::sessions::session_id(SITE, &visitor, &StoredEvent { id: id.clone(), ts, ..StoredEvent::default() });
                }
                let path = format!("/page/{}", rng.below(20));
                insert.execute(params![SITE, id, ts, session, client_session, visitor, format!("https://bench.example{path}"), path])?;
                ts += 10_000 + rng.below(300_000) as i64;
            }
            written += count;
            visit += 1;
        }
    }
    waymark_collector::store::sqlite::recount_event_slots(&tx)?;
    tx.commit()?;
    drop(conn);
    let store = SqliteStore::open(dir)?;
    let rebuilt = store.rebuild_sessions().await?;
    store.close().await;
    Connection::open(&db)?.execute_batch("ANALYZE")?;
    Ok((rebuilt.sessions as u64, started.elapsed()))
}

/// Appenders always in flight until `stop`; returns the events stored.
fn appenders(store: Arc<SqliteStore>, stop: Arc<AtomicBool>, round: u64) -> tokio::task::JoinHandle<u64> {
    let stored = Arc::new(AtomicU64::new(0));
    let tasks: Vec<_> = (0..APPENDERS)
        .map(|a| {
            let (store, stop, stored) = (store.clone(), stop.clone(), stored.clone());
            tokio::spawn(async move {
                let mut request = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let batch: Vec<StoredEvent> = (0..BATCH)
                        .map(|n| StoredEvent {
                            site: SITE.into(),
                            id: format!("new-{round}-{a}-{request}-{n}"),
                            ts: END_MS + (request * BATCH + n) as i64,
                            received_ms: END_MS,
                            name: "$pageview".into(),
                            visitor_id: format!("new-{round}-{a}-{}", request / 10),
                            url: "https://bench.example/new".into(),
                            path: "/new".into(),
                            props: "{}".into(),
                            ..StoredEvent::default()
                        })
                        .collect();
                    let appended = store.append(batch).await.expect("append");
                    stored.fetch_add(appended.len() as u64, Ordering::Relaxed);
                    request += 1;
                }
            })
        })
        .collect();
    tokio::spawn(async move {
        for t in tasks {
            t.await.expect("appender");
        }
        stored.load(Ordering::Relaxed)
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<u64> = std::env::args().skip(1).map(|a| a.parse()).collect::<Result<_, _>>()?;
    let events = args.first().copied().unwrap_or(1_000_000);
    let ingest_seconds = args.get(1).copied().unwrap_or(5);
    let dir = tempfile::tempdir()?;
    eprintln!("seeding {events} events…");
    let (sessions, seeded) = seed(dir.path(), events).await?;
    eprintln!("seeded {sessions} sessions in {:.1} s", seeded.as_secs_f64());

    let store = Arc::new(SqliteStore::open(dir.path())?);
    // Appends alone.
    let stop = Arc::new(AtomicBool::new(false));
    let running = appenders(store.clone(), stop.clone(), 0);
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(ingest_seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let alone = running.await? as f64 / started.elapsed().as_secs_f64();

    // Retention of 30 of the 90 days, with the same appends beside it.
    let mut config = Config::demo("127.0.0.1:0".parse()?, dir.path().to_path_buf());
    config.sites[0].key = SITE.into();
    config.sites[0].retention_days = Some(KEEP_DAYS);
    let seam: Arc<dyn Store> = store.clone();
    let retention = Retention::new(&config, seam, Arc::new(ManualClock::at(END_MS)), None);
    let dry: u64 = retention.preview(SITE).await?.map_or(0, |p| p.rows());
    let stop = Arc::new(AtomicBool::new(false));
    let running = appenders(store.clone(), stop.clone(), 1);
    let started = Instant::now();
    let run = retention.run_once().await?;
    let took = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let beside = running.await? as f64 / took;
    let site = &run.sites[0];
    eprintln!("retention: {} rows (dry run said {dry}) in {took:.1} s, {} chunks", site.deleted.rows(), site.chunks);

    // One visitor's erasure, five times over (seeded visitors seen in the
    // days that stayed): the median. The first also checkpoints what
    // retention left in the WAL.
    let visitors: Vec<String> = store
        .reader()?
        .prepare("SELECT DISTINCT visitor_id FROM sessions WHERE site = ?1 AND visitor_id LIKE 'visitor-%' LIMIT 5")?
        .query_map([SITE], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut erasures = Vec::new();
    for visitor in visitors {
        let started = Instant::now();
        let erased = store.erase(SITE, &Selector::Visitor(visitor), END_MS, "bench").await?;
        erasures.push((started.elapsed().as_secs_f64() * 1000.0, erased));
    }
    store.close().await;
    let first_ms = erasures[0].0;
    erasures.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (erase_ms, erased) = erasures[erasures.len() / 2];

    println!(
        "## Data lifecycle\n\n{events} synthetic events ({sessions} sessions) over {DAYS} days in SQLite, seeded in {:.1} s. \
         Appends go through the write seam with {APPENDERS} requests of {BATCH} events always in flight (the store alone, \
         no HTTP, as `store_bench`).\n\n\
         | | figure |\n| --- | ---: |\n\
         | retention: keep {KEEP_DAYS} of {DAYS} days, rows deleted (events + sessions; the dry run counted {dry}) | {} |\n\
         | retention: time, in {} chunks of at most {CHUNK_ROWS} rows | {took:.1} s |\n\
         | retention: rows deleted per second | **{:.0}** |\n\
         | retention: one chunk, mean (an append waits at most one) | {:.0} ms |\n\
         | appends alone, events/s | {alone:.0} |\n\
         | appends while retention runs, events/s | {beside:.0} |\n\
         | ratio | **{:.2}** |\n\
         | erasure of one visitor ({} events, {} sessions), incl. WAL truncation: median of 5 (first, after retention) | **{erase_ms:.1} ms** ({first_ms:.1} ms) |\n\
         \nRetention runs as the collector's job does: after a chunk that took `d` it waits `{}·d`, so it takes at most a \
         quarter of the writer's time; `waymark retention` (collector stopped) runs unpaced.\n",
        seeded.as_secs_f64(),
        site.deleted.rows(),
        site.chunks,
        site.deleted.rows() as f64 / took,
        site.busy_ms as f64 / site.chunks.max(1) as f64,
        beside / alone.max(1.0),
        erased.events,
        erased.sessions,
        waymark_collector::lifecycle::retention::WRITER_SHARE - 1,
    );
    Ok(())
}
