//! The analyses benchmark: seeds a SQLite store with synthetic events over
//! 90 days (a fifth of the visitors identified, some of those on a second
//! device), derives their sessions with the store's own rule, and times a
//! 3-step funnel over 30 days, a 12-week cohort table, the 30-day overview
//! with a one-behaviour segment applied, the people list and one person's
//! journey, through `Queries` as the API asks them. Prints a markdown
//! section on stdout.
//!
//! `cargo run --profile server -p waymark-collector --example analyses_bench -- 1000000`
//! (with `ANALYSES_BENCH_KEEP=PATH`, the seeded database is copied there;
//! `ANALYSES_BENCH_DB=PATH` starts from such a copy instead of seeding).

use std::sync::Arc;
use std::time::{Duration, Instant};

use rusqlite::{Connection, params};
use waymark_collector::clock::ManualClock;
use waymark_collector::event::StoredEvent;
use waymark_collector::query::Site;
use waymark_collector::query::funnel::{FunnelRequest, Order, Unit, Window};
use waymark_collector::query::matching::{Condition, MatchRequest, VisitsRequest};
use waymark_collector::store::read::Reads;
use waymark_collector::query::overview::OverviewRequest;
use waymark_collector::query::people::PeopleRequest;
use waymark_collector::query::period::{Interval, Period};
use waymark_collector::query::queries::Queries;
use waymark_collector::query::retention::{Grain, RetentionRequest};
use waymark_collector::store::Store;
use waymark_collector::store::definitions::{Definition, Definitions, Kind};
use waymark_collector::store::lifecycle::Selector;
use waymark_collector::store::sqlite::{SqliteDefinitions, SqliteStore};

const SITE: &str = "bench";
const TIME_ZONE: &str = "Europe/Berlin";
const DAYS: i64 = 90;
/// The end of the seeded history (2026-01-01T00:00Z).
const END_MS: i64 = 1_767_225_600_000;
const RUNS: usize = 9;

const PATHS: [&str; 12] = ["/", "/pricing", "/docs", "/docs/install", "/docs/api", "/blog", "/blog/launch", "/blog/privacy", "/about", "/contact", "/signup", "/login"];
const COUNTRIES: [&str; 10] = ["DE", "US", "FR", "GB", "NL", "IN", "BR", "JP", "CA", "ES"];
const DEVICES: [&str; 3] = ["desktop", "mobile", "tablet"];
const CUSTOM: [&str; 3] = ["signup", "download", "outbound"];

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

/// Visits of 1–7 events; visitor `n` is user `user-{n/2}` when `n % 10 < 2`
/// (so users 0, 5, 10 … have two devices), identified on every event.
fn seed_events(db: &std::path::Path, events: u64) -> anyhow::Result<()> {
    let mut conn = Connection::open(db)?;
    conn.pragma_update(None, "synchronous", "OFF")?;
    let tx = conn.transaction()?;
    {
        let mut insert = tx.prepare(
            "INSERT INTO events (site, id, ts, received_ms, name, session_id, client_session_id, visitor_id, user_id, url, host, path,
                device, country, props)
             VALUES (?1, ?2, ?3, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'bench.example', ?10, ?11, ?12, '{}')",
        )?;
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let visitors = (events / 8).max(1);
        let mut written = 0;
        while written < events {
            let client_session = rng.uuid();
            let n = rng.below(visitors);
            let visitor = format!("visitor-{n}");
            let user = (n % 10 < 2).then(|| format!("user-{}", n / 2));
            let count = (1 + rng.below(7)).min(events - written);
            let (device, country) = (rng.pick(&DEVICES), rng.pick(&COUNTRIES));
            let mut ts = END_MS - DAYS * 86_400_000 + rng.below((DAYS * 86_400_000 - 35 * 60_000) as u64) as i64;
            let mut session = String::new();
            for i in 0..count {
                let path = rng.pick(&PATHS);
                let name = if i == 0 || rng.below(10) < 7 { "$pageview" } else { rng.pick(&CUSTOM) };
                let id = rng.uuid();
                if i == 0 {
                    session = waymark_collector::sessions::session_id(SITE, &visitor, &StoredEvent { id: id.clone(), ts, ..StoredEvent::default() });
                }
                insert.execute(params![
                    SITE, id, ts, name, session, client_session, visitor, user, format!("https://bench.example{path}"), path, device, country
                ])?;
                ts += 10_000 + rng.below(300_000) as i64;
            }
            written += count;
        }
    }
    waymark_collector::store::sqlite::recount_event_slots(&tx)?;
    // The link log, as the identity migration fills it from stored events.
    tx.execute_batch(
        "INSERT INTO identity_links (site, visitor_id, user_id, ts, event_id)
         SELECT site, visitor_id, user_id, min(ts), id FROM events WHERE user_id IS NOT NULL GROUP BY site, visitor_id, user_id",
    )?;
    tx.commit()?;
    Ok(())
}

/// The process's CPU time so far (every thread, user and system), ms.
fn cpu_ms() -> f64 {
    // SAFETY: getrusage only writes the struct it is given.
    let usage = unsafe {
        let mut usage = std::mem::zeroed::<libc::rusage>();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let ms = |t: libc::timeval| t.tv_sec as f64 * 1000.0 + t.tv_usec as f64 / 1000.0;
    ms(usage.ru_utime) + ms(usage.ru_stime)
}

/// Median and slowest wall time, and median CPU time, of `RUNS` runs after
/// a warm-up. CPU time moves less than wall time with what else the
/// machine runs.
async fn time<T, F: std::future::Future<Output = T>>(run: impl Fn() -> F) -> (f64, f64, f64) {
    run().await;
    let (mut ms, mut cpu) = (Vec::with_capacity(RUNS), Vec::with_capacity(RUNS));
    for _ in 0..RUNS {
        let (t, c) = (Instant::now(), cpu_ms());
        run().await;
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
        cpu.push(cpu_ms() - c);
    }
    ms.sort_by(f64::total_cmp);
    cpu.sort_by(f64::total_cmp);
    (ms[RUNS / 2], ms[RUNS - 1], cpu[RUNS / 2])
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let events: u64 = std::env::args().nth(1).map_or(Ok(1_000_000), |a| a.parse())?;
    let dir = tempfile::tempdir()?;
    let started = Instant::now();
    let db = dir.path().join("waymark.db");
    let (store, sessions) = match std::env::var("ANALYSES_BENCH_DB") {
        // A store this bench seeded and kept before, of the same size.
        Ok(seeded) => {
            std::fs::copy(seeded, &db)?;
            let sessions: i64 = Connection::open(&db)?.query_row("SELECT count(*) FROM sessions", [], |r| r.get(0))?;
            (SqliteStore::open(dir.path())?, sessions)
        }
        Err(_) => {
            SqliteStore::open(dir.path())?.close().await;
            seed_events(&db, events)?;
            let store = SqliteStore::open(dir.path())?;
            let rebuilt = store.rebuild_sessions().await?;
            Connection::open(&db)?.execute_batch("ANALYZE")?;
            (store, rebuilt.sessions as i64)
        }
    };
    let seeded: Duration = started.elapsed();
    if let Ok(keep) = std::env::var("ANALYSES_BENCH_KEEP") {
        Connection::open(&db)?.execute("VACUUM INTO ?1", [keep])?;
    }

    let definitions = Arc::new(SqliteDefinitions::open_in(dir.path())?);
    definitions.put(&Definition {
        site: SITE.into(),
        kind: Kind::Segment,
        id: "signed-up".into(),
        name: "Signed up".into(),
        body: r#"{"name":"Signed up","match":"all","conditions":[{"kind":"did","condition":{"kind":"event","name":"signup"}}]}"#.into(),
        updated_ms: END_MS,
    })?;
    let reads = store.reads();
    let queries = Queries::new(Arc::new(store.reads()), definitions, Arc::new(ManualClock::at(END_MS)));
    let site = Site::new(SITE, TIME_ZONE)?;
    let month = Period::last_days(30, END_MS - 1, &site.time_zone);
    let weeks = Period::last_days(84, END_MS - 1, &site.time_zone);
    let page = |p: &str| Condition::Page { pattern: p.into() };
    let funnel = FunnelRequest {
        period: month.clone(),
        steps: vec![page("/"), page("/pricing"), Condition::Event { name: "signup".into(), property: None, value: None }],
        window: Window::Days(7),
        order: Order::Loose,
        unit: Unit::People,
        filters: vec![],
        breakdown: None,
    };
    let retention = RetentionRequest { period: weeks, grain: Grain::Week, unit: Unit::People, first_event: None, filters: vec![] };
    let people = PeopleRequest { period: month.clone(), filters: vec![], search: Some("user-12".into()), page: 0, per_page: 50 };
    let (q, s, r) = (&queries, &site, &reads);
    let (lo, hi) = month.bounds(&site.time_zone);
    let visits = VisitsRequest { lo, hi, filters: vec![], dimension: None, places: true };
    let (weeks_lo, weeks_hi) = retention.period.bounds(&site.time_zone);
    let visits_12_weeks = VisitsRequest { lo: weeks_lo, hi: weeks_hi, filters: vec![], dimension: None, places: false };
    let steps = MatchRequest { lo, hi: hi + 7 * 86_400_000, filters: vec![], conditions: funnel.conditions() };
    let cases: Vec<(&str, (f64, f64, f64))> = vec![
        ("(its rows) the visits of 30 days", time(|| async { r.visits(s, &visits).await.unwrap() }).await),
        ("(its rows) the visits of 12 weeks", time(|| async { r.visits(s, &visits_12_weeks).await.unwrap() }).await),
        ("(its rows) the funnel's matching events, 37 days", time(|| async { r.matches(s, &steps).await.unwrap() }).await),
        ("(its rows) the link log", time(|| async { r.identities(s).await.unwrap() }).await),
        (
            "(its rows) the segment's members over 30 days (did signup)",
            time(|| async {
                let segment = q.saved_segment(s, "signed-up").await.unwrap();
                q.segment_members(s, &segment, &month).await.unwrap()
            })
            .await,
        ),
        ("3-step funnel over 30 days (people, within 7 days)", time(|| async { q.funnel(s, &funnel).await.unwrap() }).await),
        ("12-week cohort table (people, by week)", time(|| async { q.retention(s, &retention).await.unwrap() }).await),
        (
            "30-day overview with a one-behaviour segment (did signup)",
            time(|| async {
                let mut request = OverviewRequest { period: month.clone(), interval: Interval::Day, filters: vec![], people: None };
                q.apply_segment(s, Some("signed-up"), &request.period, &mut request.filters).await.unwrap();
                q.overview(s, &request).await.unwrap()
            })
            .await,
        ),
        ("30-day overview, with people", time(|| async { q.overview(s, &OverviewRequest { period: month.clone(), interval: Interval::Day, filters: vec![], people: None }).await.unwrap() }).await),
        ("people list, 30 days, searched", time(|| async { q.people(s, &people).await.unwrap() }).await),
        ("a person's journey (two devices)", time(|| async { q.person_journey(s, &Selector::User("user-0".into())).await.unwrap() }).await),
    ];
    println!("\n### Analyses: {events} events ({sessions} sessions) over {DAYS} days, SQLite\n");
    let store_was = match std::env::var("ANALYSES_BENCH_DB") {
        Ok(_) => "Started from a store this bench seeded and kept before".to_owned(),
        Err(_) => format!("Seeded in {:.1} s", seeded.as_secs_f64()),
    };
    println!(
        "{store_was}. Median and slowest of {RUNS} runs after one warm-up, through `Queries` (as the API asks), and the median CPU \
         time of this process's threads, which the machine's other load moves less.\n"
    );
    println!("| question | median ms | slowest ms | median CPU ms |\n| --- | ---: | ---: | ---: |");
    for (name, (median, max, cpu)) in cases {
        println!("| {name} | {median:.1} | {max:.1} | {cpu:.1} |");
    }
    store.close().await;
    Ok(())
}
