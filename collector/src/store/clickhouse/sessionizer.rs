//! The sessionizer: sessions for the events collectors append to
//! `incoming` (see there), by the same plan the one-collector writer
//! follows, so that any number of collectors give the sessions one would.
//!
//! Policy: it takes the rows in the order the server took them and plans
//! each page as one group of the writer ([`Writer::write`]): ids looked up
//! (a row already made an event is a duplicate, which makes every read
//! idempotent), each touched visitor's sessions continued, absorbed or
//! recomputed over the window its events can change, never its whole
//! history; events and session versions inserted before the cursor moves.
//! After a restart or a crash it resumes from the cursor it saved in
//! `sessionizer_progress` and first reads back the [`incoming::GRACE_MS`]
//! before it, so a page written but not saved is planned again, as
//! duplicates. `--shard i/n` splits the visitors between sessionizers by
//! a hash of their key, each with its own cursor; two sessionizers must
//! not run the same shard.
//!
//! ClickHouse has no transaction over the events and sessions inserts: a
//! page that failed between them is read again and is all duplicates then,
//! so before its next round the sessionizer rebuilds the sessions of that
//! page's visitors from their stored events; and when it starts, those of
//! the visitors of every row around the cursor that is an event already
//! (a sessionizer killed between the two inserts, see [`incoming::written`]).
//!
//! What it remembers of its writes (each visitor's latest event and
//! session) it forgets when the audit log grows (an erasure or a retention
//! run removed rows) and after a failed page.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::client::{Client, Connection, lit};
use super::db::Db;
use super::incoming::{self, Arrived, Cursor, Shard};
use super::rows::Versions;
use super::rebuild;
use super::schema;
use super::writer::{Mode, Writer};
use crate::clock::{Clock, SystemClock, day_of};
use crate::event::StoredEvent;
use crate::ingest::group::SiteRules;
use crate::sessions::Rule;
use crate::store::StoreError;
use crate::store::tails::Tails;

/// The wait after a failed round (the database down, say).
const RETRY_AFTER: Duration = Duration::from_secs(1);

#[derive(Clone)]
pub struct SessionizerOptions {
    pub shard: Shard,
    /// The session rule, per site key; others get the default.
    pub session_rules: HashMap<String, Rule>,
    /// How old a second of `incoming` must be before it is read: longer
    /// than an insert takes, so that rows do not commit behind the cursor
    /// (those that do wait for the catch-up read).
    pub lag_ms: i64,
    /// The wait between rounds that found nothing.
    pub poll: Duration,
    /// How often the rows behind the cursor are read back for those that
    /// committed behind it.
    pub catch_up_every: Duration,
}

impl Default for SessionizerOptions {
    fn default() -> Self {
        SessionizerOptions {
            shard: Shard::ALL,
            session_rules: HashMap::new(),
            lag_ms: 2_000,
            poll: Duration::from_millis(250),
            catch_up_every: Duration::from_secs(10),
        }
    }
}

pub struct Sessionizer {
    writer: Writer,
    shard: Shard,
    lag_ms: i64,
    poll: Duration,
    catch_up_every: Duration,
    cursor: Cursor,
    caught_up: Option<Instant>,
    /// Audit records seen: more means rows were removed.
    audits: u64,
    /// The visitors of a page whose write failed: its events may be
    /// stored without their sessions, which the page read again would not
    /// make (its events are duplicates then), so they are rebuilt.
    repair: Vec<(String, String)>,
    /// The day it last dropped old days of `incoming`.
    pruned_day: i64,
}

#[derive(serde::Deserialize)]
struct Progress {
    arrived_ms: i64,
}

#[derive(serde::Serialize)]
struct ProgressRow<'a> {
    shard: &'a str,
    arrived_ms: i64,
    version: u64,
}

impl Sessionizer {
    /// Connects, migrates the schema and reads where this shard stopped.
    /// Blocks: call it off the async runtime's threads.
    pub fn open(connection: Connection, options: SessionizerOptions) -> Result<Sessionizer, StoreError> {
        let db = Db::new(Client::new(connection)).map_err(|e| StoreError::Backend(format!("the sessionizer's runtime: {e}")))?;
        db.block_on(schema::migrate(db.client())).map_err(|e| match e {
            schema::SchemaError::Client(c) => StoreError::from(c),
            newer => StoreError::Backend(newer.to_string()),
        })?;
        let saved: Vec<Progress> = db.rows(&format!(
            "SELECT arrived_ms FROM sessionizer_progress FINAL WHERE shard = {}",
            lit(&options.shard.key())
        ))?;
        let cursor = Cursor { arrived_ms: saved.first().map_or(0, |p| p.arrived_ms), ..Cursor::default() };
        // A sessionizer killed mid-page left events without their sessions.
        let repair = incoming::written(&db, &cursor, options.shard)?;
        let writer = Writer {
            db,
            mode: Mode::Sessionize,
            clock: incoming::ServerClock::default(),
            rules: SiteRules(options.session_rules),
            commit_seconds: None,
            tails: Tails::default(),
            versions: Versions::default(),
        };
        Ok(Sessionizer {
            writer,
            shard: options.shard,
            lag_ms: options.lag_ms,
            poll: options.poll,
            catch_up_every: options.catch_up_every,
            cursor,
            caught_up: None,
            audits: 0,
            repair,
            pruned_day: i64::MIN,
        })
    }

    /// Where it is in `incoming`.
    pub fn cursor(&self) -> &Cursor {
        &self.cursor
    }

    /// One round: every page after the cursor that is old enough, and the
    /// rows behind it when due (first, at the first round). Returns the
    /// rows planned.
    pub fn step(&mut self) -> Result<usize, StoreError> {
        let result = self.round();
        if result.is_err() {
            // A page may be half written: what is remembered may be behind it.
            self.writer.tails.clear();
        }
        result
    }

    fn round(&mut self) -> Result<usize, StoreError> {
        let audits = self.writer.db.count("SELECT count() AS n FROM audit_log")?;
        if audits != self.audits {
            self.writer.tails.clear();
            self.audits = audits;
        }
        let today = day_of(SystemClock.now_ms());
        if today != self.pruned_day {
            // Only what every shard's sessionizer has read past: one that
            // was down for days still finds its rows.
            if let Some(read_past) = self.every_shard_read_past()? {
                incoming::prune(&self.writer.db, read_past.min(today))?;
                self.pruned_day = today;
            }
        }
        if !self.repair.is_empty() {
            let writer = &mut self.writer;
            rebuild::rebuild_visitors(&writer.db, &writer.rules, &mut writer.versions, &self.repair)?;
            self.repair.clear();
        }
        let mut planned = 0;
        if self.caught_up.is_none() {
            // Resuming: first the rows that committed behind where it stopped.
            planned += self.catch_up()?;
        }
        loop {
            let page = incoming::after(&self.writer.db, &self.cursor, self.shard, self.lag_ms)?;
            let (len, last) = (page.len(), page.last().map(|r| Cursor { arrived_ms: r.arrived_ms, site: r.site.clone(), id: r.id.clone() }));
            planned += self.plan(page)?;
            if let Some(last) = last {
                self.save(last)?;
            }
            if len < incoming::PAGE {
                break;
            }
        }
        if self.caught_up.is_none_or(|at| at.elapsed() >= self.catch_up_every) {
            planned += self.catch_up()?;
        }
        Ok(planned)
    }

    /// Plans the rows of the [`incoming::GRACE_MS`] up to the cursor that
    /// did not become events.
    fn catch_up(&mut self) -> Result<usize, StoreError> {
        let missed = incoming::missed(&self.writer.db, &self.cursor, self.shard)?;
        let planned = self.plan(missed)?;
        self.caught_up = Some(Instant::now());
        Ok(planned)
    }

    /// The earliest day a sessionizer of this many shards is at, once all of
    /// them have saved where they are.
    fn every_shard_read_past(&self) -> Result<Option<i64>, StoreError> {
        #[derive(serde::Deserialize)]
        struct Saved {
            shard: String,
            arrived_ms: i64,
        }
        let saved: Vec<Saved> = self.writer.db.rows("SELECT shard, arrived_ms FROM sessionizer_progress FINAL")?;
        let count = self.shard.count;
        let ours: Vec<&Saved> = saved.iter().filter(|s| Shard::parse(&s.shard).is_ok_and(|s| s.count == count)).collect();
        let all = (0..count).all(|i| ours.iter().any(|s| s.shard == Shard { index: i, count }.key()));
        Ok(all.then(|| ours.iter().map(|s| day_of(s.arrived_ms)).min()).flatten())
    }

    /// Plans and writes `rows` as one group.
    fn plan(&mut self, rows: Vec<Arrived>) -> Result<usize, StoreError> {
        if rows.is_empty() {
            return Ok(0);
        }
        let events: Vec<StoredEvent> = rows.into_iter().map(Arrived::into_event).collect::<Result<_, _>>()?;
        let len = events.len();
        let mut batches = vec![events];
        let plan = match self.writer.write(&mut batches, &[]) {
            Ok(plan) => plan,
            Err(e) => {
                let keys = batches[0].iter().flat_map(|e| std::iter::once(&e.visitor_id).chain(&e.visitor_id_yesterday).map(|v| (e.site.clone(), v.clone())));
                self.repair.extend(keys);
                self.repair.sort();
                self.repair.dedup();
                return Err(e);
            }
        };
        self.writer.remember(plan, &batches);
        Ok(len)
    }

    fn save(&mut self, cursor: Cursor) -> Result<(), StoreError> {
        let key = self.shard.key();
        let row = ProgressRow { shard: &key, arrived_ms: cursor.arrived_ms, version: self.writer.versions.next() };
        self.writer.db.insert("sessionizer_progress", &[row])?;
        self.cursor = cursor;
        Ok(())
    }

    /// Rounds until `stop` is set: after one that found nothing it waits
    /// `poll`, after a failure (logged) a second.
    pub fn run(mut self, stop: &AtomicBool) {
        tracing::info!(shard = %self.shard.key(), from = self.cursor.arrived_ms, "the sessionizer runs");
        while !stop.load(Ordering::Relaxed) {
            match self.step() {
                Ok(0) => std::thread::sleep(self.poll),
                Ok(_) => {}
                Err(e) => {
                    tracing::error!(error = %e, "a sessionizer round failed; it is tried again");
                    std::thread::sleep(RETRY_AFTER);
                }
            }
        }
    }
}

/// A sessionizer on a thread of its own, stopped when dropped.
pub struct Running {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Running {
    pub fn spawn(sessionizer: Sessionizer) -> std::io::Result<Running> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new().name("waymark-sessionizer".into()).spawn(move || sessionizer.run(&flag))?;
        Ok(Running { stop, thread: Some(thread) })
    }

    /// Stops it after its round and waits for that.
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop();
    }
}
