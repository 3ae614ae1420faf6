//! The store alone, without HTTP: how many events per second the SQLite
//! writer commits when `requests` appends of `batch` events are always in
//! flight, like the ingest benchmark's connections. Shows the ceiling the
//! writer puts on ingest; `cargo xtask bench` measures the whole path.
//!
//! `cargo run --profile server -p waymark-collector --example store_bench -- [batch] [requests] [seconds]`

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use waymark_collector::store::sqlite::SqliteStore;
use waymark_collector::event::StoredEvent;
use waymark_collector::store::Store;

/// The collector's allocator, as in `waymark`.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn event(connection: u64, request: u64, n: u64, ts: i64) -> StoredEvent {
    let visitor = request / 10;
    StoredEvent {
        site: "demo".into(),
        // UUID v7 like the SDK's event ids; counters where browsers put random bits.
        id: format!("{:08x}-{:04x}-7{:03x}-8000-{connection:06x}{:06x}", ts >> 16, ts & 0xffff, n & 0xfff, request & 0xff_ffff),
        ts,
        received_ms: ts,
        name: "$pageview".into(),
        client_session_id: Some(format!("{connection:08x}-0000-4000-8000-{visitor:012x}")),
        visitor_id: format!("{connection:08x}-0001-4000-8000-{visitor:012x}"),
        url: format!("https://bench.example/page/{n}"),
        host: "bench.example".into(),
        path: format!("/page/{n}"),
        title: Some(format!("Page {n}")),
        referrer: Some("https://www.google.com/".into()),
        referrer_host: Some("www.google.com".into()),
        source: Some("Google".into()),
        medium: Some("organic".into()),
        props: "{}".into(),
        browser: Some("Firefox".into()),
        browser_version: Some("133.0".into()),
        os: Some("Linux".into()),
        device: Some("desktop".into()),
        ..StoredEvent::default()
    }
}

/// CPU time (user + system) of this process's thread named `name`, from
/// `/proc` (Linux).
fn thread_cpu_seconds(name: &str) -> f64 {
    let ticks_per_second = 100.0;
    std::fs::read_dir("/proc/self/task")
        .into_iter()
        .flatten()
        .flatten()
        .filter(|task| std::fs::read_to_string(task.path().join("comm")).is_ok_and(|c| c.trim() == name))
        .filter_map(|task| std::fs::read_to_string(task.path().join("stat")).ok())
        .map(|stat| {
            // Fields after the parenthesized name: utime and stime are the 12th and 13th.
            let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
            let field = |n: usize| after.split_whitespace().nth(n).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
            (field(11) + field(12)) / ticks_per_second
        })
        .sum()
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args: Vec<u64> = std::env::args().skip(1).map(|a| a.parse()).collect::<Result<_, _>>()?;
    let (batch, requests, seconds) = (args.first().copied().unwrap_or(20), args.get(1).copied().unwrap_or(64), args.get(2).copied().unwrap_or(5));
    let dir = tempfile::tempdir()?;
    let store = Arc::new(SqliteStore::open(dir.path())?);
    let events = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let workers: Vec<_> = (0..requests)
        .map(|connection| {
            let (store, events) = (store.clone(), events.clone());
            tokio::spawn(async move {
                let mut request = 0;
                while Instant::now() < deadline {
                    let ts = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
                    let batch: Vec<StoredEvent> = (0..batch).map(|n| event(connection, request, n, ts)).collect();
                    let appended = store.append(batch).await.expect("append");
                    events.fetch_add(appended.len() as u64, Ordering::Relaxed);
                    request += 1;
                }
            })
        })
        .collect();
    for w in workers {
        w.await?;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let writer_seconds = thread_cpu_seconds("waymark-writer");
    store.close().await;
    let events = events.load(Ordering::Relaxed) as f64;
    println!(
        "batches of {batch}, {requests} in flight: {:.0} events/s; writer on CPU {:.1} µs per event ({:.0}% of the time)",
        events / elapsed,
        writer_seconds / events * 1e6,
        writer_seconds / elapsed * 100.0
    );
    Ok(())
}
