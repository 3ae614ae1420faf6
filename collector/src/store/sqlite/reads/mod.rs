//! The read seam on SQLite: every [`Reads`] question as SQL over the
//! store's file, one module per question, on read-only connections that
//! run beside the writer (WAL).
//!
//! Mechanism: each answer is a plain function of a connection, a site and
//! a request; [`SqliteReads`] runs it on a small pool of read-only
//! connections on a blocking thread ([`pool`]). What the answers mean (time
//! zones, filters, rates) is `crate::query`'s; this module only counts.

mod analyses;
mod breakdown;
mod consent;
mod filter;
mod overview;
mod person;
mod pool;
mod realtime;
mod sessions;

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;

use crate::query::breakdown::{Breakdown, BreakdownRequest};
use crate::identity::Identity;
use crate::query::consent::{ConsentLog, ConsentLogRequest};
use crate::query::matching::{Match, MatchRequest, Visit, VisitsRequest};
use crate::query::overview::{Overview, OverviewRequest};
use crate::query::person::PersonData;
use crate::query::realtime::{Realtime, RealtimeRequest};
use crate::query::sessions::{Journey, SessionPage, SessionsRequest};
use crate::query::{QueryError, Site};
use crate::store::lifecycle::Selector;
use crate::store::read::Reads;
use pool::ReadPool;
pub use pool::ReadOptions;

use super::checkpoints::ReaderGate;

/// The read seam over one SQLite file.
#[derive(Clone)]
pub struct SqliteReads {
    pool: Arc<ReadPool>,
}

impl SqliteReads {
    /// Reads of the store at `db_path`; connections open when first needed.
    pub fn open(db_path: &Path) -> SqliteReads {
        SqliteReads::open_with(db_path, ReadOptions::default(), Arc::default())
    }

    /// Reads with the pool `options` sets, which wait at `gate` (the store's
    /// writer closes it to let a checkpoint copy the whole WAL).
    pub(super) fn open_with(db_path: &Path, options: ReadOptions, gate: Arc<ReaderGate>) -> SqliteReads {
        SqliteReads { pool: Arc::new(ReadPool::new(db_path, options, gate)) }
    }
}

impl From<rusqlite::Error> for QueryError {
    fn from(e: rusqlite::Error) -> QueryError {
        QueryError::Database(Box::new(e))
    }
}

#[async_trait]
impl Reads for SqliteReads {
    async fn realtime(&self, site: &Site, request: &RealtimeRequest) -> Result<Realtime, QueryError> {
        let (site, request) = (site.clone(), request.clone());
        self.pool.run(move |conn| realtime::realtime(conn, &site, &request)).await
    }

    async fn overview(&self, site: &Site, request: &OverviewRequest) -> Result<Overview, QueryError> {
        let (site, request) = (site.clone(), request.clone());
        self.pool.run(move |conn| overview::overview(conn, &site, &request)).await
    }

    async fn breakdown(&self, site: &Site, request: &BreakdownRequest) -> Result<Breakdown, QueryError> {
        let (site, request) = (site.clone(), request.clone());
        self.pool.run(move |conn| breakdown::breakdown(conn, &site, &request)).await
    }

    async fn sessions(&self, site: &Site, request: &SessionsRequest) -> Result<SessionPage, QueryError> {
        let (site, request) = (site.clone(), request.clone());
        self.pool.run(move |conn| sessions::sessions(conn, &site, &request)).await
    }

    async fn journey(&self, site: &Site, session_id: &str) -> Result<Journey, QueryError> {
        let (site, session_id) = (site.clone(), session_id.to_owned());
        self.pool.run(move |conn| sessions::journey(conn, &site, &session_id)).await
    }

    async fn person(&self, site: &Site, selector: &Selector) -> Result<PersonData, QueryError> {
        let (site, selector) = (site.clone(), selector.clone());
        self.pool.run(move |conn| person::person(conn, &site, &selector)).await
    }

    async fn consent_log(&self, site: &Site, request: &ConsentLogRequest) -> Result<ConsentLog, QueryError> {
        let (site, request) = (site.clone(), request.clone());
        self.pool.run(move |conn| consent::consent_log(conn, &site, &request)).await
    }

    async fn identities(&self, site: &Site) -> Result<Vec<Identity>, QueryError> {
        let site = site.clone();
        self.pool.run(move |conn| analyses::identities(conn, &site)).await
    }

    async fn visits(&self, site: &Site, request: &VisitsRequest) -> Result<Vec<Visit>, QueryError> {
        let (site, request) = (site.clone(), request.clone());
        self.pool.run(move |conn| analyses::visits(conn, &site, &request)).await
    }

    async fn matches(&self, site: &Site, request: &MatchRequest) -> Result<Vec<Match>, QueryError> {
        let (site, request) = (site.clone(), request.clone());
        self.pool.run(move |conn| analyses::matches(conn, &site, &request)).await
    }
}

#[cfg(test)]
mod tests {
    use crate::store::read_conformance::{Backend, read_conformance_tests};
    use crate::store::sqlite::SqliteStore;

    fn sqlite(dir: &std::path::Path) -> Backend {
        let store = SqliteStore::open(dir).unwrap();
        let reads = store.reads();
        Backend { store: Box::new(store), reads: Box::new(reads) }
    }

    read_conformance_tests!(sqlite);
}
