//! Read-only connections to the store's file, kept between queries, and the
//! mechanism that runs a query on one: on a blocking thread (off the async
//! runtime), at most half the machine's cores at once, so that however many
//! people look at the dashboard, ingest keeps the other half.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OpenFlags};

use crate::query::QueryError;

/// Read-only connections kept open between queries.
const POOL_SIZE: usize = 4;
/// Page cache per read connection, KiB: a month of a busy site's time
/// indexes stays in memory between dashboard refreshes.
const READER_CACHE_KIB: i64 = 32 * 1024;

pub(super) struct ReadPool {
    db_path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    running: tokio::sync::Semaphore,
}

impl ReadPool {
    pub(super) fn new(db_path: &Path) -> ReadPool {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let running = tokio::sync::Semaphore::new((cores / 2).max(1));
        ReadPool { db_path: db_path.to_path_buf(), idle: Mutex::new(Vec::new()), running }
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
        Ok(open_reader(&self.db_path)?)
    }

    fn give_back(&self, conn: Connection) {
        let mut idle = self.idle.lock().expect("pool lock");
        if idle.len() < POOL_SIZE {
            idle.push(conn);
        }
    }
}

/// A read-only connection: WAL lets it read while the writer commits.
pub fn open_reader(path: &Path) -> Result<Connection, rusqlite::Error> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.pragma_update(None, "cache_size", -READER_CACHE_KIB)?;
    Ok(conn)
}
