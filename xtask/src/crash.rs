//! `cargo xtask crash --cycles N [--backend sqlite|clickhouse] [--seed S]`:
//! crash loops under load. Senders over real HTTP (browser batches to
//! `/api/collect`, server-to-server batches to `/api/server/collect`) send
//! without pause, retrying a batch with the same event ids on 503, 429 and
//! connection errors as the SDK does (with a shorter backoff, so that cycles
//! stay short), and now and then sending an acknowledged batch again (a
//! page resending what it never heard was stored), so that dedupe is
//! exercised. Each cycle the collector runs for a random 50–800 ms of that
//! load and is killed with SIGKILL; on ClickHouse, where the collector
//! only appends (`[store] sessionizer = "separate"`) and a `waymark
//! sessionize` process makes sessions, the sessionizer and the database
//! server (its data directory kept) are also killed at random moments.
//! The moments come from a seeded generator; the seed is printed, and
//! `--seed` replays it.
//!
//! At the end, with everything running again and the sessionizer caught
//! up: every event id answered 2xx is stored exactly once (counted by id
//! in the database: none lost, none twice), the sessions count each stored
//! event once, and the sessions are what `waymark sessions rebuild` makes
//! from the stored events (the rows before and after a rebuild compared).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write as _};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::bench::ingest::{CONFIG, Collector};
use crate::bench::loadgen::{SECRET_KEY, write_batch};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Backend {
    Sqlite,
    Clickhouse,
}

/// What a crash loop found.
#[derive(Debug)]
pub struct Outcome {
    pub backend: Backend,
    pub seed: u64,
    pub cycles: usize,
    pub elapsed: Duration,
    /// Kills of each process: collector, sessionizer, database server.
    pub kills: [usize; 3],
    pub requests_acknowledged: u64,
    pub events_acknowledged: usize,
    /// Acknowledged batches sent again on purpose, and retries of batches
    /// that were not acknowledged (refused or cut off).
    pub resends: u64,
    pub retries: u64,
    pub lost: usize,
    pub duplicated: usize,
    pub events_stored: usize,
    /// The sum of the sessions' event counts, which must equal `events_stored`.
    pub events_in_sessions: u64,
    pub sessions: usize,
    pub sessions_equal_rebuild: bool,
}

impl Outcome {
    pub fn passed(&self) -> bool {
        self.lost == 0 && self.duplicated == 0 && self.sessions_equal_rebuild && self.events_in_sessions == self.events_stored as u64
    }

    pub fn describe(&self) -> String {
        format!(
            "crash loop, {:?}, seed {}: {} cycles in {:.0} s (kills: {} collector, {} sessionizer, {} database); \
             {} requests and {} events acknowledged, {} acknowledged batches resent, {} retries; \
             lost {}, duplicated {}; {} events stored, {} counted in {} sessions; sessions == rebuild: {}",
            self.backend,
            self.seed,
            self.cycles,
            self.elapsed.as_secs_f64(),
            self.kills[0],
            self.kills[1],
            self.kills[2],
            self.requests_acknowledged,
            self.events_acknowledged,
            self.resends,
            self.retries,
            self.lost,
            self.duplicated,
            self.events_stored,
            self.events_in_sessions,
            self.sessions,
            self.sessions_equal_rebuild
        )
    }
}

/// `cargo xtask crash`: builds the collector (server profile) and runs.
pub fn crash(root: &Path, args: &[String]) -> Result<()> {
    let mut cycles = 100;
    let mut backend = Backend::Sqlite;
    let mut seed = None;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = || args.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--cycles" => cycles = value()?.parse().context("--cycles takes a whole number")?,
            "--seed" => seed = Some(value()?.parse().context("--seed takes a whole number")?),
            "--backend" => {
                backend = match value()?.as_str() {
                    "sqlite" => Backend::Sqlite,
                    "clickhouse" => Backend::Clickhouse,
                    other => bail!("--backend is sqlite or clickhouse, not {other:?}"),
                }
            }
            other => bail!("unknown argument {other:?}; usage: cargo xtask crash [--cycles N] [--backend sqlite|clickhouse] [--seed S]"),
        }
    }
    let mut build = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    build.current_dir(root).args(["build", "--profile", "server", "-p", "waymark-collector", "--bin", "waymark"]);
    if backend == Backend::Clickhouse {
        build.args(["--example", "clickhouse_server"]);
    }
    crate::run(&mut build)?;
    let outcome = run(&root.join("target/server"), backend, cycles, seed)?;
    println!("{}", outcome.describe());
    if !outcome.passed() {
        bail!("the crash loop found acknowledged events lost or duplicated, or sessions unlike a rebuild");
    }
    Ok(())
}

/// A crash loop with the collector (and the ClickHouse example) built in
/// `build` (`target/server` or `target/debug`).
pub fn run(build: &Path, backend: Backend, cycles: usize, seed: Option<u64>) -> Result<Outcome> {
    let seed = seed.unwrap_or_else(|| std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64));
    eprintln!("crash: {backend:?}, {cycles} cycles, seed {seed} (replay with --seed {seed})");
    let mut rng = StdRng::seed_from_u64(seed);
    let binary = build.join("waymark");
    let work = std::env::temp_dir().join(format!("waymark-crash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work)?;
    let data = work.join("data");
    // One address for every restart: the senders keep sending to it.
    let addr: SocketAddr = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    let listen = addr.to_string();

    let database = match backend {
        Backend::Sqlite => None,
        Backend::Clickhouse => Some(Database::start(&build.join("examples/clickhouse_server"))?),
    };
    let mut config = format!("{CONFIG}secret_key = \"{SECRET_KEY}\"\n");
    if let Some(db) = &database {
        let store = format!("[store]\nbackend = \"clickhouse\"\nurl = \"{}\"\ndatabase = \"crash\"\nsessionizer = \"separate\"\n", db.url);
        config = config.replacen("[limits]", &format!("{store}[limits]"), 1);
    }
    let config_path = work.join("crash.toml");
    std::fs::write(&config_path, config)?;

    let started = Instant::now();
    let mut collector = Some(Collector::start_listening(&binary, &config_path, &data, &listen)?);
    let mut sessionizer = match backend {
        Backend::Sqlite => None,
        Backend::Clickhouse => Some(Sessionizer::start(&binary, &config_path, &data)?),
    };
    let senders = Senders::start(addr, seed);
    let mut kills = [0usize; 3];
    for cycle in 0..cycles {
        let window = Duration::from_millis(rng.random_range(50..=800));
        let cycle_start = Instant::now();
        // The collector dies in every cycle; on ClickHouse, the sessionizer
        // in half of them and the database in a third, each at its own moment.
        let mut victims = vec![(rng.random_range(Duration::ZERO..=window), 0usize)];
        if database.is_some() {
            if rng.random_bool(0.5) {
                victims.push((rng.random_range(Duration::ZERO..=window), 1));
            }
            if rng.random_bool(1.0 / 3.0) {
                victims.push((rng.random_range(Duration::ZERO..=window), 2));
            }
        }
        victims.sort();
        for (at, victim) in victims {
            std::thread::sleep((cycle_start + at).saturating_duration_since(Instant::now()));
            match victim {
                0 => collector.take().context("collector running")?.kill()?,
                1 => sessionizer.take().context("sessionizer running")?.kill()?,
                _ => database.as_ref().context("database")?.kill()?,
            }
            kills[victim] += 1;
        }
        std::thread::sleep((cycle_start + window).saturating_duration_since(Instant::now()));
        // Back up in the order a machine would bring them up: the database,
        // then the processes that connect to it.
        if let Some(db) = &database {
            if !db.running() {
                db.restart()?;
            }
            if sessionizer.is_none() {
                sessionizer = Some(Sessionizer::start(&binary, &config_path, &data)?);
            }
        }
        collector = Some(Collector::start_listening(&binary, &config_path, &data, &listen)?);
        if (cycle + 1) % 50 == 0 || cycle + 1 == cycles {
            eprintln!("crash: {} cycles, {} events acknowledged, {:.0} s", cycle + 1, senders.acknowledged_events(), started.elapsed().as_secs_f64());
        }
    }
    // Everything up: the senders finish the batch each has in hand.
    let sent = senders.finish()?;
    let elapsed = started.elapsed();
    let collector = collector.context("collector running")?;
    let check = match &database {
        None => {
            collector.stop()?;
            check_sqlite(&binary, &config_path, &data, &sent)?
        }
        Some(db) => {
            let sessionizer = sessionizer.context("sessionizer running")?;
            db.wait_for_sessionizer()?;
            collector.stop()?;
            sessionizer.stop()?;
            check_clickhouse(&binary, &config_path, &data, db, &sent)?
        }
    };
    if let Some(db) = database {
        db.stop()?;
    }
    let _ = std::fs::remove_dir_all(&work);
    Ok(Outcome {
        backend,
        seed,
        cycles,
        elapsed,
        kills,
        requests_acknowledged: sent.requests,
        events_acknowledged: sent.ids.len(),
        resends: sent.resends,
        retries: sent.retries,
        lost: check.lost,
        duplicated: check.duplicated,
        events_stored: check.stored,
        events_in_sessions: check.events_in_sessions,
        sessions: check.sessions,
        sessions_equal_rebuild: check.sessions_equal_rebuild,
    })
}

/// The sessions' columns compared before and after a rebuild (the same in
/// both backends; ClickHouse's `version` is left out: a rebuild writes new
/// versions of the same rows).
const SESSION_COLUMNS: &str = "site, id, visitor_id, client_session_id, user_id, start_ts, end_ts, duration_ms, pageviews, events, \
     entry_path, exit_path, bounce, referrer_host, source, medium, utm_source, utm_medium, utm_campaign, utm_term, utm_content, \
     browser, os, device, country, region, city";

struct Check {
    lost: usize,
    duplicated: usize,
    stored: usize,
    events_in_sessions: u64,
    sessions: usize,
    sessions_equal_rebuild: bool,
}

/// Counts of each acknowledged id among `stored` (id → rows).
fn lost_and_duplicated(acknowledged: &[String], stored: &HashMap<String, u64>) -> (usize, usize) {
    let lost = acknowledged.iter().filter(|id| !stored.contains_key(*id)).count();
    // Any id stored twice is a duplicate, acknowledged or not.
    let duplicated = stored.values().filter(|n| **n > 1).count();
    (lost, duplicated)
}

fn check_sqlite(binary: &Path, config: &Path, data: &Path, sent: &Sent) -> Result<Check> {
    let db = data.join("waymark.db");
    let rows = |sql: &str| -> Result<Vec<String>> {
        let conn = rusqlite::Connection::open(&db)?;
        let mut statement = conn.prepare(sql)?;
        let width = statement.column_count();
        let rows = statement.query_map([], |row| {
            (0..width).map(|i| row.get_ref(i).map(|v| format!("{v:?}"))).collect::<rusqlite::Result<Vec<_>>>().map(|v| v.join("\t"))
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    };
    let counted: HashMap<String, u64> = {
        let conn = rusqlite::Connection::open(&db)?;
        let mut statement = conn.prepare("SELECT id, count(*) FROM events WHERE site = 'demo' GROUP BY id")?;
        let rows = statement.query_map([], |row| Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)? as u64)))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    let (lost, duplicated) = lost_and_duplicated(&sent.ids, &counted);
    let events_in_sessions = rows("SELECT coalesce(sum(events), 0) FROM sessions WHERE site = 'demo'")?.first().and_then(|v| v.trim_start_matches("Integer(").trim_end_matches(')').parse().ok()).unwrap_or(0);
    let sessions_sql = format!("SELECT {SESSION_COLUMNS} FROM sessions ORDER BY site, id");
    let events_sql = "SELECT id, session_id FROM events ORDER BY site, id";
    let before = (rows(&sessions_sql)?, rows(events_sql)?);
    rebuild(binary, config, data)?;
    let after = (rows(&sessions_sql)?, rows(events_sql)?);
    report_difference(&before, &after);
    Ok(Check { lost, duplicated, stored: counted.len(), events_in_sessions, sessions: before.0.len(), sessions_equal_rebuild: before == after })
}

fn check_clickhouse(binary: &Path, config: &Path, data: &Path, db: &Database, sent: &Sent) -> Result<Check> {
    let counted: HashMap<String, u64> = db
        .query("SELECT id, count() FROM events FINAL WHERE site = 'demo' GROUP BY id")?
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .map(|(id, n)| Ok((id.to_owned(), n.parse()?)))
        .collect::<Result<_>>()?;
    let (lost, duplicated) = lost_and_duplicated(&sent.ids, &counted);
    let events_in_sessions = db.query("SELECT sum(events) FROM sessions FINAL WHERE site = 'demo' AND deleted = 0")?.trim().parse()?;
    let sessions_sql = format!("SELECT {SESSION_COLUMNS} FROM sessions FINAL WHERE deleted = 0 ORDER BY site, id");
    let events_sql = "SELECT id, session_id FROM events FINAL ORDER BY site, id";
    let lines = |text: String| text.lines().map(str::to_owned).collect::<Vec<_>>();
    let before = (lines(db.query(&sessions_sql)?), lines(db.query(events_sql)?));
    rebuild(binary, config, data)?;
    let after = (lines(db.query(&sessions_sql)?), lines(db.query(events_sql)?));
    report_difference(&before, &after);
    Ok(Check { lost, duplicated, stored: counted.len(), events_in_sessions, sessions: before.0.len(), sessions_equal_rebuild: before == after })
}

/// The first rows that differ, to start looking from.
fn report_difference(before: &(Vec<String>, Vec<String>), after: &(Vec<String>, Vec<String>)) {
    for (what, b, a) in [("sessions", &before.0, &after.0), ("events' sessions", &before.1, &after.1)] {
        if b != a {
            eprintln!("crash: {what} differ from a rebuild: {} rows before, {} after", b.len(), a.len());
            for (x, y) in b.iter().zip(a).filter(|(x, y)| x != y).take(3) {
                eprintln!("  before: {x}\n  after:  {y}");
            }
        }
    }
}

/// `waymark sessions rebuild`, with the collector (and sessionizer) stopped.
fn rebuild(binary: &Path, config: &Path, data: &Path) -> Result<()> {
    let output = Command::new(binary).args(["sessions", "rebuild", "--config"]).arg(config).arg("--data-dir").arg(data).env("WAYMARK_LOG", "warn").output()?;
    if !output.status.success() {
        bail!("waymark sessions rebuild failed: {}", String::from_utf8_lossy(&output.stderr));
    }
    Ok(())
}

/// `waymark sessionize`, as a process of its own.
struct Sessionizer {
    child: Child,
}

impl Sessionizer {
    fn start(binary: &Path, config: &Path, data: &Path) -> Result<Sessionizer> {
        let mut child = Command::new(binary)
            .args(["sessionize", "--config"])
            .arg(config)
            .arg("--data-dir")
            .arg(data)
            .env("WAYMARK_LOG", "warn")
            .stdout(Stdio::piped())
            .spawn()?;
        let mut stdout = BufReader::new(child.stdout.take().context("sessionizer stdout")?);
        let mut line = String::new();
        while !line.starts_with("waymark sessionizer running") {
            line.clear();
            if stdout.read_line(&mut line)? == 0 {
                let status = child.wait()?;
                bail!("the sessionizer exited ({status}) before running");
            }
        }
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        Ok(Sessionizer { child })
    }

    fn kill(mut self) -> Result<()> {
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }

    fn stop(mut self) -> Result<()> {
        crate::run(Command::new("kill").arg("-TERM").arg(self.child.id().to_string()))?;
        self.child.wait()?;
        Ok(())
    }
}

/// The ClickHouse server of the collector's example, driven over its stdin.
struct Database {
    child: Mutex<(Child, ChildStdin, BufReader<std::process::ChildStdout>)>,
    url: String,
    up: AtomicBool,
}

impl Database {
    fn start(example: &Path) -> Result<Database> {
        let mut child = Command::new(example).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().with_context(|| format!("starting {}", example.display()))?;
        let stdin = child.stdin.take().context("stdin")?;
        let mut stdout = BufReader::new(child.stdout.take().context("stdout")?);
        let mut line = String::new();
        stdout.read_line(&mut line)?;
        let url = line.trim().strip_prefix("clickhouse at ").with_context(|| format!("unexpected first line {line:?}"))?.to_owned();
        Ok(Database { child: Mutex::new((child, stdin, stdout)), url, up: AtomicBool::new(true) })
    }

    fn command(&self, command: &str, answer: &str) -> Result<()> {
        let mut guard = self.child.lock().map_err(|_| anyhow::anyhow!("database lock"))?;
        let (_, stdin, stdout) = &mut *guard;
        writeln!(stdin, "{command}")?;
        let mut line = String::new();
        stdout.read_line(&mut line)?;
        if line.trim() != answer {
            bail!("the ClickHouse example answered {line:?} to {command:?}");
        }
        Ok(())
    }

    fn kill(&self) -> Result<()> {
        self.command("kill", "killed")?;
        self.up.store(false, Ordering::Relaxed);
        Ok(())
    }

    fn restart(&self) -> Result<()> {
        self.command("restart", "restarted")?;
        self.up.store(true, Ordering::Relaxed);
        Ok(())
    }

    fn running(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    /// `sql`'s rows, tab-separated.
    fn query(&self, sql: &str) -> Result<String> {
        let out = Command::new("curl").args(["-sS", "--fail-with-body", &format!("{}/?database=crash", self.url), "--data-binary", sql]).output()?;
        if !out.status.success() {
            bail!("ClickHouse refused {sql:?}: {}", String::from_utf8_lossy(&out.stdout));
        }
        Ok(String::from_utf8(out.stdout)?)
    }

    /// Until every event appended is an event, then until the sessions
    /// count every event (a round writes its events before their
    /// sessions), or a minute has passed: the check then reports what
    /// the sessions lack.
    fn wait_for_sessionizer(&self) -> Result<()> {
        let pending = "SELECT (SELECT uniqExact(id) FROM incoming) - (SELECT uniqExact(id) FROM events)";
        let waited = Instant::now();
        while self.query(pending)?.trim() != "0" {
            if waited.elapsed() > Duration::from_secs(300) {
                bail!("the sessionizer did not catch up within 5 minutes");
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        let uncounted = "SELECT (SELECT count() FROM events FINAL WHERE site = 'demo') - \
             (SELECT sum(events) FROM sessions FINAL WHERE site = 'demo' AND deleted = 0)";
        let waited = Instant::now();
        while self.query(uncounted)?.trim() != "0" && waited.elapsed() < Duration::from_secs(60) {
            std::thread::sleep(Duration::from_millis(200));
        }
        Ok(())
    }

    fn stop(self) -> Result<()> {
        let (mut child, stdin, _) = self.child.into_inner().map_err(|_| anyhow::anyhow!("database lock"))?;
        drop(stdin);
        child.wait()?;
        Ok(())
    }
}

/// What the senders sent and had acknowledged.
struct Sent {
    ids: Vec<String>,
    requests: u64,
    resends: u64,
    retries: u64,
}

#[derive(Default)]
struct Counters {
    events: AtomicU64,
}

/// The senders, on a runtime of their own in a thread of their own.
struct Senders {
    stop: Arc<AtomicBool>,
    counters: Arc<Counters>,
    thread: std::thread::JoinHandle<Result<Sent>>,
}

/// Browser senders and server-to-server senders.
const BROWSERS: usize = 6;
const BACKENDS: usize = 2;

impl Senders {
    fn start(addr: SocketAddr, seed: u64) -> Senders {
        let stop = Arc::new(AtomicBool::new(false));
        let counters = Arc::new(Counters::default());
        let (stop2, counters2) = (stop.clone(), counters.clone());
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            runtime.block_on(async move {
                let tasks: Vec<_> = (0..BROWSERS + BACKENDS)
                    .map(|i| tokio::spawn(send(addr, i, i >= BROWSERS, seed.wrapping_add(i as u64 + 1), stop2.clone(), counters2.clone())))
                    .collect();
                let mut sent = Sent { ids: Vec::new(), requests: 0, resends: 0, retries: 0 };
                for task in tasks {
                    let one = task.await??;
                    sent.ids.extend(one.ids);
                    sent.requests += one.requests;
                    sent.resends += one.resends;
                    sent.retries += one.retries;
                }
                Ok(sent)
            })
        });
        Senders { stop, counters, thread }
    }

    fn acknowledged_events(&self) -> u64 {
        self.counters.events.load(Ordering::Relaxed)
    }

    fn finish(self) -> Result<Sent> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().map_err(|_| anyhow::anyhow!("the senders panicked"))?
    }
}

/// What one attempt got: an answer's status, or no answer.
enum Attempt {
    Answered(u16, String),
    NoAnswer,
}

/// One sender: a batch at a time, each until acknowledged.
async fn send(addr: SocketAddr, index: usize, server: bool, seed: u64, stop: Arc<AtomicBool>, counters: Arc<Counters>) -> Result<Sent> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut sent = Sent { ids: Vec::new(), requests: 0, resends: 0, retries: 0 };
    let mut connection = None;
    let mut body = String::new();
    let mut request = 0u64;
    // Ids carry the sender, so that none repeats between senders.
    let sender_id = (1u64 << 8) | index as u64;
    while !stop.load(Ordering::Relaxed) {
        let size = if server { 5 } else { rng.random_range(1..=10) };
        write_batch(&mut body, sender_id, request, size, server);
        let ids = batch_ids(&body)?;
        deliver(addr, &mut connection, &body, server, &mut sent.retries).await.with_context(|| format!("sender {index}"))?;
        counters.events.fetch_add(ids.len() as u64, Ordering::Relaxed);
        sent.ids.extend(ids);
        sent.requests += 1;
        // One batch in five is sent again once acknowledged: a page that
        // resends what it never heard was stored.
        if rng.random_bool(0.2) {
            deliver(addr, &mut connection, &body, server, &mut sent.retries).await.with_context(|| format!("sender {index}"))?;
            sent.resends += 1;
        }
        request += 1;
    }
    Ok(sent)
}

/// Sends `body` until it is answered 2xx: on 429, 503 and no answer it
/// waits and retries (10 ms doubling to 200 ms), as the SDK does with
/// seconds; any other answer is a failure of the run. The batch is retried
/// whatever the run's state: an unacknowledged batch is the sender's to
/// deliver, as the SDK keeps it.
async fn deliver(addr: SocketAddr, connection: &mut Option<Connection>, body: &str, server: bool, retries: &mut u64) -> Result<()> {
    let mut backoff = Duration::from_millis(10);
    loop {
        match attempt(addr, connection, body, server).await {
            Attempt::Answered(status, _) if (200..300).contains(&status) => return Ok(()),
            Attempt::Answered(429 | 503, _) | Attempt::NoAnswer => {
                *retries += 1;
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_millis(200));
            }
            Attempt::Answered(status, text) => bail!("the collector answered {status}: {text}"),
        }
    }
}

/// The event ids of a batch written by [`write_batch`].
fn batch_ids(body: &str) -> Result<Vec<String>> {
    let batch: serde_json::Value = serde_json::from_str(body)?;
    batch["events"]
        .as_array()
        .context("events")?
        .iter()
        .map(|e| e["id"].as_str().map(str::to_owned).context("event id"))
        .collect()
}

type Connection = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

/// One request on the kept connection (opened first if there is none); a
/// connection that failed is dropped.
async fn attempt(addr: SocketAddr, connection: &mut Option<Connection>, body: &str, server: bool) -> Attempt {
    let result = tokio::time::timeout(Duration::from_secs(10), async {
        if connection.as_ref().is_none_or(|c| c.is_closed()) {
            let stream = tokio::net::TcpStream::connect(addr).await?;
            stream.set_nodelay(true)?;
            let (sender, conn) = hyper::client::conn::http1::handshake::<_, Full<Bytes>>(TokioIo::new(stream)).await?;
            tokio::spawn(conn);
            *connection = Some(sender);
        }
        let sender = connection.as_mut().context("connection")?;
        sender.ready().await?;
        let request = if server {
            Request::post("/api/server/collect").header("content-type", "application/json").header("authorization", format!("Bearer {SECRET_KEY}"))
        } else {
            Request::post("/api/collect").header("content-type", "text/plain").header("user-agent", crate::bench::loadgen::USER_AGENT)
        };
        let response = sender.send_request(request.header("host", "crash").body(Full::new(Bytes::from(body.to_owned())))?).await?;
        let status = response.status().as_u16();
        let text = String::from_utf8_lossy(&response.into_body().collect().await?.to_bytes()).into_owned();
        anyhow::Ok((status, text))
    })
    .await;
    match result {
        Ok(Ok((status, text))) => Attempt::Answered(status, text),
        _ => {
            *connection = None;
            Attempt::NoAnswer
        }
    }
}

/// Every acknowledged event stored exactly once, and sessions equal a rebuild.
pub fn ensure_passed(outcome: &Outcome) -> Result<()> {
    eprintln!("{}", outcome.describe());
    if !outcome.passed() {
        bail!("crash loop failed: {}", outcome.describe());
    }
    Ok(())
}
