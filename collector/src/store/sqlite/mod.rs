//! The embedded default store: SQLite in WAL mode.
//!
//! Mechanism: one writer thread owns the write connection. Appends from
//! many requests queue on a bounded channel (full → [`StoreError::Busy`],
//! which the API turns into 503 with `Retry-After`); the writer takes
//! everything queued, commits it in one transaction (group commit) and hands
//! the answers to [`super::wal_sync`], which flushes the WAL to disk and
//! only then answers each request: an answered commit survives power loss
//! and `kill -9`, and the writer goes on with the next group while the
//! disk flushes. In the same transaction the writer recomputes
//! the sessions the new events touch (see [`crate::sessions`]). Reads use
//! their own connections and run in parallel with the writer. Checkpoints
//! (copying the WAL into the database file, with its own fsyncs) run on a
//! separate thread so that commits never wait for them.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::thread::JoinHandle;
use std::time::Instant;

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};
use tokio::sync::{mpsc, oneshot};
use waymark_protocol::limits;

mod checkpoints;
mod connection;
mod reads;
mod tails;
mod wal_sync;

use checkpoints::WalLength;
use tails::{Change, Tail, Tails};
use wal_sync::{Answer, WalSync};
pub use connection::open_connection;
pub use reads::SqliteReads;
use connection::migrate;
#[cfg(test)]
use connection::MIGRATIONS;
use crate::event::StoredEvent;
use crate::store::{Appended, BotHit, DaySalts, Rebuilt, Store, StoreError};
use crate::sessions::{self, Session};

/// The writer's page cache. Small on purpose: SQLite walks every cached
/// page at the end of each write transaction, and the writer's pages are
/// the recent ends of its indexes (ids and times grow), which stay in the
/// OS cache anyway. 4 MiB writes 12% faster here than 64 MiB.
const WRITER_CACHE_KIB: i64 = 4 * 1024;

/// Requests taken into one transaction at most.
const MAX_GROUP: usize = 512;

pub(crate) const SESSION_COLUMNS: &str = "site, id, visitor_id, client_session_id, user_id, start_ts, end_ts, duration_ms, pageviews, events,
    entry_path, exit_path, bounce, referrer_host, source, medium, utm_source, utm_medium, utm_campaign,
    utm_term, utm_content, browser, os, device, country, region, city";

/// The statements that store an event: plain, and one that skips an id the
/// site has stored already (the insert then reports no row).
static INSERT_EVENT: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| format!("INSERT INTO events ({EVENT_COLUMNS}) VALUES ({})", placeholders(31)));
static INSERT_EVENT_UNLESS_STORED: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| format!("{} ON CONFLICT (site, id) DO NOTHING", *INSERT_EVENT));

const EVENT_COLUMNS: &str = "site, id, ts, received_ms, name, session_id, client_session_id, visitor_id, user_id, url, host, path,
    title, referrer, referrer_host, source, medium, utm_source, utm_medium, utm_campaign, utm_term, utm_content,
    browser, browser_version, os, device, country, region, city, props, engaged_ms";

/// How the store is run; [`StoreOptions::default`] suits tests.
#[derive(Clone)]
pub struct StoreOptions {
    /// Requests that may wait for the writer before appends are refused.
    pub write_queue: usize,
    /// Idle time that ends a session, per site key; others get the default.
    pub session_timeouts: HashMap<String, i64>,
    /// Observes each commit's duration, in seconds.
    pub commit_seconds: Option<prometheus::Histogram>,
    /// WAL length (in pages) at which the writer starts the WAL over.
    pub wal_restart_frames: u32,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            write_queue: 4096,
            session_timeouts: HashMap::new(),
            commit_seconds: None,
            wal_restart_frames: checkpoints::RESTART_FRAMES,
        }
    }
}

struct Timeouts(HashMap<String, i64>);

impl Timeouts {
    fn of(&self, site: &str) -> i64 {
        self.0.get(site).copied().unwrap_or(limits::DEFAULT_SESSION_TIMEOUT_MS)
    }
}

type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

enum Job {
    Append { events: Vec<StoredEvent>, reply: Reply<Vec<Appended>> },
    CountBots { hits: Vec<BotHit>, reply: Reply<()> },
    Salts { day: i64, reply: Reply<DaySalts> },
    Rebuild { reply: Reply<Rebuilt> },
}

pub struct SqliteStore {
    path: PathBuf,
    sender: Mutex<Option<mpsc::Sender<Job>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
}

impl SqliteStore {
    /// Opens (creating if needed) `waymark.db` in `data_dir` and migrates it.
    pub fn open(data_dir: &Path) -> Result<SqliteStore, StoreError> {
        SqliteStore::open_with(data_dir, StoreOptions::default())
    }

    pub fn open_with(data_dir: &Path, options: StoreOptions) -> Result<SqliteStore, StoreError> {
        std::fs::create_dir_all(data_dir)
            .map_err(|source| StoreError::DataDir { path: data_dir.display().to_string(), source })?;
        let path = data_dir.join("waymark.db");
        let mut conn = open_connection(&path)?;
        migrate(&mut conn)?;
        // The checkpoint thread does this work, off the commit path, and
        // the writer keeps the WAL short (see `checkpoints`).
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        let wal_length = WalLength::watch(&mut conn, &path, options.wal_restart_frames)?;
        // The writer commits without flushing; `WalSync` flushes, then answers.
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "cache_size", -WRITER_CACHE_KIB)?;
        let wal_sync = WalSync::start(data_dir.join("waymark.db-wal"));
        let (sender, receiver) = mpsc::channel(options.write_queue.max(1));
        let writer = std::thread::Builder::new()
            .name("waymark-writer".into())
            .spawn(move || {
                Writer {
                    conn,
                    timeouts: Timeouts(options.session_timeouts),
                    commit_seconds: options.commit_seconds,
                    tails: Tails::default(),
                    wal_sync,
                    wal_length,
                    look_up_for: 0,
                }
                .run(receiver)
            })
            .expect("spawning the writer thread");
        Ok(SqliteStore {
            path,
            sender: Mutex::new(Some(sender)),
            writer: Mutex::new(Some(writer)),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The read seam over this store's file.
    pub fn reads(&self) -> SqliteReads {
        SqliteReads::open(&self.path)
    }

    /// A new read-only connection, for queries.
    pub fn reader(&self) -> Result<Connection, StoreError> {
        let conn = Connection::open_with_flags(&self.path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        Ok(conn)
    }

    async fn submit<T>(&self, job: impl FnOnce(Reply<T>) -> Job) -> Result<T, StoreError> {
        let (reply, answer) = oneshot::channel();
        {
            let sender = self.sender.lock().expect("sender lock");
            let sender = sender.as_ref().ok_or(StoreError::Closed)?;
            sender.try_send(job(reply)).map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => StoreError::Busy(sender.max_capacity()),
                mpsc::error::TrySendError::Closed(_) => StoreError::Closed,
            })?;
        }
        answer.await.map_err(|_| StoreError::Closed)?
    }

    async fn read<T: Send + 'static>(
        &self,
        query: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, StoreError> {
        let conn = self.reader()?;
        tokio::task::spawn_blocking(move || query(&conn).map_err(StoreError::from)).await.map_err(|_| StoreError::Closed)?
    }
}

struct Writer {
    conn: Connection,
    timeouts: Timeouts,
    commit_seconds: Option<prometheus::Histogram>,
    /// Recent visitors' latest events and sessions, as committed.
    tails: Tails,
    /// Answers requests once their commit is on disk.
    wal_sync: WalSync,
    /// Keeps the WAL from growing under steady load.
    wal_length: WalLength,
    /// Groups left that look ids up rather than assume them new.
    look_up_for: u32,
}

impl Writer {
    fn run(mut self, mut receiver: mpsc::Receiver<Job>) {
        let mut next: Option<Job> = None;
        loop {
            let Some(first) = next.take().or_else(|| receiver.blocking_recv()) else { break };
            match first {
                Job::Salts { day, reply } => {
                    let salts = rotate_salts(&mut self.conn, day);
                    self.answer_after_flush(reply, salts);
                }
                Job::Rebuild { reply } => {
                    self.tails.clear();
                    let rebuilt = rebuild(&mut self.conn, &self.timeouts);
                    self.answer_after_flush(reply, rebuilt);
                }
                write => {
                    let mut group = vec![write];
                    while group.len() < MAX_GROUP {
                        match receiver.try_recv() {
                            Ok(job @ (Job::Append { .. } | Job::CountBots { .. })) => group.push(job),
                            Ok(other) => {
                                next = Some(other);
                                break;
                            }
                            Err(_) => break,
                        }
                    }
                    self.commit(group);
                }
            }
            self.wal_length.after_commit(&self.conn);
        }
        // The last answers wait for their flush before the connection
        // closes (closing the last connection removes the WAL file).
        let Writer { conn, wal_sync, .. } = self;
        drop(wal_sync);
        drop(conn);
    }

    /// Sends a transaction's result once it is on disk (at once if it failed).
    fn answer_after_flush<T: Send + 'static>(&self, reply: Reply<T>, result: rusqlite::Result<T>) {
        match result {
            Ok(value) => self.wal_sync.after_flush(vec![Box::new(move |flushed| drop(reply.send(flushed.map(|()| value))))]),
            Err(err) => drop(reply.send(Err(StoreError::from(err)))),
        }
    }

    /// Writes a group: assuming its events new unless a recent group met a
    /// stored one, and looking ids up when the assumption fails.
    fn write(&mut self, group: &mut [Job]) -> rusqlite::Result<Committed> {
        if self.look_up_for == 0 {
            if let Some(committed) = commit_group(&mut self.conn, group, &self.timeouts, &self.tails, Dedupe::Insert)? {
                return Ok(committed);
            }
            self.look_up_for = LOOK_UP_AFTER_A_DUPLICATE;
        } else {
            self.look_up_for -= 1;
        }
        let committed = commit_group(&mut self.conn, group, &self.timeouts, &self.tails, Dedupe::LookUp)?;
        Ok(committed.expect("a group whose ids were looked up is written or fails"))
    }

    fn commit(&mut self, mut group: Vec<Job>) {
        let started = Instant::now();
        let result = self.write(&mut group);
        if let Some(h) = &self.commit_seconds {
            h.observe(started.elapsed().as_secs_f64());
        }
        match result {
            Ok((outcomes, changes)) => {
                self.tails.apply(changes, |site| self.timeouts.of(site));
                // The answers own the group's events: they are freed on the
                // flush thread, not here.
                let answers = group
                    .into_iter()
                    .zip(outcomes)
                    .map(|(job, outcome)| -> Answer {
                        match job {
                            Job::Append { reply, events } => Box::new(move |flushed| {
                                let _ = reply.send(flushed.map(|()| outcome));
                                drop(events);
                            }),
                            Job::CountBots { reply, .. } => Box::new(move |flushed| drop(reply.send(flushed))),
                            Job::Salts { .. } | Job::Rebuild { .. } => unreachable!("only writes are grouped"),
                        }
                    })
                    .collect();
                self.wal_sync.after_flush(answers);
            }
            Err(err) => {
                tracing::error!(error = %err, "commit failed; the requests are answered with an error");
                for job in group {
                    let failed = || StoreError::Commit(err.to_string());
                    match job {
                        Job::Append { reply, .. } => drop(reply.send(Err(failed()))),
                        Job::CountBots { reply, .. } => drop(reply.send(Err(failed()))),
                        Job::Salts { .. } | Job::Rebuild { .. } => {}
                    }
                }
            }
        }
    }
}

/// Events of a group, as (job, event) positions.
type Positions = Vec<(usize, usize)>;

/// Where an event of a visitor's session window comes from.
#[derive(Clone, Copy)]
enum Origin {
    /// Already stored.
    Stored,
    /// Arriving now: (job, event) in the group.
    New(usize, usize),
}

/// How a group learns which of its events are stored already.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Dedupe {
    /// Look each id up first: a seek per event.
    LookUp,
    /// Assume none is (the usual case) and let the insert find out; a group
    /// that meets a stored id is rolled back and written again with
    /// `LookUp`. Saves the lookup's seek, an eighth of the writer's time.
    Insert,
}

/// After a group met a stored id, this many groups look ids up: resent
/// batches come in runs (a client retrying, a queue replayed), and each
/// try that meets one is work thrown away.
const LOOK_UP_AFTER_A_DUPLICATE: u32 = 64;

/// What a group's commit gives: each append's outcomes and the changes to
/// the visitors' tails, to apply once committed.
type Committed = (Vec<Vec<Appended>>, Vec<Change>);

/// Commits a group of writes; `None` when `Dedupe::Insert` met an event
/// stored already (nothing was written).
fn commit_group(
    conn: &mut Connection,
    group: &mut [Job],
    timeouts: &Timeouts,
    tails: &Tails,
    dedupe: Dedupe,
) -> rusqlite::Result<Option<Committed>> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let mut outcomes: Vec<Vec<Appended>> = group
        .iter()
        .map(|job| match job {
            Job::Append { events, .. } => vec![Appended::Duplicate; events.len()],
            _ => Vec::new(),
        })
        .collect();

    // 1. Which events are new: not stored yet, and not earlier in this group.
    // Looked up, or (usually) assumed: then the insert below finds out.
    let mut new: Vec<(usize, usize)> = Vec::new();
    {
        let mut exists =
            (dedupe == Dedupe::LookUp).then(|| tx.prepare_cached("SELECT 1 FROM events WHERE site = ?1 AND id = ?2")).transpose()?;
        let mut seen: HashSet<(&str, &str)> = HashSet::new();
        for (j, job) in group.iter().enumerate() {
            if let Job::Append { events, .. } = job {
                for (i, e) in events.iter().enumerate() {
                    if !seen.insert((&e.site, &e.id)) {
                        continue;
                    }
                    let stored = match &mut exists {
                        Some(exists) => exists.exists(params![e.site, e.id])?,
                        None => false,
                    };
                    if !stored {
                        new.push((j, i));
                    }
                }
            }
        }
    }

    // 2. Cookieless visitors still in yesterday's session keep yesterday's key.
    // (Read, not taken: a group written again decides again, the same way.)
    {
        // An event of the visitor within a timeout of `ts` exists exactly when
        // one of its sessions overlaps that window: a session's events are at
        // most a timeout apart, so one spanning the window has one inside.
        for &(j, i) in &new {
            let Job::Append { events, .. } = &mut group[j] else { continue };
            let e = &mut events[i];
            if let Some(previous) = &e.visitor_id_yesterday {
                let timeout = timeouts.of(&e.site);
                if !sessions_overlapping(&tx, &e.site, previous, e.ts - timeout, e.ts + timeout, 1)?.is_empty() {
                    e.visitor_id = previous.clone();
                }
            }
        }
    }

    // 3. Sessions, visitor by visitor: the new events sorted by visitor,
    // then each visitor's run.
    let key = |&(j, i): &(usize, usize)| match &group[j] {
        Job::Append { events, .. } => (events[i].site.as_str(), events[i].visitor_id.as_str()),
        _ => unreachable!("positions point at appends"),
    };
    let mut by_visitor = new.clone();
    by_visitor.sort_by(|a, b| key(a).cmp(&key(b)));
    // (site, visitor, the visitor's new events)
    let runs: Vec<(String, String, Positions)> = by_visitor
        .chunk_by(|a, b| key(a) == key(b))
        .map(|run| {
            let (site, visitor) = key(&run[0]);
            (site.to_owned(), visitor.to_owned(), run.to_vec())
        })
        .collect();
    let mut changes = Vec::with_capacity(runs.len());
    for (site, visitor, positions) in &runs {
        let visit = Visit { site, visitor, positions, timeout: timeouts.of(site) };
        changes.push(resessionize(&tx, group, &mut outcomes, &visit, tails.get(site, visitor))?);
    }

    // 4. The new events, with their sessions. An assumed-new event that is
    // stored already ends this try: dropping `tx` rolls it back.
    {
        let mut insert = tx.prepare_cached(match dedupe {
            Dedupe::LookUp => &INSERT_EVENT,
            Dedupe::Insert => &INSERT_EVENT_UNLESS_STORED,
        })?;
        for &(j, i) in &new {
            if let Job::Append { events, .. } = &group[j] {
                let e = &events[i];
                let inserted = insert.execute(params![
                    e.site, e.id, e.ts, e.received_ms, e.name, e.session_id, e.client_session_id, e.visitor_id, e.user_id,
                    e.url, e.host, e.path, e.title, e.referrer, e.referrer_host, e.source, e.medium, e.utm_source,
                    e.utm_medium, e.utm_campaign, e.utm_term, e.utm_content, e.browser, e.browser_version, e.os,
                    e.device, e.country, e.region, e.city, e.props, e.engaged_ms
                ])?;
                if inserted == 0 {
                    return Ok(None);
                }
            }
        }
    }

    // 5. The quarter-hour counts the overview adds up.
    {
        let mut slots: HashMap<(&str, i64), (i64, i64)> = HashMap::new();
        for &(j, i) in &new {
            if let Job::Append { events, .. } = &group[j] {
                let e = &events[i];
                let count = slots.entry((e.site.as_str(), e.ts / SLOT_MS)).or_default();
                count.0 += 1;
                count.1 += i64::from(e.name == waymark_protocol::names::PAGEVIEW);
            }
        }
        let mut add = tx.prepare_cached(
            "INSERT INTO event_slots (site, slot, events, pageviews) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (site, slot) DO UPDATE SET events = events + excluded.events, pageviews = pageviews + excluded.pageviews",
        )?;
        for ((site, slot), (events, pageviews)) in slots {
            add.execute(params![site, slot, events, pageviews])?;
        }
    }

    // 6. Bots.
    {
        let mut count = tx.prepare_cached(
            "INSERT INTO bot_hits (site, day, bot, hits) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (site, day, bot) DO UPDATE SET hits = hits + excluded.hits",
        )?;
        for job in group.iter() {
            if let Job::CountBots { hits, .. } = job {
                for h in hits {
                    count.execute(params![h.site, h.day, h.bot, h.hits])?;
                }
            }
        }
    }
    tx.commit()?;
    Ok(Some((outcomes, changes)))
}

/// One visitor's new events in a group: where they are, and the site's
/// session timeout.
#[derive(Clone, Copy)]
struct Visit<'a> {
    site: &'a str,
    visitor: &'a str,
    positions: &'a [(usize, usize)],
    timeout: i64,
}

/// Puts the new events at `positions` (one visitor's) into sessions. The
/// common case — every new event after the visitor's last stored one —
/// extends the last session from its summary (`tail`, the writer's memory
/// of it, or its row), reading no old events; anything else recomputes the
/// window around the new events. Returns the change to the visitor's tail.
fn resessionize(
    tx: &Transaction,
    group: &mut [Job],
    outcomes: &mut [Vec<Appended>],
    visit: &Visit,
    tail: Option<&Tail>,
) -> rusqlite::Result<Change> {
    let Visit { site, visitor, positions, timeout } = *visit;
    // What the rule reads of the visitor's latest event.
    let last: Option<StoredEvent> = match tail {
        Some(tail) => Some(tail.last.clone()),
        None => latest_event(tx, site, visitor)?,
    };

    // Sessions for the new events, read in place; written back below.
    // (session, whether it starts here, its new events)
    let planned: Option<Vec<(Session, bool, Positions)>> = {
        let mut new_events: Vec<(&StoredEvent, (usize, usize))> = positions
            .iter()
            .map(|&(j, i)| match &group[j] {
                Job::Append { events, .. } => (&events[i], (j, i)),
                _ => unreachable!("positions point at appends"),
            })
            .collect();
        new_events.sort_by(|a, b| sessions::order(a.0, b.0));
        if last.as_ref().is_some_and(|last| sessions::order(last, new_events[0].0) != std::cmp::Ordering::Less) {
            None
        } else {
            let refs: Vec<&StoredEvent> = new_events.iter().map(|(e, _)| *e).collect();
            let mut computed = sessions::sessionize(&refs, timeout);
            let mut continued = false;
            if let Some(last) = &last
                && !sessions::starts_new_session(last, refs[0], timeout)
            {
                let previous = match tail {
                    Some(tail) => tail.session.clone(),
                    None => load_session(tx, site, &last.session_id)?,
                };
                let range = computed[0].1.clone();
                computed[0].0 = sessions::extend(&previous, &refs[range]);
                continued = true;
            }
            Some(
                computed
                    .into_iter()
                    .enumerate()
                    .map(|(k, (session, range))| {
                        let started = !(continued && k == 0);
                        (session, started, new_events[range].iter().map(|(_, p)| *p).collect())
                    })
                    .collect(),
            )
        }
    };
    // A new event before the visitor's latest stored one: the window.
    let Some(planned) = planned else {
        recompute_window(tx, group, outcomes, visit)?;
        return Ok(Change::Forget { site: site.to_owned(), visitor: visitor.to_owned() });
    };
    // The newest event (the last of the last session) and its session.
    let mut newest: Option<((usize, usize), Session)> = None;
    for (session, started, members) in planned {
        if started {
            insert_session(tx, &session)?;
        } else {
            update_session(tx, &session)?;
        }
        let last_member = members.last().copied();
        for (offset, (j, i)) in members.into_iter().enumerate() {
            if let Job::Append { events, .. } = &mut group[j] {
                events[i].session_id = session.id.clone();
            }
            outcomes[j][i] = Appended::Stored {
                session_id: session.id.clone(),
                visitor_id: visitor.to_owned(),
                session_started: started && offset == 0,
            };
        }
        newest = last_member.map(|position| (position, session));
    }
    Ok(match newest {
        Some(((j, i), session)) => match &group[j] {
            Job::Append { events, .. } => Change::Set(Tail::new(&events[i], session)),
            _ => unreachable!("positions point at appends"),
        },
        None => Change::Forget { site: site.to_owned(), visitor: visitor.to_owned() },
    })
}

/// Walks the visitor's sessions that start by `to`, the latest start
/// first, giving each (id, start, end) to `visit` until it says stop.
/// A visitor's sessions follow one another, so its callers stop after a few.
fn walk_back_sessions(
    tx: &Transaction,
    site: &str,
    visitor: &str,
    to: i64,
    mut visit: impl FnMut(String, i64, i64) -> std::ops::ControlFlow<()>,
) -> rusqlite::Result<()> {
    let mut newest_first = tx.prepare_cached(
        "SELECT id, start_ts, end_ts FROM sessions WHERE site = ?1 AND visitor_id = ?2 AND start_ts <= ?3 ORDER BY start_ts DESC",
    )?;
    let mut rows = newest_first.query(params![site, visitor, to])?;
    while let Some(row) = rows.next()? {
        if visit(row.get(0)?, row.get(1)?, row.get(2)?).is_break() {
            break;
        }
    }
    Ok(())
}

/// The ids of the visitor's sessions that overlap `[from, to]` (at most
/// `limit`). Walking back from the last to start by `to`, the first to end
/// before `from` (with those that start at the same moment) is the last to
/// read: every earlier one ended before it began.
fn sessions_overlapping(tx: &Transaction, site: &str, visitor: &str, from: i64, to: i64, limit: usize) -> rusqlite::Result<Vec<String>> {
    use std::ops::ControlFlow::{Break, Continue};
    let mut found = Vec::new();
    let mut ended_before: Option<i64> = None;
    walk_back_sessions(tx, site, visitor, to, |id, start, end| {
        if ended_before.is_some_and(|last| start < last) {
            return Break(());
        }
        if end >= from {
            found.push(id);
            if found.len() >= limit {
                return Break(());
            }
        } else {
            ended_before = Some(start);
        }
        Continue(())
    })?;
    Ok(found)
}

/// What the session rule reads of the visitor's latest stored event. It
/// is in the visitor's session that starts last (sessions follow one
/// another; when two start at the same moment, the one whose last event
/// comes later).
fn latest_event(tx: &Transaction, site: &str, visitor: &str) -> rusqlite::Result<Option<StoredEvent>> {
    use std::ops::ControlFlow::{Break, Continue};
    let mut last_sessions: Vec<String> = Vec::new();
    let mut last_start: Option<i64> = None;
    walk_back_sessions(tx, site, visitor, i64::MAX, |id, start, _| {
        if last_start.is_some_and(|last| last != start) {
            return Break(());
        }
        last_start = Some(start);
        last_sessions.push(id);
        Continue(())
    })?;
    let mut last_event = tx.prepare_cached(
        "SELECT ts, id, client_session_id FROM events WHERE site = ?1 AND session_id = ?2 ORDER BY ts DESC, id DESC LIMIT 1",
    )?;
    let mut latest: Option<StoredEvent> = None;
    for session_id in last_sessions {
        let event = last_event
            .query_row(params![site, session_id], |r| {
                Ok(StoredEvent { ts: r.get(0)?, id: r.get(1)?, client_session_id: r.get(2)?, ..StoredEvent::default() })
            })
            .optional()?;
        if let Some(event) = event
            && latest.as_ref().is_none_or(|l| sessions::order(l, &event).is_lt())
        {
            latest = Some(StoredEvent { session_id, ..event });
        }
    }
    Ok(latest)
}

fn load_session(tx: &Transaction, site: &str, id: &str) -> rusqlite::Result<Session> {
    tx.prepare_cached(&format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE site = ?1 AND id = ?2"))?
        .query_row(params![site, id], session_from_row)
}

/// Recomputes one visitor's sessions around the new events at `positions`:
/// the stored sessions within a timeout of them are the only ones the rule
/// can change (it looks at consecutive pairs; anything further away stays
/// separated by more than the timeout).
fn recompute_window(tx: &Transaction, group: &mut [Job], outcomes: &mut [Vec<Appended>], visit: &Visit) -> rusqlite::Result<()> {
    let Visit { site, visitor, positions, timeout } = *visit;
    let event_at = |group: &'_ [Job], (j, i): (usize, usize)| -> StoredEvent {
        match &group[j] {
            Job::Append { events, .. } => events[i].clone(),
            _ => unreachable!("positions point at appends"),
        }
    };
    let new_events: Vec<StoredEvent> = positions.iter().map(|&p| event_at(group, p)).collect();
    let lo = new_events.iter().map(|e| e.ts).min().unwrap_or_default();
    let hi = new_events.iter().map(|e| e.ts).max().unwrap_or_default();

    let old_sessions = sessions_overlapping(tx, site, visitor, lo.saturating_sub(timeout), hi.saturating_add(timeout), usize::MAX)?;
    let mut stored: Vec<StoredEvent> = Vec::new();
    {
        let mut load = tx.prepare_cached(&format!("SELECT {EVENT_COLUMNS} FROM events WHERE site = ?1 AND session_id = ?2"))?;
        for id in &old_sessions {
            for e in load.query_map(params![site, id], event_from_row)? {
                stored.push(e?);
            }
        }
    }

    let mut window: Vec<(&StoredEvent, Origin)> = stored.iter().map(|e| (e, Origin::Stored)).collect();
    window.extend(new_events.iter().zip(positions).map(|(e, &(j, i))| (e, Origin::New(j, i))));
    window.sort_by(|a, b| sessions::order(a.0, b.0));
    let refs: Vec<&StoredEvent> = window.iter().map(|(e, _)| *e).collect();
    let computed = sessions::sessionize(&refs, timeout);

    let mut moved: Vec<(&str, String)> = Vec::new();
    let mut assigned: Vec<((usize, usize), Appended)> = Vec::new();
    for (session, range) in &computed {
        let started = window[range.clone()].iter().all(|(_, o)| matches!(o, Origin::New(..)));
        for (k, (e, origin)) in window[range.clone()].iter().enumerate() {
            match *origin {
                Origin::Stored if e.session_id != session.id => moved.push((&e.id, session.id.clone())),
                Origin::Stored => {}
                Origin::New(j, i) => assigned.push((
                    (j, i),
                    Appended::Stored { session_id: session.id.clone(), visitor_id: visitor.to_owned(), session_started: started && k == 0 },
                )),
            }
        }
    }
    {
        let mut update = tx.prepare_cached("UPDATE events SET session_id = ?3 WHERE site = ?1 AND id = ?2")?;
        for (id, session_id) in &moved {
            update.execute(params![site, id, session_id])?;
        }
        let mut delete = tx.prepare_cached("DELETE FROM sessions WHERE site = ?1 AND id = ?2")?;
        for id in &old_sessions {
            delete.execute(params![site, id])?;
        }
        for (session, _) in &computed {
            insert_session(tx, session)?;
        }
    }
    for ((j, i), appended) in assigned {
        if let (Job::Append { events, .. }, Appended::Stored { session_id, .. }) = (&mut group[j], &appended) {
            events[i].session_id = session_id.clone();
        }
        outcomes[j][i] = appended;
    }
    Ok(())
}

/// Writes what [`sessions::extend`] changes of a stored session, in place:
/// its row and the index entries keyed by its id stay where they are. A
/// session that is not there (which would be a bug in what the writer
/// remembers) is written whole rather than lost.
fn update_session(tx: &Connection, s: &Session) -> rusqlite::Result<()> {
    let updated = tx.prepare_cached(
        "UPDATE sessions SET client_session_id = ?3, user_id = ?4, end_ts = ?5, duration_ms = ?6, pageviews = ?7,
            events = ?8, entry_path = ?9, exit_path = ?10, bounce = ?11
         WHERE site = ?1 AND id = ?2",
    )?
    .execute(params![
        s.site, s.id, s.client_session_id, s.user_id, s.end_ts, s.duration_ms, s.pageviews, s.events, s.entry_path,
        s.exit_path, s.bounce
    ])?;
    if updated == 0 {
        tracing::warn!(session = %s.id, "an extended session was not stored; writing it whole");
        insert_session(tx, s)?;
    }
    Ok(())
}

fn insert_session(tx: &Connection, s: &Session) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT OR REPLACE INTO sessions (site, id, visitor_id, client_session_id, user_id, start_ts, end_ts, duration_ms,
            pageviews, events, entry_path, exit_path, bounce, referrer_host, source, medium, utm_source, utm_medium,
            utm_campaign, utm_term, utm_content, browser, os, device, country, region, city)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27)",
    )?
    .execute(params![
        s.site, s.id, s.visitor_id, s.client_session_id, s.user_id, s.start_ts, s.end_ts, s.duration_ms, s.pageviews,
        s.events, s.entry_path, s.exit_path, s.bounce, s.referrer_host, s.source, s.medium, s.utm_source, s.utm_medium,
        s.utm_campaign, s.utm_term, s.utm_content, s.browser, s.os, s.device, s.country, s.region, s.city
    ])?;
    Ok(())
}

/// The width of an `event_slots` slot: a quarter hour, in ms.
pub const SLOT_MS: i64 = 15 * 60_000;

/// Counts `event_slots` anew from `events`: for whoever writes events
/// other than the writer (seeding a store in tests and benchmarks).
pub fn recount_event_slots(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(&format!(
        "DELETE FROM event_slots;
         INSERT INTO event_slots (site, slot, events, pageviews)
             SELECT site, ts / {SLOT_MS}, count(*), sum(name = '$pageview') FROM events GROUP BY 1, 2;"
    ))
}

fn placeholders(n: usize) -> String {
    (1..=n).map(|i| format!("?{i}")).collect::<Vec<_>>().join(", ")
}

fn event_from_row(r: &Row) -> rusqlite::Result<StoredEvent> {
    Ok(StoredEvent {
        site: r.get(0)?,
        id: r.get(1)?,
        ts: r.get(2)?,
        received_ms: r.get(3)?,
        name: r.get(4)?,
        session_id: r.get(5)?,
        client_session_id: r.get(6)?,
        visitor_id: r.get(7)?,
        visitor_id_yesterday: None,
        user_id: r.get(8)?,
        url: r.get(9)?,
        host: r.get(10)?,
        path: r.get(11)?,
        title: r.get(12)?,
        referrer: r.get(13)?,
        referrer_host: r.get(14)?,
        source: r.get(15)?,
        medium: r.get(16)?,
        utm_source: r.get(17)?,
        utm_medium: r.get(18)?,
        utm_campaign: r.get(19)?,
        utm_term: r.get(20)?,
        utm_content: r.get(21)?,
        browser: r.get(22)?,
        browser_version: r.get(23)?,
        os: r.get(24)?,
        device: r.get(25)?,
        country: r.get(26)?,
        region: r.get(27)?,
        city: r.get(28)?,
        props: r.get(29)?,
        engaged_ms: r.get(30)?,
    })
}

pub(crate) fn session_from_row(r: &Row) -> rusqlite::Result<Session> {
    Ok(Session {
        site: r.get(0)?,
        id: r.get(1)?,
        visitor_id: r.get(2)?,
        client_session_id: r.get(3)?,
        user_id: r.get(4)?,
        start_ts: r.get(5)?,
        end_ts: r.get(6)?,
        duration_ms: r.get(7)?,
        pageviews: r.get(8)?,
        events: r.get(9)?,
        entry_path: r.get(10)?,
        exit_path: r.get(11)?,
        bounce: r.get(12)?,
        referrer_host: r.get(13)?,
        source: r.get(14)?,
        medium: r.get(15)?,
        utm_source: r.get(16)?,
        utm_medium: r.get(17)?,
        utm_campaign: r.get(18)?,
        utm_term: r.get(19)?,
        utm_content: r.get(20)?,
        browser: r.get(21)?,
        os: r.get(22)?,
        device: r.get(23)?,
        country: r.get(24)?,
        region: r.get(25)?,
        city: r.get(26)?,
    })
}

/// Every session, recomputed from `events` in one transaction; events whose
/// session changed are updated. The scan sorts every event by visitor (no
/// index keeps that order): the sort spills to temporary files rather
/// than memory.
fn rebuild(conn: &mut Connection, timeouts: &Timeouts) -> rusqlite::Result<Rebuilt> {
    conn.pragma_update(None, "temp_store", "FILE")?;
    let rebuilt = rebuild_sessions(conn, timeouts);
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    rebuilt
}

fn rebuild_sessions(conn: &mut Connection, timeouts: &Timeouts) -> rusqlite::Result<Rebuilt> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    tx.execute("DELETE FROM sessions", [])?;
    let mut report = Rebuilt { events: 0, sessions: 0 };
    let mut moved: Vec<(String, String, String)> = Vec::new();
    {
        let mut scan = tx.prepare(&format!("SELECT {EVENT_COLUMNS} FROM events ORDER BY site, visitor_id, ts, id"))?;
        let mut rows = scan.query([])?;
        let mut visitor_events: Vec<StoredEvent> = Vec::new();
        let mut flush = |events: &mut Vec<StoredEvent>, report: &mut Rebuilt| -> rusqlite::Result<()> {
            let Some(first) = events.first() else { return Ok(()) };
            let refs: Vec<&StoredEvent> = events.iter().collect();
            for (session, range) in sessions::sessionize(&refs, timeouts.of(&first.site)) {
                for e in &events[range] {
                    if e.session_id != session.id {
                        moved.push((e.site.clone(), e.id.clone(), session.id.clone()));
                    }
                }
                insert_session(&tx, &session)?;
                report.sessions += 1;
            }
            report.events += events.len();
            events.clear();
            Ok(())
        };
        while let Some(row) = rows.next()? {
            let e = event_from_row(row)?;
            if visitor_events.first().is_some_and(|f| f.site != e.site || f.visitor_id != e.visitor_id) {
                flush(&mut visitor_events, &mut report)?;
            }
            visitor_events.push(e);
        }
        flush(&mut visitor_events, &mut report)?;
    }
    {
        let mut update = tx.prepare_cached("UPDATE events SET session_id = ?3 WHERE site = ?1 AND id = ?2")?;
        for (site, id, session_id) in &moved {
            update.execute(params![site, id, session_id])?;
        }
    }
    tx.commit()?;
    Ok(report)
}

fn rotate_salts(conn: &mut Connection, day: i64) -> rusqlite::Result<DaySalts> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    tx.execute("DELETE FROM salts WHERE day < ?1", [day - 1])?;
    let mut fresh = [0u8; 32];
    getrandom::fill(&mut fresh).expect("the operating system's random source");
    tx.execute("INSERT OR IGNORE INTO salts (day, secret) VALUES (?1, ?2)", params![day, fresh.as_slice()])?;
    let secret = |d: i64| -> rusqlite::Result<Option<[u8; 32]>> {
        let blob: Option<Vec<u8>> = tx.query_row("SELECT secret FROM salts WHERE day = ?1", [d], |r| r.get(0)).optional()?;
        Ok(blob.and_then(|b| b.try_into().ok()))
    };
    let today = secret(day)?.expect("inserted above");
    let yesterday = secret(day - 1)?;
    tx.commit()?;
    Ok(DaySalts { day, today, yesterday })
}

#[async_trait]
impl Store for SqliteStore {
    async fn append(&self, events: Vec<StoredEvent>) -> Result<Vec<Appended>, StoreError> {
        self.submit(|reply| Job::Append { events, reply }).await
    }

    async fn count_bots(&self, hits: Vec<BotHit>) -> Result<(), StoreError> {
        self.submit(|reply| Job::CountBots { hits, reply }).await
    }

    async fn salts(&self, day: i64) -> Result<DaySalts, StoreError> {
        self.submit(|reply| Job::Salts { day, reply }).await
    }

    async fn rebuild_sessions(&self) -> Result<Rebuilt, StoreError> {
        self.submit(|reply| Job::Rebuild { reply }).await
    }

    async fn events(&self, site: &str) -> Result<Vec<StoredEvent>, StoreError> {
        let site = site.to_owned();
        self.read(move |conn| {
            conn.prepare(&format!("SELECT {EVENT_COLUMNS} FROM events WHERE site = ?1 ORDER BY ts, id"))?
                .query_map([site], event_from_row)?
                .collect()
        })
        .await
    }

    async fn sessions(&self, site: &str) -> Result<Vec<Session>, StoreError> {
        let site = site.to_owned();
        self.read(move |conn| {
            conn.prepare(&format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE site = ?1 ORDER BY start_ts, id"))?
            .query_map([site], session_from_row)?
            .collect()
        })
        .await
    }

    async fn bot_hits(&self, site: &str) -> Result<Vec<BotHit>, StoreError> {
        let site = site.to_owned();
        self.read(move |conn| {
            conn.prepare("SELECT site, day, bot, hits FROM bot_hits WHERE site = ?1 ORDER BY day, bot")?
                .query_map([site], |r| Ok(BotHit { site: r.get(0)?, day: r.get(1)?, bot: r.get(2)?, hits: r.get(3)? }))?
                .collect()
        })
        .await
    }

    fn queue_depth(&self) -> usize {
        self.sender.lock().expect("sender lock").as_ref().map_or(0, |s| s.max_capacity() - s.capacity())
    }

    async fn close(&self) {
        // Dropping the sender ends the writer's loop once the queue is empty.
        self.sender.lock().expect("sender lock").take();
        let writer = self.writer.lock().expect("writer lock").take();
        if let Some(writer) = writer {
            let _ = tokio::task::spawn_blocking(move || writer.join()).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::store::conformance::{self, T0, pageview};

    #[tokio::test]
    async fn the_sqlite_store_passes_the_conformance_suite() {
        conformance::run(|dir| SqliteStore::open(dir).unwrap()).await;
    }

    const MIN: i64 = 60_000;

    #[tokio::test]
    async fn a_version_1_database_is_migrated_with_its_rows() {
        let dir = tempfile::tempdir().unwrap();
        {
            let conn = open_connection(&dir.path().join("waymark.db")).unwrap();
            conn.execute_batch(MIGRATIONS[0]).unwrap();
            conn.pragma_update(None, "user_version", 1).unwrap();
            conn.execute(
                "INSERT INTO events (site, id, ts, received_ms, name, session_id, visitor_id, url) VALUES ('site', 'e1', 5, 5, '$pageview', 's1', 'v1', 'https://a.example/')",
                [],
            )
            .unwrap();
        }
        let store = SqliteStore::open(dir.path()).unwrap();
        let events = store.events("site").await.unwrap();
        assert_eq!((events.len(), events[0].id.as_str(), events[0].session_id.as_str()), (1, "e1", "s1"));
        store.close().await;
        let conn = Connection::open(dir.path().join("waymark.db")).unwrap();
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
        assert_eq!(version, MIGRATIONS.len() as i64);
    }

    #[tokio::test]
    async fn the_wal_stays_short_under_steady_writes_and_loses_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let restart_frames = 64;
        let options = StoreOptions { wal_restart_frames: restart_frames, ..StoreOptions::default() };
        let store = std::sync::Arc::new(SqliteStore::open_with(dir.path(), options).unwrap());
        // Many requests in flight, as under load: the writer never waits
        // for one, so only it can start the WAL over.
        let (senders, appends, batch) = (16u64, 40u64, 10u64);
        let tasks: Vec<_> = (0..senders)
            .map(|sender| {
                let store = store.clone();
                tokio::spawn(async move {
                    for append in 0..appends {
                        let events = (0..batch)
                            .map(|n| {
                                let i = (sender * appends + append) * batch + n;
                                pageview(i, &format!("visitor-{sender}-{}", append / 4), T0 + i as i64)
                            })
                            .collect();
                        store.append(events).await.unwrap();
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        let wal = std::fs::metadata(dir.path().join("waymark.db-wal")).unwrap().len();
        let pages: i64 = store.reader().unwrap().query_row("PRAGMA page_count", [], |r| r.get(0)).unwrap();
        // A frame is a 4 KiB page and a 24-byte header. Each group commit
        // adds frames before the writer can start over, and a try may meet
        // the checkpoint thread copying: four times the limit is plenty.
        let frame = 4096 + 24;
        assert!(
            wal <= u64::from(restart_frames) * 4 * frame,
            "the WAL is {wal} bytes ({} frames; the database has {pages} pages)",
            wal / frame
        );
        let stored = senders * appends * batch;
        assert_eq!(store.events("site").await.unwrap().len() as u64, stored);
        store.close().await;
        let reopened = SqliteStore::open(dir.path()).unwrap();
        assert_eq!(reopened.events("site").await.unwrap().len() as u64, stored);
        reopened.close().await;
    }

    /// Events of two visitors over two hours, some with client session ids,
    /// sent in any order and any chunking, some chunks sent again (alone or
    /// with the next chunk: a retry, a replayed queue).
    fn streams() -> impl Strategy<Value = Vec<Vec<StoredEvent>>> {
        let event = (0..2usize, 0..120i64, 0..4u8, prop::option::of(0..2u8));
        let resent = prop::collection::vec((any::<prop::sample::Index>(), any::<bool>()), 0..3);
        (prop::collection::vec(event, 1..24), resent, prop::collection::vec(1..5usize, 1..24)).prop_map(
            |(specs, resent, chunk_sizes)| {
                let events: Vec<StoredEvent> = specs
                    .into_iter()
                    .enumerate()
                    .map(|(n, (visitor, minute, second, client_session))| {
                        let mut e = pageview(n as u64, ["anna", "ben"][visitor], T0 + minute * MIN + i64::from(second) * 15_000);
                        e.client_session_id = client_session.map(|c| format!("{visitor}-{c}"));
                        e
                    })
                    .collect();
                let mut chunks = Vec::new();
                let mut rest = events.as_slice();
                for size in chunk_sizes.into_iter().cycle() {
                    if rest.is_empty() {
                        break;
                    }
                    let (chunk, tail) = rest.split_at(size.min(rest.len()));
                    chunks.push(chunk.to_vec());
                    rest = tail;
                }
                for (which, with_next) in resent {
                    let k = which.index(chunks.len());
                    let mut again = chunks[k].clone();
                    if with_next && k + 1 < chunks.len() {
                        again.extend(chunks[k + 1].iter().cloned());
                    }
                    chunks.push(again);
                }
                chunks
            },
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

        #[test]
        fn live_sessions_equal_a_rebuild_for_any_arrival_order(chunks in streams().prop_shuffle()) {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async {
                let dir = tempfile::tempdir().unwrap();
                let store = SqliteStore::open(dir.path()).unwrap();
                conformance::live_equals_rebuild(&store, chunks, limits::DEFAULT_SESSION_TIMEOUT_MS).await;
                store.close().await;
            });
        }
    }
}
