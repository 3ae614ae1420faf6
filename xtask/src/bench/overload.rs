//! Overload: the collector (`--profile server`, SQLite) at twice what it
//! can take. First its capacity, closed loop (batches of 10, 64
//! connections, 20 s); then an open-loop load at twice that rate for
//! `WAYMARK_OVERLOAD_MINUTES` (default 10): requests leave on schedule
//! whatever the answers, on up to 800 connections (as a reverse proxy in
//! front keeps a pool of them, under the collector's 1000), each given up
//! 10 s after it was due. Batches of 10 rather than single events: the
//! generator shares the machine's two cores with the collector, and
//! must not be what limits the load. Meanwhile `/healthz` is asked every second on a new
//! connection (as a load balancer does) and the collector's RSS is sampled
//! every minute. The figures: answers by status, whether the 429s and 503s
//! said when to retry, health checks answered, RSS by minute, the p99 of
//! the answers given, and every acknowledged event id looked up in the
//! database afterwards.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Result;

use super::ingest::{CONFIG, Collector};
use super::loadgen::{self, Endpoint, Load, OpenLoad, Shape};
use super::soak::Memory;

fn minutes() -> u64 {
    std::env::var("WAYMARK_OVERLOAD_MINUTES").ok().and_then(|s| s.parse().ok()).unwrap_or(10)
}

const CAPACITY_RUN: Duration = Duration::from_secs(20);
const MAX_CONNECTIONS: usize = 800;
const BATCH: usize = 10;
const GIVE_UP: Duration = Duration::from_secs(10);

/// What the health checks and the RSS samples saw.
#[derive(Default)]
struct Watched {
    healthy: u64,
    unhealthy: u64,
    /// The slowest health check answered, in ms.
    slowest_ms: f64,
    rss_mib: Vec<f64>,
    /// Of each RSS sample, anonymous memory (not mapped file pages).
    anon_mib: Vec<f64>,
}

pub fn section(root: &Path) -> Result<String> {
    crate::run(Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(root)
        .args(["build", "--profile", "server", "-p", "waymark-collector"]))?;
    let binary = root.join("target/server/waymark");
    let work = std::env::temp_dir().join(format!("waymark-bench-overload-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work)?;
    let config = work.join("overload.toml");
    std::fs::write(&config, CONFIG)?;
    let data = work.join("data");
    let collector = Collector::start(&binary, &config, &data)?;
    let load_before = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();

    let capacity = loadgen::run(Load {
        addr: collector.addr,
        run: 1,
        connections: 64,
        batch: BATCH,
        duration: CAPACITY_RUN,
        rate: None,
        endpoint: Endpoint::Native,
        shape: Shape::Visits,
    })?;
    let capacity_rate = capacity.requests_per_second();
    let rate = 2.0 * capacity_rate;
    eprintln!("overload: capacity {capacity_rate:.0} requests/s; sending {rate:.0}/s for {} minutes", minutes());

    let stop = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (addr, pid, stop) = (collector.addr, collector.pid(), stop.clone());
        std::thread::spawn(move || watch(addr, pid, &stop))
    };
    let answers = loadgen::open_loop(OpenLoad {
        addr: collector.addr,
        run: 2,
        rate,
        batch: BATCH,
        duration: Duration::from_secs(60 * minutes()),
        max_connections: MAX_CONNECTIONS,
        timeout: GIVE_UP,
    })?;
    stop.store(true, Ordering::Relaxed);
    let watched = watcher.join().map_err(|_| anyhow::anyhow!("the watcher panicked"))??;
    let peak_rss_mib = collector.peak_rss_kib()? as f64 / 1024.0;
    collector.stop()?;
    let load_after = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();

    let stored: HashSet<u128> = {
        let conn = rusqlite::Connection::open(data.join("waymark.db"))?;
        let mut statement = conn.prepare("SELECT id FROM events")?;
        let ids = statement.query_map([], |row| row.get::<_, String>(0))?;
        ids.filter_map(|id| id.ok().and_then(|id| loadgen::id_number(&id))).collect()
    };
    let lost = answers.acknowledged.iter().filter(|id| !stored.contains(id)).count();
    let _ = std::fs::remove_dir_all(&work);
    Ok(report(capacity_rate, rate, &answers, &watched, lost, peak_rss_mib, [&load_before, &load_after]))
}

/// Health checks every second and RSS every minute, until `stop`.
fn watch(addr: SocketAddr, pid: u32, stop: &AtomicBool) -> Result<Watched> {
    let mut watched = Watched::default();
    let started = Instant::now();
    let mut next_check = started;
    let mut next_sample = started + Duration::from_secs(60);
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        if now >= next_sample {
            let memory = Memory::of(pid)?;
            watched.rss_mib.push(memory.rss_mib());
            watched.anon_mib.push(memory.anon_mib());
            eprintln!("overload: minute {}: RSS {:.1} MiB ({:.1} anonymous)", watched.rss_mib.len(), memory.rss_mib(), memory.anon_mib());
            next_sample += Duration::from_secs(60);
        }
        if now >= next_check {
            let asked = Instant::now();
            if healthz(addr).is_ok_and(|ok| ok) {
                watched.healthy += 1;
                watched.slowest_ms = watched.slowest_ms.max(asked.elapsed().as_secs_f64() * 1e3);
            } else {
                watched.unhealthy += 1;
            }
            next_check += Duration::from_secs(1);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(watched)
}

/// `GET /healthz` on a new connection, given 2 s; whether it said 200.
fn healthz(addr: SocketAddr) -> Result<bool> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    stream.write_all(b"GET /healthz HTTP/1.0\r\nHost: bench\r\n\r\n")?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    Ok(answer.starts_with("HTTP/1.1 200") || answer.starts_with("HTTP/1.0 200"))
}

fn report(capacity: f64, rate: f64, a: &loadgen::Answers, w: &Watched, lost: usize, peak_rss_mib: f64, loads: [&str; 2]) -> String {
    let date = String::from_utf8(Command::new("date").args(["-u", "+%Y-%m-%d %H:%M UTC"]).output().map(|o| o.stdout).unwrap_or_default()).unwrap_or_default();
    let load = |l: &str| l.split_whitespace().next().unwrap_or("?").to_owned();
    let share = |n: u64| 100.0 * n as f64 / a.sent.max(1) as f64;
    let refused = a.too_many + a.unavailable;
    let mut s = format!(
        "## Overload\n\n\
         From `WAYMARK_BENCH_ONLY=overload cargo xtask bench` (`WAYMARK_OVERLOAD_MINUTES={}`), finished {}: the collector \
         (`--profile server`, SQLite, default `[limits] write_queue` and `[server]` limits, rate limits out of the way) \
         measured closed loop first ({} s of batches of {BATCH} on 64 connections: **{capacity:.0} requests/s**), then sent \
         twice that, **{rate:.0} requests/s** of batches of {BATCH}, open loop for {:.1} minutes (requests leave on schedule \
         whatever the answers, on up to {MAX_CONNECTIONS} keep-alive connections, as a reverse proxy's pool, under the collector's 1000; one not answered {} s after it was due \
         is given up), while `/healthz` was asked every second on a new connection. The machine is shared (2 cores, the \
         load generator on one of them, other agents' work beside; load average {} at the start, {} at the end).\n\n\
         | answers | count | share |\n| --- | ---: | ---: |\n\
         | sent | {} | 100% |\n| 2xx | {} | {:.1}% |\n| 429 | {} | {:.1}% |\n| 503 | {} | {:.1}% |\n| other status | {} | {:.1}% |\n\
         | no answer (refused, reset or {} s) | {} | {:.1}% |\n\n",
        minutes(),
        date.trim(),
        CAPACITY_RUN.as_secs(),
        a.elapsed.as_secs_f64() / 60.0,
        GIVE_UP.as_secs(),
        load(loads[0]),
        load(loads[1]),
        a.sent,
        a.ok,
        share(a.ok),
        a.too_many,
        share(a.too_many),
        a.unavailable,
        share(a.unavailable),
        a.other,
        share(a.other),
        GIVE_UP.as_secs(),
        a.no_answer,
        share(a.no_answer),
    );
    s.push_str(&format!(
        "Answers given: p50 {:.1} ms, p99 {:.1} ms, slowest {:.1} ms (from the moment each request was due). \
         {} of {refused} refusals said when to retry (`Retry-After`). {:.0} events/s acknowledged. \
         Health checks: {} answered 200, {} failed (slowest {:.1} ms).\n\n",
        a.percentile(0.5).as_secs_f64() * 1e3,
        a.percentile(0.99).as_secs_f64() * 1e3,
        a.latencies.last().map_or(0.0, |d| d.as_secs_f64() * 1e3),
        a.with_retry_after,
        a.acknowledged.len() as f64 / a.elapsed.as_secs_f64(),
        w.healthy,
        w.unhealthy,
        w.slowest_ms,
    ));
    s.push_str("| minute | RSS | of it anonymous |\n| ---: | ---: | ---: |\n");
    for (i, (rss, anon)) in w.rss_mib.iter().zip(&w.anon_mib).enumerate() {
        s.push_str(&format!("| {} | {rss:.1} MiB | {anon:.1} MiB |\n", i + 1));
    }
    // Flat: no sample after the first minute's above it (plus a margin);
    // the highest, not the last, so that a cache cleared late in the run
    // does not hide what it grew to.
    let after_first = |samples: &[f64]| samples.iter().skip(1).copied().fold(0.0, f64::max);
    let (first, last, highest) = (w.rss_mib.first().copied().unwrap_or(0.0), w.rss_mib.last().copied().unwrap_or(0.0), after_first(&w.rss_mib));
    let flat = highest <= first * 1.10 + 8.0;
    let (first_anon, highest_anon) = (w.anon_mib.first().copied().unwrap_or(0.0), after_first(&w.anon_mib));
    let anon_flat = highest_anon <= first_anon * 1.10 + 8.0;
    s.push_str(&format!(
        "\nPeak RSS {peak_rss_mib:.1} MiB. Acknowledged events looked up by id afterwards: {} acknowledged, **{lost} lost**.\n\n\
         Verdict: {}; RSS {} after minute 1 ({first:.1} MiB, at most {highest:.1} MiB after it, {last:.1} MiB at the end), \
         anonymous memory {} ({first_anon:.1} MiB, at most {highest_anon:.1} MiB after it); \
         health checks {}; nothing acknowledged lost: {}.\n\n",
        a.acknowledged.len(),
        if a.no_answer == 0 && a.other == 0 && refused == a.with_retry_after {
            "what it could not take was answered 429/503 with `Retry-After`, nothing left unanswered".to_owned()
        } else {
            format!("**{} requests got no answer or another status** and {} refusals lacked `Retry-After`", a.no_answer + a.other, refused - a.with_retry_after)
        },
        if flat { "flat" } else { "**grew**" },
        if anon_flat { "flat" } else { "**grew**" },
        if w.unhealthy == 0 { "all answered".to_owned() } else { format!("**{} failed**", w.unhealthy) },
        if lost == 0 { "yes" } else { "**no**" },
    ));
    s
}
