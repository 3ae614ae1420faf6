//! The read side: the numbers the dashboard and the query API show, computed
//! from the stored `events` and `sessions` with SQL over read-only SQLite
//! connections.
//!
//! Policy, in one place:
//! - a session counts in the period (and the chart bucket) in which it
//!   started; visitors, sessions, bounce rate and session duration come from
//!   `sessions`, pageviews and events from `events` by their own time;
//! - days and hours are the site's, in its IANA time zone (a DST day has 23
//!   or 25 hourly buckets);
//! - the previous period is the same number of days just before;
//! - filters combine with AND (see [`filter`] for what each dimension means
//!   for sessions and for events).
//!
//! Mechanism: each query is a plain function of a connection, a site and a
//! request, so tests and the benchmark call them directly; [`Queries`] runs
//! them on a small pool of read-only connections, off the async runtime, with
//! an injectable clock for "now".

pub mod breakdown;
pub mod filter;
pub mod overview;
pub mod period;
pub mod realtime;
pub mod sessions;
pub mod table;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OpenFlags};

/// Read-only connections kept open between queries.
const POOL_SIZE: usize = 4;
/// Page cache per read connection, KiB: a month of a busy site's time
/// indexes stays in memory between dashboard refreshes.
const READER_CACHE_KIB: i64 = 32 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error("database error: {0}")]
    Database(#[from] rusqlite::Error),
    #[error("unknown time zone {0:?}")]
    TimeZone(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("no session {0:?} for this site")]
    SessionNotFound(String),
    #[error("the query was interrupted")]
    Interrupted,
}

/// "Now" for the read side: the collector's one injected clock.
pub type SharedClock = Arc<dyn crate::clock::Clock>;

/// A site as the read side sees it: its key and its time zone.
#[derive(Debug, Clone)]
pub struct Site {
    pub key: String,
    pub time_zone: jiff::tz::TimeZone,
}

impl Site {
    pub fn new(key: &str, time_zone: &str) -> Result<Site, QueryError> {
        let time_zone = jiff::tz::TimeZone::get(time_zone).map_err(|_| QueryError::TimeZone(time_zone.to_owned()))?;
        Ok(Site { key: key.to_owned(), time_zone })
    }
}

/// Runs queries on pooled read-only connections to the store's file.
pub struct Queries {
    db_path: PathBuf,
    pool: Mutex<Vec<Connection>>,
    clock: SharedClock,
}

impl Queries {
    pub fn new(db_path: &Path, clock: SharedClock) -> Queries {
        Queries { db_path: db_path.to_path_buf(), pool: Mutex::new(Vec::new()), clock }
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Runs `query` on a blocking thread with a pooled connection.
    pub async fn run<T, F>(self: &Arc<Self>, query: F) -> Result<T, QueryError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, QueryError> + Send + 'static,
    {
        let queries = self.clone();
        tokio::task::spawn_blocking(move || {
            let conn = queries.take()?;
            let result = query(&conn);
            queries.give_back(conn);
            result
        })
        .await
        .map_err(|_| QueryError::Interrupted)?
    }

    fn take(&self) -> Result<Connection, QueryError> {
        if let Some(conn) = self.pool.lock().expect("pool lock").pop() {
            return Ok(conn);
        }
        Ok(open_reader(&self.db_path)?)
    }

    fn give_back(&self, conn: Connection) {
        let mut pool = self.pool.lock().expect("pool lock");
        if pool.len() < POOL_SIZE {
            pool.push(conn);
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

/// `part / whole`, or 0 when there is nothing to divide.
fn ratio(part: i64, whole: i64) -> f64 {
    if whole == 0 { 0.0 } else { part as f64 / whole as f64 }
}
