//! The questions the dashboard and the query API ask, put to whichever
//! backend holds the data (the read seam), with the collector's clock for
//! "now".

use std::sync::Arc;

use super::breakdown::{Breakdown, BreakdownRequest};
use super::consent::{ConsentLog, ConsentLogRequest};
use super::overview::{Overview, OverviewRequest};
use super::person::PersonData;
use super::realtime::Realtime;
use super::sessions::{Journey, SessionPage, SessionsRequest};
use super::{QueryError, SharedClock, Site};
use crate::store::lifecycle::Selector;
use crate::store::read::Reads;

/// The questions the dashboard and the query API ask, put to the read
/// seam; "now" is the collector's clock.
pub struct Queries {
    reads: Arc<dyn Reads>,
    clock: SharedClock,
}

impl Queries {
    pub fn new(reads: Arc<dyn Reads>, clock: SharedClock) -> Queries {
        Queries { reads, clock }
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Right now, by the clock.
    pub async fn realtime(&self, site: &Site) -> Result<Realtime, QueryError> {
        self.reads.realtime(site, self.now_ms()).await
    }

    pub async fn overview(&self, site: &Site, request: &OverviewRequest) -> Result<Overview, QueryError> {
        self.reads.overview(site, request).await
    }

    pub async fn breakdown(&self, site: &Site, request: &BreakdownRequest) -> Result<Breakdown, QueryError> {
        self.reads.breakdown(site, request).await
    }

    pub async fn sessions(&self, site: &Site, request: &SessionsRequest) -> Result<SessionPage, QueryError> {
        self.reads.sessions(site, request).await
    }

    pub async fn journey(&self, site: &Site, session_id: &str) -> Result<Journey, QueryError> {
        self.reads.journey(site, session_id).await
    }

    /// One person's stored events and sessions (see [`super::person`]).
    pub async fn person(&self, site: &Site, selector: &Selector) -> Result<PersonData, QueryError> {
        self.reads.person(site, selector).await
    }

    /// The site's consent decisions (see [`super::consent`]).
    pub async fn consent_log(&self, site: &Site, request: &ConsentLogRequest) -> Result<ConsentLog, QueryError> {
        self.reads.consent_log(site, request).await
    }
}
