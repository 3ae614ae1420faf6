//! The embedded default store: SQLite in WAL mode, one file.
//!
//! Mechanism: one writer thread owns the write connection ([`writer`]):
//! appends from many requests queue on a bounded channel (full →
//! [`StoreError::Busy`], which the API turns into 503 with `Retry-After`),
//! and each group of them is planned by the pipeline and committed in one
//! transaction, answered once the WAL is on disk ([`wal_sync`]). Reads use
//! their own connections and run in parallel with the writer. Checkpoints
//! (copying the WAL into the database file, with its own fsyncs) run on a
//! thread of their own ([`checkpoints`]) so that commits never wait for them.
//!
//! The files: [`connection`] (settings, migrations), [`writer`] (the
//! group commit), [`state`] (what the pipeline reads while it plans),
//! [`rows`] (columns and statements), [`tails`] (the writer's memory of
//! recent visitors), [`salts`], [`rebuild`], [`checkpoints`], [`wal_sync`],
//! [`lifecycle`] (retention chunks, erasure, the audit log) and
//! [`identity`] (who a person is: their visitor ids); [`source`] is what
//! `waymark migrate` reads to move the store to another backend.
//!
//! The writer's connection runs with `secure_delete`: a deleted row's bytes
//! are overwritten with zeros in its page, so an erased person leaves no
//! trace in free space (see [`lifecycle`]).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use async_trait::async_trait;
use rusqlite::Connection;

mod accounts;
mod checkpoints;
mod connection;
mod definitions;
mod identity;
mod lifecycle;
mod rebuild;
mod rows;
mod salts;
pub mod source;
mod state;
mod reads;
mod wal_sync;
mod writer;

pub use accounts::SqliteAccounts;
pub use definitions::SqliteDefinitions;
use checkpoints::{ReaderGate, WalLength};
pub use connection::open_connection;
pub use reads::{ReadOptions, SqliteReads};
pub use source::SqliteSource;
use connection::migrate;
pub use connection::Synchronous;
use rows::{EVENT_COLUMNS, event_from_row};
pub use rows::{SESSION_COLUMNS, SLOT_MS, recount_event_slots, session_from_row};
use wal_sync::WalSync;
use writer::Writer;

use crate::ingest::group::SiteRules;
use crate::store::queue::WriteQueue;
use crate::store::tails::Tails;

use crate::event::StoredEvent;
use crate::ingest::dedupe::DedupePolicy;
use crate::config::Durability;
use crate::sessions::{Rule, Session};
use crate::store::lifecycle::{AuditRecord, DayCount, Deleted, Erased, Selector};
use crate::store::{Appended, BotHit, DaySalts, Rebuilt, Store, StoreError};

/// The writer's page cache. Small on purpose: SQLite walks every cached
/// page at the end of each write transaction, and the writer's pages are
/// the recent ends of its indexes (ids and times grow), which stay in the
/// OS cache anyway. 4 MiB writes 12% faster here than 64 MiB.
const WRITER_CACHE_KIB: i64 = 4 * 1024;

/// How the store is run; [`StoreOptions::default`] suits tests.
#[derive(Clone)]
pub struct StoreOptions {
    /// Requests that may wait for the writer before appends are refused.
    pub write_queue: usize,
    /// The session rule, per site key; others get the default.
    pub session_rules: HashMap<String, Rule>,
    /// Observes each commit's duration, in seconds.
    pub commit_seconds: Option<prometheus::Histogram>,
    /// The WAL's file at most, in bytes (`[store] wal_max_mib`): the
    /// writer starts the WAL over at half of it (see [`checkpoints`]).
    pub wal_max_bytes: u64,
    /// What each group commit waits for (`[store] durability`).
    pub durability: Durability,
    /// The read pool (`[store] read_connections`, `read_cache_mib`).
    pub reads: ReadOptions,
    /// How much of the file the writer maps (`[store] mmap_mib`).
    pub mmap_bytes: u64,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            write_queue: 4096,
            session_rules: HashMap::new(),
            commit_seconds: None,
            wal_max_bytes: 64 << 20,
            durability: Durability::Normal,
            reads: ReadOptions::default(),
            mmap_bytes: 256 << 20,
        }
    }
}

pub struct SqliteStore {
    path: PathBuf,
    /// The writer's `PRAGMA synchronous` as SQLite read it back at open.
    synchronous: Synchronous,
    queue: WriteQueue,
    writer: Mutex<Option<JoinHandle<()>>>,
    reads: ReadOptions,
    /// Shared by the writer, which closes it, and the read pool, which waits at it.
    readers: Arc<ReaderGate>,
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
        let readers = Arc::new(ReaderGate::default());
        let wal_length = WalLength::watch(&mut conn, &path, options.wal_max_bytes, readers.clone())?;
        // By default the writer commits without flushing and `WalSync`
        // flushes, then answers; with `durability = "full"` SQLite flushes
        // inside the commit too (`WalSync` then finds the WAL clean).
        let synchronous = Synchronous::set(&conn, options.durability)?;
        conn.pragma_update(None, "cache_size", -WRITER_CACHE_KIB)?;
        // The writer reads its indexes' pages from the map rather than
        // copying them into its cache.
        conn.pragma_update(None, "mmap_size", i64::try_from(options.mmap_bytes).unwrap_or(i64::MAX))?;
        // Erased and expired rows are zeroed where they lay, not left in
        // free space: see `lifecycle`.
        conn.pragma_update(None, "secure_delete", "ON")?;
        let wal_sync = WalSync::start(data_dir.join("waymark.db-wal"));
        let (queue, receiver) = WriteQueue::new(options.write_queue);
        let writer = std::thread::Builder::new()
            .name("waymark-writer".into())
            .spawn(move || {
                Writer {
                    conn,
                    rules: SiteRules(options.session_rules),
                    commit_seconds: options.commit_seconds,
                    tails: Tails::default(),
                    wal_sync,
                    wal_length,
                    dedupe: DedupePolicy::default(),
                }
                .run(receiver)
            })
            .expect("spawning the writer thread");
        Ok(SqliteStore { path, synchronous, queue, writer: Mutex::new(Some(writer)), reads: options.reads, readers })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How the writer's commits reach the disk, as SQLite read it back.
    pub fn synchronous(&self) -> Synchronous {
        self.synchronous
    }

    /// The read seam over this store's file.
    pub fn reads(&self) -> SqliteReads {
        SqliteReads::open_with(&self.path, self.reads, self.readers.clone())
    }

    /// The dashboard's accounts, on this database through a connection of
    /// their own.
    pub fn accounts(&self) -> Result<SqliteAccounts, StoreError> {
        SqliteAccounts::open_migrated(&self.path)
    }

    /// A new read-only connection, for queries.
    pub fn reader(&self) -> Result<Connection, StoreError> {
        let conn = Connection::open_with_flags(&self.path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        Ok(conn)
    }

    async fn read<T: Send + 'static>(
        &self,
        query: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, StoreError> {
        let conn = self.reader()?;
        tokio::task::spawn_blocking(move || query(&conn).map_err(StoreError::from)).await.map_err(|_| StoreError::Closed)?
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn append(&self, events: Vec<StoredEvent>) -> Result<Vec<Appended>, StoreError> {
        self.queue.append(events).await
    }

    async fn count_bots(&self, hits: Vec<BotHit>) -> Result<(), StoreError> {
        self.queue.count_bots(hits).await
    }

    async fn salts(&self, today: i64, day: i64) -> Result<DaySalts, StoreError> {
        self.queue.salts(today, day).await
    }

    async fn rebuild_sessions(&self) -> Result<Rebuilt, StoreError> {
        self.queue.rebuild().await
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

    async fn delete_before(&self, site: &str, before_ms: i64, max_rows: usize) -> Result<Deleted, StoreError> {
        self.queue.delete_before(site, before_ms, max_rows).await
    }

    async fn count_before(&self, site: &str, before_ms: i64) -> Result<Vec<DayCount>, StoreError> {
        let site = site.to_owned();
        self.read(move |conn| lifecycle::count_before(conn, &site, before_ms)).await
    }

    async fn erase(&self, site: &str, selector: &Selector, at_ms: i64, requested_by: &str) -> Result<Erased, StoreError> {
        // A whole site goes in bounded chunks first, so ingest of the other
        // sites never waits long; the last transaction takes what is left
        // and writes the audit record.
        let mut earlier = Erased::default();
        if *selector == Selector::Site {
            let key = site.to_owned();
            earlier.visitors = self
                .read(move |conn| conn.query_row("SELECT count(DISTINCT visitor_id) FROM sessions WHERE site = ?1", [key], |r| r.get::<_, i64>(0)))
                .await? as u64;
            loop {
                let chunk = self.delete_before(site, i64::MAX, lifecycle::SITE_CHUNK_ROWS).await?;
                if chunk.rows() == 0 {
                    break;
                }
                earlier.events += chunk.events;
                earlier.sessions += chunk.sessions;
            }
        }
        self.queue.erase(site, selector, at_ms, requested_by, earlier).await
    }

    async fn record_audit(&self, record: AuditRecord) -> Result<(), StoreError> {
        self.queue.record_audit(record).await
    }

    async fn audit(&self, site: Option<&str>) -> Result<Vec<AuditRecord>, StoreError> {
        let site = site.map(str::to_owned);
        self.read(move |conn| lifecycle::audit(conn, site.as_deref())).await
    }

    fn queue_depth(&self) -> usize {
        self.queue.depth()
    }

    async fn close(&self) {
        // Dropping the sender ends the writer's loop once the queue is empty.
        self.queue.close();
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
    use super::connection::MIGRATIONS;
    use crate::store::conformance::{self, T0, pageview};

    conformance::write_conformance_tests!(|dir: &Path, rules: conformance::SiteRules| {
        SqliteStore::open_with(dir, StoreOptions { session_rules: rules, ..StoreOptions::default() }).unwrap()
    });

    #[test]
    fn durability_full_reaches_sqlite_and_the_default_is_normal() {
        let dir = tempfile::tempdir().unwrap();
        let default = SqliteStore::open(&dir.path().join("default")).unwrap();
        assert_eq!(default.synchronous(), Synchronous::Normal);
        let options = StoreOptions { durability: Durability::Full, ..StoreOptions::default() };
        let full = SqliteStore::open_with(&dir.path().join("full"), options).unwrap();
        assert_eq!(full.synchronous(), Synchronous::Full);
    }

    #[tokio::test]
    async fn durability_full_commits_and_answers_as_the_default_does() {
        let dir = tempfile::tempdir().unwrap();
        let options = StoreOptions { durability: Durability::Full, ..StoreOptions::default() };
        let store = SqliteStore::open_with(dir.path(), options).unwrap();
        let appended = store.append(vec![pageview(1, "v1", T0)]).await.unwrap();
        assert_eq!(appended.len(), 1);
        store.close().await;
        let stored: i64 = store.reader().unwrap().query_row("SELECT count(*) FROM events", [], |r| r.get(0)).unwrap();
        assert_eq!(stored, 1);
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
    async fn identified_events_stored_before_the_link_log_existed_are_linked_by_its_migration() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut conn = open_connection(&dir.path().join("waymark.db")).unwrap();
            let before_links = MIGRATIONS.iter().position(|m| m.contains("CREATE TABLE identity_links")).unwrap();
            for (version, sql) in MIGRATIONS[..before_links].iter().enumerate() {
                let tx = conn.transaction().unwrap();
                tx.execute_batch(sql).unwrap();
                tx.pragma_update(None, "user_version", version as i64 + 1).unwrap();
                tx.commit().unwrap();
            }
            for (id, ts, user) in [("e1", 9, Some("ann")), ("e2", 5, Some("ann")), ("e3", 3, None), ("e4", 7, Some("bo"))] {
                conn.execute(
                    "INSERT INTO events (site, id, ts, received_ms, name, session_id, visitor_id, user_id, url) VALUES ('site', ?1, ?2, ?2, '$pageview', 's1', 'v1', ?3, 'https://a.example/')",
                    rusqlite::params![id, ts, user],
                )
                .unwrap();
            }
        }
        let store = SqliteStore::open(dir.path()).unwrap();
        store.close().await;
        let conn = Connection::open(dir.path().join("waymark.db")).unwrap();
        let links: Vec<(String, String, i64, String)> = conn
            .prepare("SELECT visitor_id, user_id, ts, event_id FROM identity_links ORDER BY user_id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(links, [("v1".into(), "ann".into(), 5, "e2".into()), ("v1".into(), "bo".into(), 7, "e4".into())]);
    }

    #[tokio::test]
    async fn the_wal_stays_short_under_steady_writes_and_loses_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let restart_frames = 64;
        let options = StoreOptions { wal_max_bytes: restart_frames * 2 * 4096, ..StoreOptions::default() };
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
            wal <= restart_frames * 4 * frame,
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

    /// The `-wal` file's length in `dir`.
    pub(super) fn wal_bytes(dir: &Path) -> u64 {
        std::fs::metadata(dir.join("waymark.db-wal")).map_or(0, |m| m.len())
    }

    #[tokio::test]
    async fn the_wal_is_cut_back_under_its_limit_once_a_reader_that_held_it_ends() {
        let dir = tempfile::tempdir().unwrap();
        let max = 64 * 4096;
        let store = SqliteStore::open_with(dir.path(), StoreOptions { wal_max_bytes: max, ..StoreOptions::default() }).unwrap();
        let mut events = (0u64..).map(|i| pageview(i, &format!("visitor-{}", i / 20), T0 + i as i64));
        let mut append = async || store.append(events.by_ref().take(10).collect()).await.unwrap();
        // A dashboard query's read transaction, held: no checkpoint may
        // copy past its snapshot, so the WAL cannot start over.
        let reader = store.reader().unwrap();
        reader.execute_batch("BEGIN").unwrap();
        let _: i64 = reader.query_row("SELECT count(*) FROM events", [], |r| r.get(0)).unwrap();
        for _ in 0..2000 {
            append().await;
            if wal_bytes(dir.path()) > 2 * max {
                break;
            }
        }
        assert!(wal_bytes(dir.path()) > 2 * max, "the WAL grew past its limit while the reader held it: {} bytes", wal_bytes(dir.path()));
        reader.execute_batch("COMMIT").unwrap();
        // The writer copies the WAL after its next commits and starts it over.
        for _ in 0..100 {
            append().await;
            if wal_bytes(dir.path()) <= max {
                break;
            }
        }
        assert!(wal_bytes(dir.path()) <= max, "the WAL is {} bytes after the reader ended, over its {max}", wal_bytes(dir.path()));
        let stored: i64 = store.reader().unwrap().query_row("SELECT count(*) FROM events", [], |r| r.get(0)).unwrap();
        store.close().await;
        let reopened = SqliteStore::open(dir.path()).unwrap();
        assert_eq!(reopened.events("site").await.unwrap().len() as i64, stored);
        reopened.close().await;
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

        #[test]
        fn live_sessions_equal_a_rebuild_for_any_arrival_order(chunks in conformance::streams().prop_shuffle()) {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async {
                let dir = tempfile::tempdir().unwrap();
                let store = SqliteStore::open(dir.path()).unwrap();
                conformance::live_equals_rebuild(&store, chunks, Rule::default()).await;
                store.close().await;
            });
        }

        #[test]
        fn live_sessions_equal_a_rebuild_with_ties_long_sessions_and_late_events_inside_them(chunks in conformance::busy_streams().prop_shuffle()) {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async {
                let dir = tempfile::tempdir().unwrap();
                let rule = Rule { timeout_ms: 30 * MIN, max_ms: 120 * MIN };
                let options = StoreOptions { session_rules: HashMap::from([("site".to_owned(), rule)]), ..StoreOptions::default() };
                let store = SqliteStore::open_with(dir.path(), options).unwrap();
                conformance::live_equals_rebuild(&store, chunks, rule).await;
                store.close().await;
            });
        }

        #[test]
        fn live_sessions_equal_a_rebuild_when_sessions_reach_their_maximum_length(chunks in conformance::streams().prop_shuffle()) {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async {
                let dir = tempfile::tempdir().unwrap();
                let rule = Rule { timeout_ms: 30 * MIN, max_ms: 40 * MIN };
                let options = StoreOptions { session_rules: HashMap::from([("site".to_owned(), rule)]), ..StoreOptions::default() };
                let store = SqliteStore::open_with(dir.path(), options).unwrap();
                conformance::live_equals_rebuild(&store, chunks, rule).await;
                store.close().await;
            });
        }
    }
}
