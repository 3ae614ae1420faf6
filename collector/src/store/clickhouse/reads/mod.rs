//! The read seam on ClickHouse: every [`Reads`] question as SQL sent to the
//! server, one module per question, mirroring `store::sqlite::reads`.
//!
//! Mechanism: each answer is an async function of the client, a site and a
//! request; periods and buckets come from [`crate::query::period`] in the
//! site's time zone as millisecond bounds, so the server never converts
//! time zones and its answers equal SQLite's. Every read of `events` and
//! `sessions` goes through `FINAL` (see `clickhouse::schema`).

mod analyses;
mod breakdown;
mod consent;
mod filter;
mod overview;
mod person;
mod realtime;
mod sessions;

use async_trait::async_trait;

use super::client::{Client, ClientError};
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

/// The read seam over one ClickHouse database.
#[derive(Clone)]
pub struct ClickhouseReads {
    client: Client,
}

impl ClickhouseReads {
    pub fn new(client: Client) -> ClickhouseReads {
        ClickhouseReads { client }
    }
}

impl From<ClientError> for QueryError {
    fn from(e: ClientError) -> QueryError {
        QueryError::Database(Box::new(e))
    }
}

#[async_trait]
impl Reads for ClickhouseReads {
    async fn realtime(&self, site: &Site, request: &RealtimeRequest) -> Result<Realtime, QueryError> {
        realtime::realtime(&self.client, site, request).await
    }

    async fn overview(&self, site: &Site, request: &OverviewRequest) -> Result<Overview, QueryError> {
        overview::overview(&self.client, site, request).await
    }

    async fn breakdown(&self, site: &Site, request: &BreakdownRequest) -> Result<Breakdown, QueryError> {
        breakdown::breakdown(&self.client, site, request).await
    }

    async fn sessions(&self, site: &Site, request: &SessionsRequest) -> Result<SessionPage, QueryError> {
        sessions::sessions(&self.client, site, request).await
    }

    async fn journey(&self, site: &Site, session_id: &str) -> Result<Journey, QueryError> {
        sessions::journey(&self.client, site, session_id).await
    }

    async fn person(&self, site: &Site, selector: &Selector) -> Result<PersonData, QueryError> {
        person::person(&self.client, site, selector).await
    }

    async fn consent_log(&self, site: &Site, request: &ConsentLogRequest) -> Result<ConsentLog, QueryError> {
        consent::consent_log(&self.client, site, request).await
    }

    async fn identities(&self, site: &Site) -> Result<Vec<Identity>, QueryError> {
        analyses::identities(&self.client, site).await
    }

    async fn visits(&self, site: &Site, request: &VisitsRequest) -> Result<Vec<Visit>, QueryError> {
        analyses::visits(&self.client, site, request).await
    }

    async fn matches(&self, site: &Site, request: &MatchRequest) -> Result<Vec<Match>, QueryError> {
        analyses::matches(&self.client, site, request).await
    }
}

#[cfg(test)]
mod tests {
    use crate::store::clickhouse::{ClickhouseStore, StoreOptions, test_connection, test_server};
    use crate::store::read_conformance::{Backend, read_conformance_tests};

    fn clickhouse(dir: &std::path::Path) -> Backend {
        let store = ClickhouseStore::open(test_connection(dir), StoreOptions::default()).unwrap();
        let reads = store.reads();
        Backend { store: Box::new(store), reads: Box::new(reads) }
    }

    read_conformance_tests!(clickhouse, skip_when: test_server::skip());
}
