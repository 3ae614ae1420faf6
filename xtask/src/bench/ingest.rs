//! Ingest throughput to durable SQLite: the collector (built with
//! `--profile server`) on this machine, the load generator beside it.
//!
//! For an empty store and for one already holding a million events: the
//! highest rate with batches of 20 and of 1 (closed loop), the same
//! pageviews in batches of 20 through the Segment API (`/v1/batch`), then latency at
//! half the target rates (open loop), and the collector's peak memory. The
//! same closed-loop load against a no-op axum handler that only parses the
//! JSON shows what validation, enrichment, sessions and the fsynced commit
//! cost on top of HTTP itself. With `WAYMARK_BENCH_BASELINE` naming another
//! build of the collector, a table compares the two side by side, in
//! alternating rounds on an empty store; a last one compares `[store]
//! durability = "full"` with the default the same way.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};

use super::loadgen::{self, Endpoint, LONG_SESSION_VISITORS, Load, Measured, Shape};

/// How long each row runs; `WAYMARK_BENCH_SECONDS` shortens it while
/// working on the collector.
pub(super) fn run_time() -> Duration {
    Duration::from_secs(std::env::var("WAYMARK_BENCH_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(5))
}
fn seeded_events() -> u64 {
    std::env::var("WAYMARK_BENCH_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(1_000_000)
}
/// The bars from the issue, and half of them for the latency runs.
const TARGET_EVENTS_PER_SECOND_BATCHED: f64 = 100_000.0;
const TARGET_REQUESTS_PER_SECOND_SINGLE: f64 = 20_000.0;

/// Rate limits out of the way: the load comes from one address.
pub(crate) const CONFIG: &str = r#"
headless_browsers_are_bots = true
[limits]
per_ip_per_second = 100000000
per_ip_burst = 100000000
per_site_per_second = 100000000
per_site_burst = 100000000
[[site]]
key = "demo"
write_key = "wk-bench-0123456789abcdef"
"#;

pub(super) struct Row {
    pub target: &'static str,
    pub store: &'static str,
    pub load: String,
    pub measured: Measured,
    /// The collector's CPU time (all its threads) per event stored, in µs:
    /// steadier from run to run than rates, which move with the machine's
    /// other load.
    pub cpu_per_event: Option<f64>,
}

pub fn section(root: &Path) -> Result<String> {
    crate::run(Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(root)
        .args(["build", "--profile", "server", "-p", "waymark-collector"]))?;
    // `WAYMARK_BENCH_COLLECTOR` measures another build, e.g. main's, side by side.
    let binary = std::env::var_os("WAYMARK_BENCH_COLLECTOR").map_or_else(|| root.join("target/server/waymark"), PathBuf::from);
    let work = std::env::temp_dir().join(format!("waymark-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work)?;
    let config = work.join("bench.toml");
    std::fs::write(&config, CONFIG)?;

    let mut rows = Vec::new();
    let mut memory = Vec::new();
    let mut commits = Vec::new();
    // Other work on the machine shows in every figure: say how busy it was.
    let load_average = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    for (store, seeded) in [("empty", false), ("1M events", true)] {
        let data = work.join(if seeded { "seeded" } else { "empty" });
        if seeded {
            // Migrate with the collector itself, then fill in one transaction.
            Collector::start(&binary, &config, &data)?.stop()?;
            let started = Instant::now();
            seed(&data.join("waymark.db"), seeded_events())?;
            eprintln!("bench: seeded {} events in {:.1} s", seeded_events(), started.elapsed().as_secs_f64());
        }
        let collector = Collector::start(&binary, &config, &data)?;
        let mut run = 0u16;
        let mut measure_with = |load: String, connections, batch, rate: Option<f64>, endpoint, shape| -> Result<Row> {
            run += 1;
            let cpu_before = collector.cpu_seconds()?;
            let measured = loadgen::run(Load { addr: collector.addr, run, connections, batch, duration: run_time(), rate, endpoint, shape })?;
            let cpu = collector.cpu_seconds()? - cpu_before;
            if measured.failures > 0 {
                bail!("{} of {} requests failed against the collector", measured.failures, measured.requests);
            }
            let cpu_per_event = Some(cpu * 1e6 / measured.events.max(1) as f64);
            Ok(Row { target: "collector", store, load, measured, cpu_per_event })
        };
        let mut measure = |load, connections, batch, rate, endpoint| measure_with(load, connections, batch, rate, endpoint, Shape::Visits);
        for (batch, connections) in [(20, 64), (1, 256)] {
            rows.push(measure(format!("batches of {batch}, max"), connections, batch, None, Endpoint::Native)?);
            progress(&rows);
        }
        // The same pageviews through the Segment-compatible API, beside the native rows.
        rows.push(measure(SEGMENT_LOAD.into(), 64, 20, None, Endpoint::Segment)?);
        progress(&rows);
        let half_batched = TARGET_EVENTS_PER_SECOND_BATCHED / 2.0 / 20.0;
        rows.push(measure(format!("batches of 20 at {:.0} events/s", half_batched * 20.0), 64, 20, Some(half_batched), Endpoint::Native)?);
        progress(&rows);
        let half_single = TARGET_REQUESTS_PER_SECOND_SINGLE / 2.0;
        rows.push(measure(format!("batches of 1 at {half_single:.0} req/s"), 256, 1, Some(half_single), Endpoint::Native)?);
        progress(&rows);
        if !seeded {
            rows.push(measure_with(LONG_SESSIONS.into(), 32, 1, None, Endpoint::Native, Shape::LongSessions)?);
            progress(&rows);
        }
        memory.push((store, collector.peak_rss_kib()?));
        commits.push((store, collector.commit_stats()?));
        collector.stop()?;
    }

    let noop = NoopServer::start()?;
    for (batch, connections) in [(20, 64), (1, 256)] {
        let measured = loadgen::run(Load { addr: noop.addr, run: 1, connections, batch, duration: run_time(), rate: None, endpoint: Endpoint::Native, shape: Shape::Visits })?;
        rows.push(Row { target: "no-op axum", store: "-", load: format!("batches of {batch}, max"), measured, cpu_per_event: None });
        progress(&rows);
    }
    let baseline = std::env::var_os("WAYMARK_BENCH_BASELINE").map(PathBuf::from);
    let compared = match &baseline {
        Some(baseline) => {
            // Only the native endpoint is compared: an older build may not
            // know the settings of the newer endpoints.
            let plain = work.join("side-by-side.toml");
            std::fs::write(&plain, CONFIG.lines().filter(|l| !l.starts_with("write_key")).collect::<Vec<_>>().join("\n"))?;
            Some(side_by_side(&binary, baseline, &plain, &work)?)
        }
        None => None,
    };
    let durability = durability_side_by_side(&binary, &config, &work)?;
    let _ = std::fs::remove_dir_all(&work);
    let mut section = report(&rows, &memory, &commits);
    section.push_str(&compared.unwrap_or_default());
    section.push_str(&durability);
    if let Some(one_minute) = load_average.split_whitespace().next() {
        section.push_str(&format!("Load average when the section started: {one_minute} (on {} cores).\n\n", std::thread::available_parallelism().map_or(0, |n| n.get())));
    }
    Ok(section)
}

/// The load of the Segment API's row.
const SEGMENT_LOAD: &str = "Segment `/v1/batch`, batches of 20, max";

/// The load of the sessionizer's hard case: single events of a few
/// visitors with long sessions, whole-second timestamps and random ids.
const LONG_SESSIONS: &str = "single events, 8 long sessions, whole seconds";

/// Rounds of the side-by-side comparison; each round measures both builds.
const ROUNDS: usize = 3;

/// The collector's CPU per event, this build against `baseline`, in
/// alternating rounds (a fresh empty store each), so that both meet the
/// same machine: the median of each build's rounds, and their ratio.
fn side_by_side(current: &Path, baseline: &Path, config: &Path, work: &Path) -> Result<String> {
    let mut s = format!(
        "### Side by side with another build\n\n\
         `WAYMARK_BENCH_BASELINE={}`: {ROUNDS} alternating rounds per build, each on a fresh empty store, \
         {} s per row; medians.\n\n\
         | load | this build: CPU/event | baseline: CPU/event | ratio | this build: events/s | baseline: events/s |\n\
         | --- | ---: | ---: | ---: | ---: | ---: |\n",
        baseline.display(),
        run_time().as_secs()
    );
    for (batch, connections, shape) in [(20usize, 64usize, Shape::Visits), (1, 256, Shape::Visits), (1, 32, Shape::LongSessions)] {
        let load = if shape == Shape::LongSessions { LONG_SESSIONS.to_owned() } else { format!("batches of {batch}, max") };
        let mut cpu: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
        let mut rate: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
        for round in 0..ROUNDS {
            for (which, binary) in [current, baseline].into_iter().enumerate() {
                let data = work.join(format!("side-{batch}-{connections}-{round}-{which}"));
                let collector = Collector::start(binary, config, &data)?;
                let before = collector.cpu_seconds()?;
                let measured = loadgen::run(Load { addr: collector.addr, run: 1, connections, batch, duration: run_time(), rate: None, endpoint: Endpoint::Native, shape })?;
                let spent = collector.cpu_seconds()? - before;
                collector.stop()?;
                if measured.failures > 0 {
                    bail!("{} of {} requests failed against {}", measured.failures, measured.requests, binary.display());
                }
                cpu[which].push(spent * 1e6 / measured.events.max(1) as f64);
                rate[which].push(measured.events_per_second());
                eprintln!("bench: side by side, {load}, round {round}, {}: {:.1} µs/event", ["this build", "baseline"][which], cpu[which].last().unwrap_or(&0.0));
            }
        }
        let [now, then] = cpu.map(median);
        let [now_rate, then_rate] = rate.map(median);
        s.push_str(&format!(
            "| {load} | {now:.1} µs | {then:.1} µs | {:.1}% | {now_rate:.0} | {then_rate:.0} |\n",
            100.0 * now / then
        ));
    }
    s.push('\n');
    Ok(s)
}

/// `[store] durability = "full"` against the default, in alternating
/// rounds on a fresh empty store each: what SQLite's own flush inside every
/// group commit costs. `WAYMARK_BENCH_ONLY=durability` runs only this.
pub fn durability_section(root: &Path) -> Result<String> {
    crate::run(Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(root)
        .args(["build", "--profile", "server", "-p", "waymark-collector"]))?;
    let work = std::env::temp_dir().join(format!("waymark-bench-durability-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work)?;
    let config = work.join("bench.toml");
    std::fs::write(&config, CONFIG)?;
    let section = durability_side_by_side(&root.join("target/server/waymark"), &config, &work);
    let _ = std::fs::remove_dir_all(&work);
    section
}

fn durability_side_by_side(binary: &Path, config: &Path, work: &Path) -> Result<String> {
    let mut s = format!(
        "### Durability: `full` beside the default\n\n\
         The same build with `[store] durability = \"normal\"` (the default: the writer commits with `synchronous=NORMAL`, \
         a thread flushes the WAL before the answers) and `\"full\"` (`synchronous=FULL`: SQLite flushes the WAL inside \
         every group commit, the writer waiting): {ROUNDS} alternating rounds each, a fresh empty store each, {} s per \
         row; medians. Both answer 2xx only after the WAL holding the events is on disk.\n\n\
         | load | normal: events/s | full: events/s | full/normal | normal: p99 | full: p99 | normal: commits/s | full: commits/s |\n\
         | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n",
        run_time().as_secs()
    );
    for (batch, connections) in [(20usize, 64usize), (1, 256)] {
        let mut rate: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
        let mut p99: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
        let mut commits: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
        for round in 0..ROUNDS {
            for (which, durability) in ["normal", "full"].into_iter().enumerate() {
                let data = work.join(format!("durability-{batch}-{round}-{durability}"));
                let collector = Collector::start_with(binary, config, &data, &[("WAYMARK_STORE__DURABILITY", durability)])?;
                let measured = loadgen::run(Load { addr: collector.addr, run: 1, connections, batch, duration: run_time(), rate: None, endpoint: Endpoint::Native, shape: Shape::Visits })?;
                let stats = collector.commit_stats()?;
                collector.stop()?;
                if measured.failures > 0 {
                    bail!("{} of {} requests failed with durability = {durability}", measured.failures, measured.requests);
                }
                rate[which].push(measured.events_per_second());
                p99[which].push(measured.percentile(0.99).as_secs_f64() * 1e3);
                commits[which].push(stats.commits as f64 / run_time().as_secs_f64());
                eprintln!("bench: durability {durability}, batches of {batch}, round {round}: {:.0} events/s", rate[which].last().unwrap_or(&0.0));
            }
        }
        let [normal, full] = rate.map(median);
        let [normal_p99, full_p99] = p99.map(median);
        let [normal_commits, full_commits] = commits.map(median);
        s.push_str(&format!(
            "| batches of {batch}, max | {normal:.0} | {full:.0} | {:.0}% | {normal_p99:.1} ms | {full_p99:.1} ms | {normal_commits:.0} | {full_commits:.0} |\n",
            100.0 * full / normal
        ));
    }
    let load_average = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    s.push_str(&format!("\nLoad average at the end: {} (on {} cores).\n\n", load_average.split_whitespace().next().unwrap_or("?"), std::thread::available_parallelism().map_or(0, |n| n.get())));
    Ok(s)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

/// The row as a table line: `| target | store | load | req/s | events/s | p50 | p99 | CPU/event |`.
pub(super) fn table_line(r: &Row) -> String {
    let m = &r.measured;
    format!(
        "| {} | {} | {} | {:.0} | {:.0} | {:.1} ms | {:.1} ms | {} |",
        r.target,
        r.store,
        r.load,
        m.requests_per_second(),
        m.events_per_second(),
        m.percentile(0.5).as_secs_f64() * 1e3,
        m.percentile(0.99).as_secs_f64() * 1e3,
        r.cpu_per_event.map_or("-".to_owned(), |us| format!("{us:.1} µs"))
    )
}

fn progress(rows: &[Row]) {
    if let Some(r) = rows.last() {
        eprintln!("bench: {}", table_line(r));
    }
}

fn report(rows: &[Row], memory: &[(&str, u64)], commits: &[(&str, CommitStats)]) -> String {
    let mut s = String::from(
        "## Ingest throughput\n\n\
         `cargo xtask bench`: the collector (`--profile server`) with durable SQLite (WAL, group commit; every 200 \
         answer comes after an `fdatasync` of the WAL that began after its commit) on this machine, the load generator \
         (HTTP/1.1 keep-alive, one thread, optimized build) beside it, sending pageviews with UUID v7 event ids as the \
         SDK does (the Segment row: the same pageviews as `page` calls to `/v1/batch`, as Segment's server libraries send \
         them, with the write key as Basic auth, ISO 8601 times and the browser in `context.userAgent`). Each row runs 5 s; `max` rows send as fast as answers come \
         (64 connections for batches of 20, 256 for single events), the others at a fixed rate. \
         \"CPU/event\" is the collector's CPU time, all its threads, per event: it moves less than the rates when \
         the machine is busy with other work.\n\n\
         | target | store | load | requests/s | events/s | p50 | p99 | CPU/event |\n| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |\n",
    );
    for r in rows {
        s.push_str(&table_line(r));
        s.push('\n');
    }
    let find = |target: &str, store: &str, load: &str| find(rows, target, store, load);
    s.push('\n');
    if let Some(best) = find("collector", "empty", "batches of 20, max") {
        s.push_str(&format!("Batches of 20, empty store: **{:.0} events/s**.\n", best.events_per_second()));
    }
    for (batch, load) in [(20, "batches of 20, max"), (1, "batches of 1, max")] {
        if let (Some(empty), Some(full), Some(noop)) =
            (find("collector", "empty", load), find("collector", "1M events", load), find("no-op axum", "-", load))
        {
            s.push_str(&format!(
                "Batches of {batch}: with 1M events stored the rate is {:.0}% of the empty store's; \
                 the collector reaches {:.0}% of the no-op handler's rate.\n",
                100.0 * full.events_per_second() / empty.events_per_second(),
                100.0 * empty.events_per_second() / noop.events_per_second()
            ));
        }
    }
    for store in ["empty", "1M events"] {
        if let (Some(segment), Some(native)) = (find("collector", store, SEGMENT_LOAD), find("collector", store, "batches of 20, max")) {
            s.push_str(&format!(
                "Segment API (`/v1/batch`, 20 `page` calls a request), {store} store: {:.0} events/s, {:.0}% of the native endpoint's, p99 {:.1} ms (native {:.1} ms).\n",
                segment.events_per_second(),
                100.0 * segment.events_per_second() / native.events_per_second(),
                segment.percentile(0.99).as_secs_f64() * 1e3,
                native.percentile(0.99).as_secs_f64() * 1e3
            ));
        }
    }
    s.push_str(&bars(rows));
    for (store, kib) in memory {
        s.push_str(&format!("Collector peak RSS, {store}: {:.1} MiB.\n", *kib as f64 / 1024.0));
    }
    for (store, c) in commits {
        s.push_str(&format!(
            "Group commits, {store}: {} commits, {:.1} ms each on average, {:.0} events per commit (from `/metrics`).\n",
            c.commits,
            c.seconds / c.commits.max(1) as f64 * 1e3,
            c.events / c.commits.max(1) as f64
        ));
    }
    s.push('\n');
    s
}

/// What the row for `target`, `store` and `load` measured.
fn find<'r>(rows: &'r [Row], target: &str, store: &str, load: &str) -> Option<&'r Measured> {
    rows.iter().find(|r| r.target == target && r.store == store && r.load == load).map(|r| &r.measured)
}

/// The issue's bars, each with its verdict and figure.
fn bars(rows: &[Row]) -> String {
    let find = |store: &str, load: &str| find(rows, "collector", store, load);
    let verdict = |met: bool| if met { "met" } else { "**missed**" };
    let mut bars = Vec::new();
    if let Some(batched) = find("empty", "batches of 20, max") {
        let rate = batched.events_per_second();
        bars.push(format!("≥ {TARGET_EVENTS_PER_SECOND_BATCHED:.0} events/s with batches of 20: {} ({rate:.0})", verdict(rate >= TARGET_EVENTS_PER_SECOND_BATCHED)));
    }
    if let Some(single) = find("empty", "batches of 1, max") {
        let rate = single.requests_per_second();
        bars.push(format!("≥ {TARGET_REQUESTS_PER_SECOND_SINGLE:.0} requests/s with single events: {} ({rate:.0})", verdict(rate >= TARGET_REQUESTS_PER_SECOND_SINGLE)));
    }
    let half_rate: Vec<f64> = rows
        .iter()
        .filter(|r| r.target == "collector" && r.load.contains(" at "))
        .map(|r| r.measured.percentile(0.99).as_secs_f64() * 1e3)
        .collect();
    if let (Some(long), Some(single)) = (find("empty", LONG_SESSIONS), find("empty", "batches of 1, max")) {
        let share = long.requests_per_second() / single.requests_per_second();
        bars.push(format!(
            "{LONG_SESSION_VISITORS} long sessions in whole seconds ≥ 50% of the single-event rate: {} ({:.0} req/s, {:.0}%)",
            verdict(share >= 0.5),
            long.requests_per_second(),
            share * 100.0
        ));
    }
    if let Some(worst) = half_rate.iter().copied().reduce(f64::max) {
        bars.push(format!("p99 ≤ 50 ms at half those rates: {} (worst {worst:.1} ms)", verdict(worst <= 50.0)));
    }
    let kept: Vec<f64> = ["batches of 20, max", "batches of 1, max"]
        .iter()
        .filter_map(|load| Some(find("1M events", load)?.events_per_second() / find("empty", load)?.events_per_second()))
        .collect();
    if let Some(least) = kept.iter().copied().reduce(f64::min) {
        bars.push(format!("1M-event rates within 20% of the empty store's: {} (lowest {:.0}%)", verdict(least >= 0.8), least * 100.0));
    }
    format!("Bars: {}.\n", bars.join("; "))
}

struct CommitStats {
    commits: u64,
    seconds: f64,
    events: f64,
}

pub(crate) struct Collector {
    child: Child,
    pub addr: SocketAddr,
}

impl Collector {
    pub fn start(binary: &Path, config: &Path, data: &Path) -> Result<Collector> {
        Collector::start_with(binary, config, data, &[])
    }

    /// With configuration overrides in the environment (`WAYMARK_STORE__DURABILITY=full`).
    fn start_with(binary: &Path, config: &Path, data: &Path, env: &[(&str, &str)]) -> Result<Collector> {
        Collector::spawn(binary, config, data, "127.0.0.1:0", env)
    }

    /// On a given address (`127.0.0.1:PORT`), to be started again on it.
    pub fn start_listening(binary: &Path, config: &Path, data: &Path, listen: &str) -> Result<Collector> {
        Collector::spawn(binary, config, data, listen, &[])
    }

    fn spawn(binary: &Path, config: &Path, data: &Path, listen: &str, env: &[(&str, &str)]) -> Result<Collector> {
        let mut child = Command::new(binary)
            .envs(env.iter().copied())
            .arg("serve")
            .arg("--config")
            .arg(config)
            .args(["--listen", listen, "--data-dir"])
            .arg(data)
            .env("WAYMARK_LOG", "warn")
            .stdout(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let mut stdout = BufReader::new(child.stdout.take().context("collector stdout")?);
        let mut first = String::new();
        while !first.starts_with("waymark listening on") {
            first.clear();
            if stdout.read_line(&mut first)? == 0 {
                bail!("the collector exited before listening");
            }
        }
        // Keep reading: a closed pipe would fail the collector's next line.
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        let addr = first
            .trim()
            .strip_prefix("waymark listening on http://")
            .with_context(|| format!("unexpected first line {first:?}"))?
            .parse()?;
        Ok(Collector { child, addr })
    }

    /// Commit count and time, and events stored, from `/metrics`.
    fn commit_stats(&self) -> Result<CommitStats> {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(self.addr)?;
        stream.write_all(b"GET /metrics HTTP/1.0\r\nHost: bench\r\n\r\n")?;
        let mut text = String::new();
        stream.read_to_string(&mut text)?;
        let value = |name: &str| {
            text.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse::<f64>().ok()).unwrap_or(0.0)
        };
        Ok(CommitStats {
            commits: value("waymark_commit_seconds_count") as u64,
            seconds: value("waymark_commit_seconds_sum"),
            events: value("waymark_events_accepted_total"),
        })
    }

    /// CPU time the process has used, user and system, all threads.
    pub fn cpu_seconds(&self) -> Result<f64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()))?;
        // After the parenthesized name: state is field 0, utime 11, stime 12,
        // in clock ticks (100 a second on Linux).
        let after = stat.rsplit_once(')').map(|(_, rest)| rest).context("/proc/PID/stat")?;
        let field = |n: usize| after.split_whitespace().nth(n).and_then(|f| f.parse::<f64>().ok()).context("/proc/PID/stat field");
        Ok((field(11)? + field(12)?) / 100.0)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The process's high-water mark of resident memory (`VmHWM`).
    pub fn peak_rss_kib(&self) -> Result<u64> {
        peak_rss_kib(self.child.id())
    }

    /// SIGKILL: nothing is flushed or closed.
    pub fn kill(mut self) -> Result<()> {
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }

    /// SIGTERM, then wait: the collector commits what is queued and exits.
    pub fn stop(mut self) -> Result<()> {
        crate::run(Command::new("kill").arg("-TERM").arg(self.child.id().to_string()))?;
        let status = self.child.wait()?;
        if !status.success() {
            bail!("the collector exited with {status}");
        }
        Ok(())
    }
}

/// A process's high-water mark of resident memory (`VmHWM`), in KiB.
pub(super) fn peak_rss_kib(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("VmHWM in /proc/PID/status")
}

/// `events` pageviews of `events / 10` visitors, one ten-pageview session
/// each, spread over the last 23 days, with their sessions and quarter-hour
/// counts: written with SQL in one transaction into the schema the
/// collector created.
pub(super) fn seed(db: &Path, events: u64) -> Result<()> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis() as i64;
    let start = now - 2 * 60 * 60 * 1000 - (events as i64 / 10) * 20_000;
    let conn = rusqlite::Connection::open(db)?;
    conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF;")?;
    conn.execute_batch(&format!(
        "BEGIN;
         WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {last})
         INSERT INTO events (site, id, ts, received_ms, name, session_id, client_session_id, visitor_id, url, host, path,
             title, referrer, referrer_host, source, medium, browser, browser_version, os, device, country, props)
         SELECT 'demo', lower(hex(randomblob(16))), {start} + (i / 10) * 20000 + (i % 10) * 60000, {start} + (i / 10) * 20000,
             '$pageview', printf('seed-session-%07d', i / 10), printf('seed-client-%07d', i / 10), printf('seed-visitor-%07d', i / 10),
             printf('https://bench.example/page/%d', i % 50), 'bench.example', printf('/page/%d', i % 50),
             'Seeded page', 'https://www.google.com/', 'www.google.com', 'Google', 'organic',
             'Firefox', '133.0', 'Linux', 'desktop', 'FR', '{{}}'
         FROM n;
         WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {last_session})
         INSERT INTO sessions (site, id, visitor_id, client_session_id, start_ts, end_ts, duration_ms, pageviews, events,
             entry_path, exit_path, bounce, referrer_host, source, medium, browser, os, device, country)
         SELECT 'demo', printf('seed-session-%07d', i), printf('seed-visitor-%07d', i), printf('seed-client-%07d', i),
             {start} + i * 20000, {start} + i * 20000 + 540000, 540000, 10, 10, '/page/0', '/page/9', 0,
             'www.google.com', 'Google', 'organic', 'Firefox', 'Linux', 'desktop', 'FR'
         FROM n;
         INSERT INTO event_slots (site, slot, events, pageviews)
             SELECT site, ts / 900000, count(*), sum(name = '$pageview') FROM events GROUP BY 1, 2;
         COMMIT;",
        last = events - 1,
        last_session = events / 10 - 1,
    ))?;
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")?;
    Ok(())
}

/// The comparison: axum, the same routes' HTTP work, and parsing the batch
/// into the protocol's types — nothing else.
struct NoopServer {
    addr: SocketAddr,
}

impl NoopServer {
    fn start() -> Result<NoopServer> {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
                tx.send(listener.local_addr().expect("address")).expect("report address");
                let app = axum::Router::new().route(
                    "/api/collect",
                    axum::routing::post(|body: bytes::Bytes| async move {
                        match serde_json::from_slice::<waymark_protocol::Batch>(&body) {
                            Ok(batch) => (axum::http::StatusCode::OK, format!(r#"{{"accepted":{}}}"#, batch.events.len())),
                            Err(e) => (axum::http::StatusCode::BAD_REQUEST, e.to_string()),
                        }
                    }),
                );
                axum::serve(listener, app).await.expect("serve");
            });
        });
        Ok(NoopServer { addr: rx.recv_timeout(Duration::from_secs(10))? })
    }
}
