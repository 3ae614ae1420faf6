//! The store for more than one machine: ClickHouse, over HTTP.
//!
//! Mechanism: one writer thread ([`writer`]) takes groups of appends from
//! the bounded queue of [`crate::store::queue`], plans each group with the
//! pipeline (reading what the plan needs through [`state`]) and writes it
//! in one insert per table, answering once ClickHouse has acknowledged the
//! inserts. Reads ([`reads`], and the write seam's own listings) go
//! straight to the server and run in parallel with the writer.
//!
//! How each event counts once, before and after merges, and what it
//! costs: see [`schema`]. The files: [`client`] (HTTP, literals), [`db`]
//! (the writer's blocking side, waiting for deletions), [`schema`]
//! (tables, migrations, the start check), [`rows`] (columns and versions),
//! [`state`], [`writer`], [`salts`], [`rebuild`], [`lifecycle`],
//! [`identity`] (who a person is), [`accounts`] and [`reads`].
//!
//! Who makes sessions (`[store] sessionizer`): by default the writer, as
//! it stores (one collector per database, as on SQLite); or collectors
//! only append (to [`incoming`]) and the [`sessionizer`], in one of them
//! or in `waymark sessionize` processes, plans the sessions with the same
//! pipeline plan. On a cluster the tables are `Distributed` over each
//! shard's local tables ([`schema`]); [`import`] is what
//! `waymark migrate` writes with.

pub mod accounts;
pub mod client;
mod db;
pub mod definitions;
mod identity;
pub mod import;
pub mod incoming;
mod lifecycle;
pub mod reads;
mod rebuild;
mod rows;
mod salts;
pub mod schema;
pub mod sessionizer;
mod state;
#[cfg(test)]
pub mod test_server;
mod writer;

use std::collections::HashMap;
use std::sync::Mutex;
use std::thread::JoinHandle;

use async_trait::async_trait;

pub use accounts::ClickhouseAccounts;
pub use client::{Client, Cluster, Connection};
pub use incoming::Shard;
pub use sessionizer::{Sessionizer, SessionizerOptions};
pub use reads::ClickhouseReads;
use rows::{EVENT_COLUMNS, LIVE_SESSIONS, SESSION_COLUMNS, SessionRow, Versions};
use writer::Writer;

use crate::config::Sessionizer as SessionsBy;
use crate::event::StoredEvent;
use crate::ingest::group::SiteRules;
use crate::sessions::{Rule, Session};
use crate::store::lifecycle::{AuditRecord, DayCount, Deleted, Erased, Selector};
use crate::store::queue::WriteQueue;
use crate::store::tails::Tails;
use crate::store::{Appended, BotHit, DaySalts, Rebuilt, Store, StoreError};
use client::lit;

/// How the store is run; [`StoreOptions::default`] suits tests.
#[derive(Clone)]
pub struct StoreOptions {
    /// Requests that may wait for the writer before appends are refused.
    pub write_queue: usize,
    /// The session rule, per site key; others get the default.
    pub session_rules: HashMap<String, Rule>,
    /// Observes each group's write duration, in seconds.
    pub commit_seconds: Option<prometheus::Histogram>,
    /// Who makes sessions: this store's writer, or a sessionizer (then
    /// appends go to `incoming`; `Inside` runs one in this process).
    pub sessionizer: crate::config::Sessionizer,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            write_queue: 4096,
            session_rules: HashMap::new(),
            commit_seconds: None,
            sessionizer: crate::config::Sessionizer::Writer,
        }
    }
}

pub struct ClickhouseStore {
    client: Client,
    queue: WriteQueue,
    writer: Mutex<Option<JoinHandle<()>>>,
    sessionizer: Mutex<Option<sessionizer::Running>>,
}

impl ClickhouseStore {
    /// Connects, migrates the schema (creating the database if needed)
    /// and starts the writer. Fails with a message naming the server when
    /// it is unreachable, or when its schema is newer than this binary's.
    /// Blocks until then: call it off the async runtime's threads, or in a test.
    pub fn open(connection: Connection, options: StoreOptions) -> Result<ClickhouseStore, StoreError> {
        let (queue, receiver) = WriteQueue::new(options.write_queue);
        let mode = if options.sessionizer == SessionsBy::Writer { writer::Mode::Sessionize } else { writer::Mode::Append };
        let inside = (options.sessionizer == SessionsBy::Inside).then(|| SessionizerOptions {
            session_rules: options.session_rules.clone(),
            ..SessionizerOptions::default()
        });
        let (ready, started) = std::sync::mpsc::channel();
        let writer_connection = connection.clone();
        let writer = std::thread::Builder::new()
            .name("waymark-clickhouse-writer".into())
            .spawn(move || {
                let db = match db::Db::new(Client::new(writer_connection)) {
                    Ok(db) => db,
                    Err(e) => {
                        return drop(ready.send(Err(StoreError::Backend(format!("the writer's runtime: {e}")))));
                    }
                };
                if let Err(e) = db.block_on(schema::migrate(db.client())) {
                    return drop(ready.send(Err(match e {
                        schema::SchemaError::Client(c) => StoreError::from(c),
                        newer => StoreError::Backend(newer.to_string()),
                    })));
                }
                let _ = ready.send(Ok(()));
                Writer {
                    db,
                    mode,
                    clock: incoming::ServerClock::default(),
                    rules: SiteRules(options.session_rules),
                    commit_seconds: options.commit_seconds,
                    tails: Tails::default(),
                    versions: Versions::default(),
                }
                .run(receiver)
            })
            .map_err(|e| StoreError::Backend(format!("spawning the writer thread: {e}")))?;
        started.recv().map_err(|_| StoreError::Closed)??;
        let sessionizer = match inside {
            None => None,
            Some(options) => Some(
                sessionizer::Running::spawn(Sessionizer::open(connection.clone(), options)?)
                    .map_err(|e| StoreError::Backend(format!("spawning the sessionizer thread: {e}")))?,
            ),
        };
        Ok(ClickhouseStore {
            client: Client::new(connection),
            queue,
            writer: Mutex::new(Some(writer)),
            sessionizer: Mutex::new(sessionizer),
        })
    }

    /// The read seam over this store's database.
    pub fn reads(&self) -> ClickhouseReads {
        ClickhouseReads::new(self.client.clone())
    }

    /// The dashboard's accounts, in this store's database.
    pub fn accounts(&self) -> Result<ClickhouseAccounts, StoreError> {
        ClickhouseAccounts::open(self.client.connection().clone())
    }
}

#[derive(serde::Deserialize)]
struct BotRow {
    site: String,
    day: String,
    bot: String,
    hits: i64,
}

#[async_trait]
impl Store for ClickhouseStore {
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
        Ok(self.client.rows(&format!("SELECT {EVENT_COLUMNS} FROM events FINAL WHERE site = {} ORDER BY ts, id", lit(site))).await?)
    }

    async fn sessions(&self, site: &str) -> Result<Vec<Session>, StoreError> {
        let sql = format!("SELECT {SESSION_COLUMNS} FROM {LIVE_SESSIONS} AND site = {} ORDER BY start_ts, id", lit(site));
        Ok(self.client.rows::<SessionRow>(&sql).await?.into_iter().map(SessionRow::into_session).collect())
    }

    async fn bot_hits(&self, site: &str) -> Result<Vec<BotHit>, StoreError> {
        let sql = format!(
            "SELECT site, day, bot, sum(hits) AS hits FROM bot_hits WHERE site = {} GROUP BY site, day, bot ORDER BY day, bot",
            lit(site)
        );
        let rows: Vec<BotRow> = self.client.rows(&sql).await?;
        Ok(rows.into_iter().map(|r| BotHit { site: r.site, day: r.day, bot: r.bot, hits: r.hits }).collect())
    }

    async fn delete_before(&self, site: &str, before_ms: i64, max_rows: usize) -> Result<Deleted, StoreError> {
        self.queue.delete_before(site, before_ms, max_rows).await
    }

    async fn count_before(&self, site: &str, before_ms: i64) -> Result<Vec<DayCount>, StoreError> {
        Ok(lifecycle::count_before(&self.client, site, before_ms).await?)
    }

    async fn erase(&self, site: &str, selector: &Selector, at_ms: i64, requested_by: &str) -> Result<Erased, StoreError> {
        self.queue.erase(site, selector, at_ms, requested_by, Erased::default()).await
    }

    async fn record_audit(&self, record: AuditRecord) -> Result<(), StoreError> {
        self.queue.record_audit(record).await
    }

    async fn audit(&self, site: Option<&str>) -> Result<Vec<AuditRecord>, StoreError> {
        Ok(lifecycle::audit(&self.client, site).await?)
    }

    fn queue_depth(&self) -> usize {
        self.queue.depth()
    }

    async fn close(&self) {
        let sessionizer = self.sessionizer.lock().expect("sessionizer lock").take();
        if let Some(mut sessionizer) = sessionizer {
            let _ = tokio::task::spawn_blocking(move || sessionizer.stop()).await;
        }
        // Closing the queue ends the writer's loop once it is empty.
        self.queue.close();
        let writer = self.writer.lock().expect("writer lock").take();
        if let Some(writer) = writer {
            let _ = tokio::task::spawn_blocking(move || writer.join()).await;
        }
    }
}

/// The test server's connection, in a database of `dir`'s own.
#[cfg(test)]
pub(crate) fn test_connection(dir: &std::path::Path) -> Connection {
    Connection::server(test_server::url(), test_server::database_for(dir))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::conformance;

    conformance::write_conformance_tests!(
        |dir: &std::path::Path, rules: conformance::SiteRules| {
            let options = StoreOptions { session_rules: rules, ..StoreOptions::default() };
            ClickhouseStore::open(test_connection(dir), options).unwrap()
        },
        skip_when: test_server::skip()
    );

    /// Live ingest of `chunks` on a fresh database gives a rebuild's sessions.
    fn live_equals_rebuild(chunks: Vec<Vec<StoredEvent>>, rule: Rule) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let dir = tempfile::tempdir().unwrap();
            let options = StoreOptions { session_rules: HashMap::from([("site".to_owned(), rule)]), ..StoreOptions::default() };
            let store = ClickhouseStore::open(test_connection(dir.path()), options).unwrap();
            conformance::live_equals_rebuild(&store, chunks, rule).await;
            store.close().await;
        });
    }

    /// Two collectors appending for a sessionizer, given `chunks` in turn
    /// with a sessionizer round after each (and a restart of it after
    /// every third), give a rebuild's sessions.
    fn sessionized_equals_rebuild(connection: Connection, chunks: Vec<Vec<StoredEvent>>, rule: Rule) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let rules = HashMap::from([("site".to_owned(), rule)]);
            let options = StoreOptions { session_rules: rules.clone(), sessionizer: SessionsBy::Separate, ..StoreOptions::default() };
            let a = ClickhouseStore::open(connection.clone(), options.clone()).unwrap();
            let b = ClickhouseStore::open(connection.clone(), options).unwrap();
            // Rows are read as soon as they are written (their time is the
            // server's to within half a second, so a lag below zero), and
            // those committed behind the cursor looked for at every round.
            let sessionizer_options = SessionizerOptions {
                session_rules: rules,
                lag_ms: -2_000,
                catch_up_every: std::time::Duration::ZERO,
                ..SessionizerOptions::default()
            };
            let open = || Sessionizer::open(connection.clone(), sessionizer_options.clone()).unwrap();
            let mut sessionizer = open();
            let mut rounds = 0;
            conformance::appended_equal_rebuild(&[&a, &b], chunks, rule, || {
                rounds += 1;
                if rounds % 3 == 0 {
                    sessionizer = open();
                }
                sessionizer.step().unwrap();
            })
            .await;
            a.close().await;
            b.close().await;
        });
    }

    fn cluster_connection(dir: &std::path::Path) -> Connection {
        let shards = test_server::cluster_urls();
        Connection {
            cluster: Some(Cluster { name: test_server::CLUSTER_NAME.into(), shards: shards.clone() }),
            ..Connection::server(shards[1].clone(), test_server::database_for(dir))
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 8, ..proptest::prelude::ProptestConfig::default() })]

        #[test]
        fn two_collectors_and_a_sessionizer_that_restarts_give_a_rebuilds_sessions(
            chunks in proptest::strategy::Strategy::prop_shuffle(conformance::busy_streams())
        ) {
            if !test_server::skip() {
                let dir = tempfile::tempdir().unwrap();
                sessionized_equals_rebuild(test_connection(dir.path()), chunks, Rule { timeout_ms: 30 * 60_000, max_ms: 120 * 60_000 });
            }
        }

        #[test]
        fn on_a_cluster_of_two_shards_collectors_and_a_sessionizer_give_a_rebuilds_sessions(
            chunks in proptest::strategy::Strategy::prop_shuffle(conformance::streams())
        ) {
            if !test_server::skip() {
                let dir = tempfile::tempdir().unwrap();
                sessionized_equals_rebuild(cluster_connection(dir.path()), chunks, Rule { timeout_ms: 30 * 60_000, max_ms: 40 * 60_000 });
            }
        }
    }

    proptest::proptest! {
        // Fewer cases than SQLite's: each opens a database on the server.
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 12, ..proptest::prelude::ProptestConfig::default() })]

        #[test]
        fn live_sessions_equal_a_rebuild_for_any_arrival_order(chunks in proptest::strategy::Strategy::prop_shuffle(conformance::streams())) {
            if !test_server::skip() {
                live_equals_rebuild(chunks, Rule { timeout_ms: 30 * 60_000, max_ms: 40 * 60_000 });
            }
        }

        #[test]
        fn live_sessions_equal_a_rebuild_with_ties_long_sessions_and_late_events_inside_them(
            chunks in proptest::strategy::Strategy::prop_shuffle(conformance::busy_streams())
        ) {
            if !test_server::skip() {
                live_equals_rebuild(chunks, Rule { timeout_ms: 30 * 60_000, max_ms: 120 * 60_000 });
            }
        }
    }

    #[test]
    fn rows_no_sessionizer_has_read_are_kept_however_old_they_are() {
        if test_server::skip() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let connection = test_connection(dir.path());
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let client = Client::new(connection.clone());
        runtime.block_on(schema::migrate(&client)).unwrap();
        // Appended three days ago; no sessionizer has run since.
        let event = conformance::pageview(1, "anna", conformance::T0);
        let three_days_ago = crate::clock::Clock::now_ms(&crate::clock::SystemClock) - 3 * crate::clock::DAY_MS;
        let row = serde_json::json!({"site": event.site, "id": event.id, "visitor_id": event.visitor_id,
            "visitor_id_yesterday": null, "event": serde_json::to_string(&event).unwrap(), "arrived_ms": three_days_ago});
        runtime.block_on(client.insert("incoming", &[row])).unwrap();
        let mut sessionizer = Sessionizer::open(connection.clone(), SessionizerOptions::default()).unwrap();
        sessionizer.step().unwrap();
        let store = ClickhouseStore::open(connection, StoreOptions::default()).unwrap();
        let stored = runtime.block_on(store.events("site")).unwrap();
        assert_eq!(stored.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), [event.id.as_str()], "made an event, not dropped with its day");
        runtime.block_on(store.close());
    }

    #[test]
    fn a_sessionizer_killed_between_its_events_and_its_sessions_makes_them_when_it_resumes() {
        if test_server::skip() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let connection = test_connection(dir.path());
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let options = StoreOptions { sessionizer: SessionsBy::Separate, ..StoreOptions::default() };
        let collector = ClickhouseStore::open(connection.clone(), options).unwrap();
        // Two visits of anna, one of ben.
        let minutes = [0, 5, 50, 2];
        let events: Vec<StoredEvent> = (0..4u64)
            .map(|n| conformance::pageview(n, ["anna", "anna", "anna", "ben"][n as usize], conformance::T0 + minutes[n as usize] * 60_000))
            .collect();
        runtime.block_on(collector.append(events)).unwrap();
        let sessionizer_options = SessionizerOptions { lag_ms: -2_000, catch_up_every: std::time::Duration::ZERO, ..SessionizerOptions::default() };
        Sessionizer::open(connection.clone(), sessionizer_options.clone()).unwrap().step().unwrap();
        let sessions = runtime.block_on(collector.sessions("site")).unwrap();
        assert_eq!(sessions.len(), 3);

        // What a kill between the two inserts leaves: the page's events
        // stored, its sessions not, the cursor where it was before the page.
        let db = db::Db::new(Client::new(connection.clone())).unwrap();
        db.delete("sessions", "1 = 1").unwrap();
        db.delete("sessionizer_progress", "1 = 1").unwrap();
        assert!(runtime.block_on(collector.sessions("site")).unwrap().is_empty());

        Sessionizer::open(connection.clone(), sessionizer_options).unwrap().step().unwrap();
        assert_eq!(runtime.block_on(collector.sessions("site")).unwrap(), sessions, "the page read again is all duplicates");
        runtime.block_on(collector.close());
    }

    #[test]
    fn a_database_migrated_by_a_newer_collector_is_refused_and_an_unreachable_server_is_named() {
        if test_server::skip() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let connection = test_connection(dir.path());
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let client = Client::new(connection.clone());
        runtime.block_on(schema::migrate(&client)).unwrap();
        runtime.block_on(client.execute("INSERT INTO schema_migrations (version, applied_ms) VALUES (99, 0)")).unwrap();
        let err = ClickhouseStore::open(connection.clone(), StoreOptions::default()).err().expect("refused");
        assert!(err.to_string().contains("schema version 99, newer than this collector's"), "{err}");

        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let nowhere = Connection { url: format!("http://127.0.0.1:{port}"), ..connection };
        let err = ClickhouseStore::open(nowhere, StoreOptions::default()).err().expect("unreachable");
        assert!(
            matches!(err, StoreError::Unavailable(_)) && err.to_string().contains(&format!("127.0.0.1:{port} is unreachable")),
            "{err}"
        );
    }
}
