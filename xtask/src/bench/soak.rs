//! The soak: an hour (`WAYMARK_SOAK_MINUTES`, default 60) of mixed traffic
//! at a moderate rate against one collector (`--profile server`, SQLite,
//! default `[store]` bounds): browser batches and server-to-server batches
//! from the load generator (open loop, fixed rates), the dashboard's query
//! API with a token every two seconds, and the live stream (SSE) held open
//! the whole time. Every minute it samples the collector's RSS (and how
//! much of it is anonymous memory rather than mapped file pages), open
//! files (`/proc/PID/fd`), the WAL's size and the minute's p99 latencies;
//! the section has the table, a verdict on whether each line stayed flat,
//! and a PNG plot of them (`BENCHMARKS-soak.png`, drawn with plotters).
//!
//! The store starts with [`SEEDED_EVENTS`] events over the weeks before
//! the run, and the dashboard's queries ask for a fixed week of them (the
//! realtime figures for the last minutes): each query reads as much in the
//! last minute as in the first, as a dashboard does over a store held at
//! its retention, while the run's own events (a million in an hour) grow
//! the file underneath. A query reading everything sent so far would
//! get slower every minute by design, which says nothing about leaks.
//!
//! Flat means: RSS and open files at the end no higher than after the first
//! minute plus a margin (the allocator's and SQLite's caches settle in the
//! first minutes), the WAL under the collector's `wal_max_mib`, and the
//! last minutes' p99 within a few times the first minutes'.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::ingest::{CONFIG, Collector};
use super::loadgen::{self, Endpoint, Load, SECRET_KEY, Shape};

/// The dashboard token of the soak's config.
const TOKEN: &str = "soak-token-0123456789abcdef";
/// Events in the store before the run, over the 23 days before it.
const SEEDED_EVENTS: u64 = 1_000_000;
/// The collector's default `[store] wal_max_mib`, the WAL's bound.
const WAL_MAX_MIB: f64 = 64.0;
/// Browser batches: requests per second and events per request.
const BROWSER_RATE: f64 = 40.0;
const BROWSER_BATCH: usize = 5;
/// Server-to-server batches.
const SERVER_RATE: f64 = 5.0;
const SERVER_BATCH: usize = 20;
/// One dashboard query every this often, in turn.
const QUERY_EVERY: Duration = Duration::from_secs(2);
/// The dashboard's queries, in turn: a fixed week of the seeded events
/// (from nine to three days ago) and the realtime figures; and the week.
fn queries() -> Result<([String; 4], String)> {
    let today = jiff::Timestamp::now().to_zoned_datetime(jiff::tz::TimeZone::UTC).date();
    let from = today.checked_sub(jiff::Span::new().days(9))?;
    let to = today.checked_sub(jiff::Span::new().days(3))?;
    let week = format!("site=demo&from={from}&to={to}");
    let paths = [
        format!("/api/query/overview?{week}"),
        format!("/api/query/breakdown?{week}&dimension=page"),
        format!("/api/query/sessions?{week}&limit=50"),
        "/api/query/realtime?site=demo".to_owned(),
    ];
    Ok((paths, format!("{from} to {to}")))
}

fn minutes() -> u32 {
    std::env::var("WAYMARK_SOAK_MINUTES").ok().and_then(|s| s.parse().ok()).unwrap_or(60)
}

/// One minute's sample.
struct Sample {
    minute: u32,
    rss_mib: f64,
    /// Of the RSS, anonymous memory (heap, SQLite's caches); the rest is
    /// mapped file pages (the binary, the database the writer maps).
    anon_mib: f64,
    open_files: usize,
    wal_mib: f64,
    browser_p99_ms: f64,
    server_p99_ms: f64,
    query_p99_ms: f64,
    events: u64,
    failures: u64,
    live_events: u64,
}

pub fn section(root: &Path) -> Result<String> {
    crate::run(Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(root)
        .args(["build", "--profile", "server", "-p", "waymark-collector"]))?;
    let binary = root.join("target/server/waymark");
    let work = std::env::temp_dir().join(format!("waymark-bench-soak-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work)?;
    let config = work.join("soak.toml");
    std::fs::write(&config, format!("{CONFIG}secret_key = \"{SECRET_KEY}\"\n[dashboard]\napi_tokens = [\"{TOKEN}\"]\n"))?;
    let data = work.join("data");
    // Migrated by the collector itself, then seeded.
    Collector::start(&binary, &config, &data)?.stop()?;
    super::ingest::seed(&data.join("waymark.db"), SEEDED_EVENTS)?;
    let (queries, week) = queries()?;
    let collector = Collector::start(&binary, &config, &data)?;
    let pid = collector.pid();
    let load_before = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();

    let stop = Arc::new(AtomicBool::new(false));
    let live_events = Arc::new(AtomicU64::new(0));
    let live = {
        let (addr, stop, live_events) = (collector.addr, stop.clone(), live_events.clone());
        std::thread::spawn(move || hold_live_stream(addr, &stop, &live_events))
    };
    let started = Instant::now();
    let mut samples = Vec::new();
    let mut live_seen = 0;
    for minute in 1..=minutes() {
        // Each minute its own loads (fresh ids: the run numbers differ), so
        // that each minute has its own p99.
        let run = |endpoint, rate, batch, run| {
            let addr = collector.addr;
            std::thread::spawn(move || {
                loadgen::run(Load { addr, run, connections: 8, batch, duration: Duration::from_secs(60), rate: Some(rate), endpoint, shape: Shape::Visits })
            })
        };
        let browser = run(Endpoint::Native, BROWSER_RATE, BROWSER_BATCH, minute as u16 * 2);
        let server = run(Endpoint::Server, SERVER_RATE, SERVER_BATCH, minute as u16 * 2 + 1);
        let queried = query_minute(collector.addr, &queries)?;
        let browser = browser.join().map_err(|_| anyhow::anyhow!("browser load panicked"))??;
        let server = server.join().map_err(|_| anyhow::anyhow!("server load panicked"))??;
        let live_now = live_events.load(Ordering::Relaxed);
        let memory = Memory::of(pid)?;
        let sample = Sample {
            minute,
            rss_mib: memory.rss_mib(),
            anon_mib: memory.anon_mib(),
            open_files: std::fs::read_dir(format!("/proc/{pid}/fd"))?.count(),
            wal_mib: std::fs::metadata(data.join("waymark.db-wal")).map_or(0, |m| m.len()) as f64 / (1024.0 * 1024.0),
            browser_p99_ms: browser.percentile(0.99).as_secs_f64() * 1e3,
            server_p99_ms: server.percentile(0.99).as_secs_f64() * 1e3,
            query_p99_ms: percentile(&queried.latencies, 0.99),
            events: browser.events + server.events,
            failures: browser.failures + server.failures + queried.failures,
            live_events: live_now - live_seen,
        };
        live_seen = live_now;
        eprintln!(
            "soak: minute {minute}: RSS {:.1} MiB ({:.1} anonymous), {} open files, WAL {:.1} MiB, p99 browser {:.1} ms / server {:.1} ms / query {:.1} ms, {} events, {} failures, {} live events",
            sample.rss_mib, sample.anon_mib, sample.open_files, sample.wal_mib, sample.browser_p99_ms, sample.server_p99_ms, sample.query_p99_ms, sample.events, sample.failures, sample.live_events
        );
        samples.push(sample);
    }
    stop.store(true, Ordering::Relaxed);
    let elapsed = started.elapsed();
    collector.stop()?;
    let live_held = live.join().map_err(|_| anyhow::anyhow!("live stream reader panicked"))?;
    let load_after = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let plot = root.join("BENCHMARKS-soak.png");
    let plotted = match draw(&samples, &plot) {
        Ok(()) => "![The soak's samples: RSS, open files, WAL and p99 per minute](BENCHMARKS-soak.png)\n\n".to_owned(),
        Err(e) => format!("(No plot: {e:#}.)\n\n"),
    };
    let _ = std::fs::remove_dir_all(&work);
    Ok(report(&samples, elapsed, &live_held, &plotted, &week, [&load_before, &load_after]))
}

struct Queries {
    latencies: Vec<f64>,
    failures: u64,
}

/// A minute of the dashboard's queries, in turn, one every [`QUERY_EVERY`].
fn query_minute(addr: SocketAddr, paths: &[String]) -> Result<Queries> {
    let end = Instant::now() + Duration::from_secs(60);
    let mut queries = Queries { latencies: Vec::new(), failures: 0 };
    let mut next = Instant::now();
    let mut turn = 0;
    while next < end {
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
        let sent = Instant::now();
        let ok = get(addr, &paths[turn % paths.len()]).map_or(false, |status| status == 200);
        queries.latencies.push(sent.elapsed().as_secs_f64() * 1e3);
        queries.failures += u64::from(!ok);
        turn += 1;
        next += QUERY_EVERY;
    }
    Ok(queries)
}

/// `GET path` with the token; the answer's status.
fn get(addr: SocketAddr, path: &str) -> Result<u16> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: bench\r\nAuthorization: Bearer {TOKEN}\r\n\r\n")?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer)?;
    let text = String::from_utf8_lossy(&answer);
    text.split_whitespace().nth(1).and_then(|s| s.parse().ok()).context("status line")
}

/// How the live stream went: it must stay open the whole soak.
struct LiveHeld {
    opened: bool,
    closed_early: Option<String>,
}

/// Holds `GET /api/live?site=demo` open, counting its `stored` events,
/// until `stop`.
fn hold_live_stream(addr: SocketAddr, stop: &AtomicBool, count: &AtomicU64) -> LiveHeld {
    let opened = (|| -> Result<BufReader<TcpStream>> {
        let mut stream = TcpStream::connect(addr)?;
        stream.set_read_timeout(Some(Duration::from_secs(1)))?;
        write!(stream, "GET /api/live?site=demo HTTP/1.1\r\nHost: bench\r\nAccept: text/event-stream\r\nAuthorization: Bearer {TOKEN}\r\n\r\n")?;
        Ok(BufReader::new(stream))
    })();
    let Ok(mut reader) = opened else {
        return LiveHeld { opened: false, closed_early: Some("could not connect".into()) };
    };
    let mut line = String::new();
    while !stop.load(Ordering::Relaxed) {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) => return LiveHeld { opened: true, closed_early: Some("the collector closed it".into()) },
            Ok(_) if line.starts_with("event: stored") => {
                count.fetch_add(1, Ordering::Relaxed);
            }
            Ok(_) => {}
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(e) => return LiveHeld { opened: true, closed_early: Some(e.to_string()) },
        }
    }
    LiveHeld { opened: true, closed_early: None }
}

/// A process's resident memory now, from `/proc/PID/status`, in KiB.
pub(super) struct Memory {
    /// `VmRSS`: all of it.
    rss_kib: u64,
    /// `RssAnon`: heap and other anonymous memory (not file pages).
    anon_kib: u64,
}

impl Memory {
    pub(super) fn of(pid: u32) -> Result<Memory> {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
                .with_context(|| format!("{name} in /proc/PID/status"))
        };
        Ok(Memory { rss_kib: field("VmRSS:")?, anon_kib: field("RssAnon:")? })
    }

    pub(super) fn rss_mib(&self) -> f64 {
        self.rss_kib as f64 / 1024.0
    }

    pub(super) fn anon_mib(&self) -> f64 {
        self.anon_kib as f64 / 1024.0
    }
}

fn percentile(values: &[f64], p: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted.get(((sorted.len().max(1) - 1) as f64 * p).round() as usize).copied().unwrap_or(0.0)
}

/// Whether each line stayed flat, with the figures that say so.
struct Verdict {
    rss: bool,
    anon: bool,
    open_files: bool,
    wal: bool,
    latency: bool,
}

fn verdict(samples: &[Sample]) -> Option<Verdict> {
    let first = samples.first()?;
    let last = samples.last()?;
    // The first and last fifth of the run, for latencies (a single minute's
    // p99 moves with the machine's other work).
    let fifth = (samples.len() / 5).max(1);
    let p99 = |s: &[Sample]| s.iter().map(|s| s.browser_p99_ms.max(s.server_p99_ms)).fold(0.0, f64::max);
    let max_wal = samples.iter().map(|s| s.wal_mib).fold(0.0, f64::max);
    Some(Verdict {
        rss: last.rss_mib <= first.rss_mib * 1.10 + 8.0,
        anon: last.anon_mib <= first.anon_mib * 1.10 + 8.0,
        open_files: last.open_files <= first.open_files + 8,
        wal: max_wal <= WAL_MAX_MIB,
        latency: p99(&samples[samples.len() - fifth..]) <= 3.0 * p99(&samples[..fifth]).max(10.0),
    })
}

fn report(samples: &[Sample], elapsed: Duration, live: &LiveHeld, plotted: &str, week: &str, loads: [&str; 2]) -> String {
    let date = String::from_utf8(Command::new("date").args(["-u", "+%Y-%m-%d %H:%M UTC"]).output().map(|o| o.stdout).unwrap_or_default()).unwrap_or_default();
    let load = |l: &str| l.split_whitespace().next().unwrap_or("?").to_owned();
    let mut s = format!(
        "## Soak\n\n\
         From `WAYMARK_BENCH_ONLY=soak cargo xtask bench` (`WAYMARK_SOAK_MINUTES={}`), finished {}: {:.0} minutes against one \
         collector (`--profile server`, SQLite, the default `[store]` bounds) of mixed traffic at a moderate rate: browser batches of {BROWSER_BATCH} at \
         {BROWSER_RATE:.0} requests/s and server-to-server batches of {SERVER_BATCH} at {SERVER_RATE:.0} requests/s from \
         the load generator (open loop, 8 connections each), a dashboard query with an API token every {} s \
         (overview, breakdown, sessions, realtime in turn), and the live stream (`/api/live`, SSE) held open throughout. \
         The store held {SEEDED_EVENTS} events of the 23 days before the run, and the overview, breakdown and sessions asked for a fixed \
         week of them ({}): each query read as much in the last minute as in the first, while the run's own events grew the file. \
         Sampled at the end of every minute: the collector's RSS (`VmRSS`, and of it `RssAnon`, the anonymous memory: \
         the rest is file pages mapped, the binary and the database the writer maps), its open files (`/proc/PID/fd`), the WAL's \
         size and that minute's p99 latencies. The machine is shared (2 cores, other agents building and benchmarking; \
         load average {} at the start, {} at the end): the latencies move with it, the flat lines are the point.\n\n",
        samples.len(),
        date.trim(),
        elapsed.as_secs_f64() / 60.0,
        QUERY_EVERY.as_secs(),
        week,
        load(loads[0]),
        load(loads[1]),
    );
    s.push_str(plotted);
    s.push_str(
        "| minute | RSS | of it anonymous | open files | WAL | p99 browser | p99 server | p99 query | events acknowledged | failed requests | live events received |\n\
         | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n",
    );
    // Every sample for short runs; for long ones the first five, every
    // tenth and the last five (all of them are in the plot).
    let n = samples.len();
    for (i, x) in samples.iter().enumerate() {
        if n > 20 && i >= 5 && i + 5 < n && (i + 1) % 10 != 0 {
            continue;
        }
        s.push_str(&format!(
            "| {} | {:.1} MiB | {:.1} MiB | {} | {:.1} MiB | {:.1} ms | {:.1} ms | {:.1} ms | {} | {} | {} |\n",
            x.minute, x.rss_mib, x.anon_mib, x.open_files, x.wal_mib, x.browser_p99_ms, x.server_p99_ms, x.query_p99_ms, x.events, x.failures, x.live_events
        ));
    }
    let events: u64 = samples.iter().map(|x| x.events).sum();
    let failures: u64 = samples.iter().map(|x| x.failures).sum();
    s.push_str(&format!("\n{events} events sent and acknowledged in all, {failures} requests failed. "));
    match (&live.closed_early, live.opened) {
        (None, true) => s.push_str("The live stream stayed open to the end. "),
        (Some(why), _) => s.push_str(&format!("The live stream **did not stay open**: {why}. ")),
        (None, false) => s.push_str("The live stream **never opened**. "),
    }
    if let (Some(v), Some(first), Some(last)) = (verdict(samples), samples.first(), samples.last()) {
        let flat = |ok: bool| if ok { "flat" } else { "**grew**" };
        s.push_str(&format!(
            "\n\nVerdict: RSS {} ({:.1} MiB after minute 1, {:.1} MiB at the end; at most {:.1} MiB); anonymous memory {} ({:.1} → {:.1} MiB); \
             open files {} ({} → {}); WAL {} (at most {:.1} MiB; `wal_max_mib` {WAL_MAX_MIB:.0}); p99 {} (last fifth of the run against the first).\n\n",
            flat(v.rss),
            first.rss_mib,
            last.rss_mib,
            samples.iter().map(|x| x.rss_mib).fold(0.0, f64::max),
            flat(v.anon),
            first.anon_mib,
            last.anon_mib,
            flat(v.open_files),
            first.open_files,
            last.open_files,
            if v.wal { "bounded" } else { "**past its bound**" },
            samples.iter().map(|x| x.wal_mib).fold(0.0, f64::max),
            flat(v.latency),
        ));
    }
    s
}

/// The samples as four stacked line charts in one PNG.
fn draw(samples: &[Sample], path: &Path) -> Result<()> {
    use plotters::prelude::*;
    // plotters draws text with a font it is given: the system's DejaVu Sans.
    let font = ["/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "/usr/share/fonts/TTF/DejaVuSans.ttf"]
        .iter()
        .find_map(|p| std::fs::read(p).ok())
        .context("DejaVuSans.ttf not found (Debian: fonts-dejavu-core)")?;
    plotters::style::register_font("sans-serif", FontStyle::Normal, Box::leak(font.into_boxed_slice()))
        .map_err(|_| anyhow::anyhow!("the font could not be read"))?;
    if samples.is_empty() {
        bail!("no samples");
    }
    let root = BitMapBackend::new(path, (1000, 1000)).into_drawing_area();
    root.fill(&WHITE)?;
    let panels = root.split_evenly((4, 1));
    let minutes = samples.len() as u32;
    let series: [(&str, &str, Vec<(u32, f64)>, Option<Vec<(u32, f64)>>); 4] = [
        (
            "RSS (all: red; anonymous: blue)",
            "MiB",
            samples.iter().map(|s| (s.minute, s.rss_mib)).collect(),
            Some(samples.iter().map(|s| (s.minute, s.anon_mib)).collect()),
        ),
        ("Open files", "files", samples.iter().map(|s| (s.minute, s.open_files as f64)).collect(), None),
        ("WAL size", "MiB", samples.iter().map(|s| (s.minute, s.wal_mib)).collect(), None),
        (
            "p99 latency (browser, server: red; query: blue)",
            "ms",
            samples.iter().map(|s| (s.minute, s.browser_p99_ms.max(s.server_p99_ms))).collect(),
            Some(samples.iter().map(|s| (s.minute, s.query_p99_ms)).collect()),
        ),
    ];
    for (panel, (title, unit, points, second)) in panels.iter().zip(series) {
        let top = points.iter().chain(second.iter().flatten()).map(|p| p.1).fold(0.0, f64::max) * 1.2 + 1.0;
        let mut chart = ChartBuilder::on(panel)
            .caption(title, ("sans-serif", 18))
            .margin(8)
            .x_label_area_size(28)
            .y_label_area_size(60)
            .build_cartesian_2d(1..minutes.max(2), 0.0..top)?;
        chart.configure_mesh().x_desc("minute").y_desc(unit).label_style(("sans-serif", 12)).draw()?;
        chart.draw_series(LineSeries::new(points, &RED))?;
        if let Some(second) = second {
            chart.draw_series(LineSeries::new(second, &BLUE))?;
        }
    }
    root.present()?;
    Ok(())
}
