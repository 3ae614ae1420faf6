//! Ingest into ClickHouse beside SQLite, in one run on this machine: a
//! ClickHouse server of the bench's own (the collector's
//! `clickhouse_server` example: Debian's `clickhouse-server` in a
//! temporary directory), the collector built with `--profile server`, and
//! the load generator of the ingest section.
//!
//! Rows: SQLite, then ClickHouse with one collector whose writer makes
//! sessions, then two collectors that only append with `waymark
//! sessionize` making the sessions (the load split evenly between the
//! collectors), each with batches of 20 and of 1 at the highest rate; the
//! two collectors at half the one-collector rate for the sessionizer's
//! lag (per event, from the moment a collector received it to the moment
//! the sessionizer wrote it with its session: the event row's version is
//! the sessionizer's clock in microseconds), and under the long-sessions
//! load, the sessionizer's hard case, its lag and rate.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use anyhow::{Context, Result, bail};

use super::ingest::{CONFIG, Collector, Row, peak_rss_kib, run_time, table_line};
use super::loadgen::{self, Endpoint, Load, Measured, Shape};

/// A child whose first line of stdout starting with `ready` it waited for.
struct Spawned {
    child: Child,
    line: String,
}

fn start(mut command: Command, ready: &str) -> Result<Spawned> {
    let mut child = command.stdout(Stdio::piped()).stdin(Stdio::piped()).spawn().with_context(|| format!("starting {command:?}"))?;
    let mut stdout = BufReader::new(child.stdout.take().context("stdout")?);
    let mut line = String::new();
    while !line.starts_with(ready) {
        line.clear();
        if stdout.read_line(&mut line)? == 0 {
            bail!("{command:?} exited before printing {ready:?}");
        }
    }
    std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    Ok(Spawned { child, line: line.trim().to_owned() })
}

impl Spawned {
    fn peak_rss_kib(&self) -> Result<u64> {
        peak_rss_kib(self.child.id())
    }

    fn stop(mut self) -> Result<()> {
        crate::run(Command::new("kill").arg("-TERM").arg(self.child.id().to_string()))?;
        self.child.wait()?;
        Ok(())
    }
}

/// `sql`'s first row on the server, tab-separated.
fn query(url: &str, database: &str, sql: &str) -> Result<String> {
    let out = Command::new("curl").args(["-sS", "--fail-with-body", &format!("{url}/?database={database}"), "--data-binary", sql]).output()?;
    if !out.status.success() {
        bail!("ClickHouse refused {sql:?}: {}", String::from_utf8_lossy(&out.stdout));
    }
    Ok(String::from_utf8(out.stdout)?.trim().to_owned())
}

fn config(work: &Path, name: &str, url: Option<&str>, sessionizer: &str) -> Result<std::path::PathBuf> {
    let mut text = CONFIG.to_owned();
    if let Some(url) = url {
        let store = format!("[store]\nbackend = \"clickhouse\"\nurl = \"{url}\"\ndatabase = \"{name}\"\nsessionizer = \"{sessionizer}\"\n");
        text = text.replacen("[limits]", &format!("{store}[limits]"), 1);
    }
    let path = work.join(format!("{name}.toml"));
    std::fs::write(&path, text)?;
    Ok(path)
}

/// The load of the sessionizer's hard case (as in the ingest section).
const LONG_SESSIONS: &str = "single events, 8 long sessions per collector, whole seconds";

/// Waits until every incoming row is an event, then the sessionizer's lag
/// for the events received since `from_ms` (p50 and p99, in seconds: from
/// receipt to the event row's first version, the sessionizer's clock in
/// µs) and the rate at which it wrote them (events/s).
fn sessionized(url: &str, database: &str, from_ms: u128) -> Result<(f64, f64, f64)> {
    let pending = "SELECT (SELECT uniqExact(id) FROM incoming) - (SELECT uniqExact(id) FROM events)";
    let waited = std::time::Instant::now();
    while query(url, database, pending)? != "0" {
        if waited.elapsed() > std::time::Duration::from_secs(300) {
            bail!("the sessionizer did not catch up within 5 minutes");
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let per_event = format!("SELECT id, min(version) AS v, any(received_ms) AS r FROM events WHERE received_ms >= {from_ms} GROUP BY id");
    let row = query(
        url,
        database,
        &format!("SELECT quantile(0.5)(v / 1000 - r), quantile(0.99)(v / 1000 - r), count() / ((max(v) - min(v)) / 1e6) FROM ({per_event})"),
    )?;
    let figures: Vec<f64> = row.split('\t').filter_map(|f| f.trim().parse().ok()).collect();
    match figures[..] {
        [p50, p99, rate] => Ok((p50 / 1000.0, p99 / 1000.0, rate)),
        _ => bail!("unexpected lag row {row:?}"),
    }
}

/// `connections` split over `collectors`, run at once; one measurement.
fn split_load(collectors: &[&Collector], run: u16, connections: usize, batch: usize, rate: Option<f64>) -> Result<Measured> {
    split_load_shaped(collectors, run, connections, batch, rate, Shape::Visits)
}

fn split_load_shaped(
    collectors: &[&Collector],
    run: u16,
    connections: usize,
    batch: usize,
    rate: Option<f64>,
    shape: Shape,
) -> Result<Measured> {
    let n = collectors.len();
    let loads: Vec<Load> = collectors
        .iter()
        .enumerate()
        .map(|(k, c)| Load {
            addr: c.addr,
            // Runs of different collectors never share ids.
            run: run * 8 + k as u16,
            connections: connections / n,
            batch,
            duration: run_time(),
            rate: rate.map(|r| r / n as f64),
            endpoint: Endpoint::Native,
            shape,
        })
        .collect();
    let threads: Vec<_> = loads.into_iter().map(|load| std::thread::spawn(move || loadgen::run(load))).collect();
    let mut merged: Option<Measured> = None;
    for thread in threads {
        let measured = thread.join().map_err(|_| anyhow::anyhow!("a load thread panicked"))??;
        merged = Some(match merged {
            None => measured,
            Some(m) => m.merge(measured),
        });
    }
    let merged = merged.context("no collector")?;
    if merged.failures > 0 {
        bail!("{} of {} requests failed", merged.failures, merged.requests);
    }
    Ok(merged)
}

/// A ClickHouse server of the bench's own (the collector's example).
pub(super) struct Server {
    process: Spawned,
    pub url: String,
}

impl Server {
    /// Builds the collector and the example (server profile), starts it.
    pub fn start(root: &Path) -> Result<Server> {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        crate::run(Command::new(&cargo).current_dir(root).args([
            "build",
            "--profile",
            "server",
            "-p",
            "waymark-collector",
            "--bin",
            "waymark",
            "--example",
            "clickhouse_server",
        ]))?;
        let process = start(Command::new(root.join("target/server/examples/clickhouse_server")), "clickhouse at ")?;
        let url = process.line.trim_start_matches("clickhouse at ").to_owned();
        Ok(Server { process, url })
    }

    pub fn stop(self) -> Result<()> {
        self.process.stop()
    }
}

pub fn section(root: &Path) -> Result<String> {
    let server = Server::start(root)?;
    let url = server.url.clone();
    let binary = root.join("target/server/waymark");
    let work = std::env::temp_dir().join(format!("waymark-bench-clickhouse-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work)?;

    let mut rows: Vec<Row> = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    let max_loads = [(20usize, 64usize), (1, 256)];
    let measure = |rows: &mut Vec<Row>, store: &'static str, collectors: &[&Collector], run: u16| -> Result<()> {
        for (k, (batch, connections)) in max_loads.iter().enumerate() {
            let cpu_before: f64 = collectors.iter().map(|c| c.cpu_seconds().unwrap_or(0.0)).sum();
            let measured = split_load(collectors, run * 4 + k as u16, *connections, *batch, None)?;
            let cpu: f64 = collectors.iter().map(|c| c.cpu_seconds().unwrap_or(0.0)).sum::<f64>() - cpu_before;
            let cpu_per_event = Some(cpu * 1e6 / measured.events.max(1) as f64);
            rows.push(Row { target: "collector", store, load: format!("batches of {batch}, max"), measured, cpu_per_event });
            eprintln!("bench: {}", table_line(rows.last().expect("pushed")));
        }
        Ok(())
    };

    let sqlite = Collector::start(&binary, &config(&work, "sqlite", None, "writer")?, &work.join("sqlite"))?;
    measure(&mut rows, "SQLite", &[&sqlite], 1)?;
    notes.push(format!("Collector peak RSS, SQLite: {:.1} MiB.", sqlite.peak_rss_kib()? as f64 / 1024.0));
    sqlite.stop()?;

    let one = Collector::start(&binary, &config(&work, "one", Some(&url), "writer")?, &work.join("one"))?;
    measure(&mut rows, "ClickHouse, 1 collector", &[&one], 2)?;
    notes.push(format!("Collector peak RSS, ClickHouse, 1 collector: {:.1} MiB.", one.peak_rss_kib()? as f64 / 1024.0));
    one.stop()?;

    let two_config = config(&work, "two", Some(&url), "separate")?;
    let a = Collector::start(&binary, &two_config, &work.join("two-a"))?;
    let b = Collector::start(&binary, &two_config, &work.join("two-b"))?;
    let mut sessionize = Command::new(&binary);
    sessionize.args(["sessionize", "--config"]).arg(&two_config).env("WAYMARK_LOG", "warn");
    let sessionizer = start(sessionize, "waymark sessionizer running")?;
    measure(&mut rows, "ClickHouse, 2 collectors + sessionizer", &[&a, &b], 3)?;
    // Half the one-collector rate of batches of 20, for the lag.
    let one_rate = rows.iter().find(|r| r.store == "ClickHouse, 1 collector" && r.load == "batches of 20, max").map_or(1000.0, |r| r.measured.requests_per_second());
    let half = one_rate / 2.0;
    let lag_run: u16 = 40;
    let lag_from = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis();
    let measured = split_load(&[&a, &b], lag_run, 64, 20, Some(half))?;
    rows.push(Row {
        target: "collector",
        store: "ClickHouse, 2 collectors + sessionizer",
        load: format!("batches of 20 at {:.0} events/s", half * 20.0),
        measured,
        cpu_per_event: None,
    });
    eprintln!("bench: {}", table_line(rows.last().expect("pushed")));
    let sent = rows.last().map_or(0, |r| r.measured.events);
    let (p50, p99, _) = sessionized(&url, "two", lag_from)?;
    notes.push(format!(
        "Sessionizer lag at {:.0} events/s ({sent} events; from a collector's receipt of an event to its row with its session): \
         p50 {p50:.2} s, p99 {p99:.2} s. It reads a second of `incoming` once it is 2 s old, by design.",
        half * 20.0
    ));
    // The sessionizer's hard case: a few long sessions, whole-second times.
    let long_from = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis();
    let measured = split_load_shaped(&[&a, &b], 41, 32, 1, None, Shape::LongSessions)?;
    let sent = measured.events;
    rows.push(Row { target: "collector", store: "ClickHouse, 2 collectors + sessionizer", load: LONG_SESSIONS.into(), measured, cpu_per_event: None });
    eprintln!("bench: {}", table_line(rows.last().expect("pushed")));
    let (p50, p99, rate) = sessionized(&url, "two", long_from)?;
    notes.push(format!(
        "Sessionizer on the long-sessions load ({sent} events of 16 visitors whose one session each grows for the whole run, \
         times in whole seconds): lag p50 {p50:.2} s, p99 {p99:.2} s; it wrote {rate:.0} events/s with their sessions \
         from its first page to its last."
    ));
    notes.push(format!(
        "Peak RSS, two collectors: {:.1} and {:.1} MiB; the sessionizer: {:.1} MiB.",
        a.peak_rss_kib()? as f64 / 1024.0,
        b.peak_rss_kib()? as f64 / 1024.0,
        sessionizer.peak_rss_kib()? as f64 / 1024.0
    ));
    sessionizer.stop()?;
    a.stop()?;
    b.stop()?;
    server.stop()?;
    let _ = std::fs::remove_dir_all(&work);

    let mut s = String::from(
        "## Ingest into ClickHouse, beside SQLite\n\n\
         `cargo xtask bench` (or `WAYMARK_BENCH_ONLY=clickhouse cargo xtask bench`): one `clickhouse-server` (Debian's 18.16) \
         on this machine, started by the bench; the same load generator and pageviews as the ingest section, 5 s a row. \
         The SQLite row runs in the same section so that the backends meet the same machine. With two collectors the \
         load is split evenly between them, each on a connection count of half; the sessionizer (`waymark sessionize`) \
         runs beside them. Every answer is a 2xx after the database acknowledged the insert.\n\n\
         | target | store | load | requests/s | events/s | p50 | p99 | CPU/event |\n| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |\n",
    );
    for r in &rows {
        s.push_str(&table_line(r));
        s.push('\n');
    }
    s.push('\n');
    for note in notes {
        s.push_str(&note);
        s.push('\n');
    }
    s.push_str("\nOn a machine of 2 cores the collectors, the sessionizer, ClickHouse and the load generator share them: these rates say what each backend costs here, not what a cluster of machines reaches.\n\n");
    Ok(s)
}
