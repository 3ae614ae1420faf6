//! Read-only connections to the store's file, kept between queries, and the
//! mechanism that runs a query on one: on a blocking thread (off the async
//! runtime), at most `[store] read_connections` at once (by default half
//! the machine's cores, so that however many people look at the dashboard,
//! ingest keeps the other half). The memory the pool holds is bounded by
//! configuration: that many connections, each with a page cache of
//! `read_cache_mib`; sorts and temporary tables go to temporary files, not
//! memory. A query begins after the [`ReaderGate`] lets it (see
//! `checkpoints`).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OpenFlags};

use super::super::checkpoints::ReaderGate;
use crate::query::QueryError;

/// How the pool is sized (`[store] read_connections`, `read_cache_mib`).
#[derive(Debug, Clone, Copy)]
pub struct ReadOptions {
    /// Queries run at once; as many connections are kept open.
    pub connections: usize,
    /// Page cache per read connection, KiB.
    pub cache_kib: i64,
}

impl Default for ReadOptions {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        ReadOptions { connections: (cores / 2).max(1), cache_kib: 16 * 1024 }
    }
}

pub(super) struct ReadPool {
    db_path: PathBuf,
    options: ReadOptions,
    idle: Mutex<Vec<Connection>>,
    running: tokio::sync::Semaphore,
    gate: Arc<ReaderGate>,
}

impl ReadPool {
    pub(super) fn new(db_path: &Path, options: ReadOptions, gate: Arc<ReaderGate>) -> ReadPool {
        let running = tokio::sync::Semaphore::new(options.connections.max(1));
        ReadPool { db_path: db_path.to_path_buf(), options, idle: Mutex::new(Vec::new()), running, gate }
    }

    /// Runs `query` on a blocking thread with a pooled connection.
    pub(super) async fn run<T, F>(self: &Arc<Self>, query: F) -> Result<T, QueryError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, QueryError> + Send + 'static,
    {
        let _turn = self.running.acquire().await.map_err(|_| QueryError::Interrupted)?;
        let pool = self.clone();
        tokio::task::spawn_blocking(move || {
            pool.gate.pass();
            let conn = pool.take()?;
            let result = query(&conn);
            pool.give_back(conn);
            result
        })
        .await
        .map_err(|_| QueryError::Interrupted)?
    }

    fn take(&self) -> Result<Connection, QueryError> {
        if let Some(conn) = self.idle.lock().expect("pool lock").pop() {
            return Ok(conn);
        }
        Ok(open_reader(&self.db_path, self.options.cache_kib)?)
    }

    fn give_back(&self, conn: Connection) {
        let mut idle = self.idle.lock().expect("pool lock");
        if idle.len() < self.options.connections {
            idle.push(conn);
        }
    }
}

/// A read-only connection: WAL lets it read while the writer commits.
fn open_reader(path: &Path, cache_kib: i64) -> Result<Connection, rusqlite::Error> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.pragma_update(None, "cache_size", -cache_kib)?;
    conn.pragma_update(None, "temp_store", "FILE")?;
    Ok(conn)
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;

    use super::*;
    use crate::store::Store;
    use crate::store::conformance::{T0, pageview};
    use crate::store::sqlite::tests::wal_bytes;
    use crate::store::sqlite::{SqliteStore, StoreOptions};

    /// A query that holds its read transaction (its snapshot) open until
    /// `release` says, after saying it `started`.
    fn held(pool: &Arc<ReadPool>, started: tokio::sync::oneshot::Sender<()>, release: mpsc::Receiver<()>) -> tokio::task::JoinHandle<()> {
        let pool = pool.clone();
        tokio::spawn(async move {
            pool.run(move |conn| {
                conn.execute_batch("BEGIN")?;
                let _: i64 = conn.query_row("SELECT count(*) FROM events", [], |r| r.get(0))?;
                let _ = started.send(());
                let _ = release.recv();
                conn.execute_batch("COMMIT")?;
                Ok(())
            })
            .await
            .unwrap()
        })
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_query_starting_while_the_writer_waits_for_readers_lets_the_wal_start_over() {
        let dir = tempfile::tempdir().unwrap();
        let max = 64 * 4096;
        let reads = ReadOptions { connections: 2, cache_kib: 1024 };
        let store = SqliteStore::open_with(dir.path(), StoreOptions { wal_max_bytes: max, reads, ..StoreOptions::default() }).unwrap();
        let pool = Arc::new(ReadPool::new(store.path(), reads, store.readers.clone()));
        let mut events = (0u64..).map(|i| pageview(i, &format!("visitor-{}", i / 20), T0 + i as i64));
        let mut append = async || store.append(events.by_ref().take(10).collect()).await.unwrap();

        let (first_started, first_running) = tokio::sync::oneshot::channel();
        let (release_first, first_released) = mpsc::channel();
        let first = held(&pool, first_started, first_released);
        first_running.await.unwrap();
        // The first query holds the WAL back: the writer closes the gate.
        for _ in 0..2000 {
            append().await;
            if store.readers.is_closed() && wal_bytes(dir.path()) > max {
                break;
            }
        }
        assert!(store.readers.is_closed(), "the writer waits for the running query");

        // A second query asks while the first still runs; without the gate
        // its snapshot would hold the WAL back in turn.
        let (second_started, mut second_running) = tokio::sync::oneshot::channel();
        let (release_second, second_released) = mpsc::channel();
        let second = held(&pool, second_started, second_released);
        release_first.send(()).unwrap();
        first.await.unwrap();
        let mut second_began = false;
        for _ in 0..2000 {
            append().await;
            second_began |= second_running.try_recv().is_ok();
            if second_began && wal_bytes(dir.path()) <= max {
                break;
            }
        }
        assert!(second_began, "the second query ran once the WAL was copied");
        assert!(wal_bytes(dir.path()) <= max, "with the second query open the WAL is {} bytes, over its {max}", wal_bytes(dir.path()));
        release_second.send(()).unwrap();
        second.await.unwrap();
        store.close().await;
    }
}
