//! The read seam: every question the query API and the dashboard ask of the
//! stored events and sessions, as one trait each backend implements. The
//! requests and answers are `crate::query`'s types, the same for every
//! backend, and so are the rules they follow (periods and buckets in the
//! site's time zone, what each filter means, how rates are derived): see
//! [`crate::query`]. A backend only counts; every backend passes
//! `store::read_conformance`.
//!
//! The methods are async so that a backend may answer over the network; one
//! on a local file runs its queries off the async runtime (the SQLite one
//! on a small pool of read-only connections, `store::sqlite::reads`).

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

#[async_trait]
pub trait Reads: Send + Sync + 'static {
    /// Active visitors and the last hour, minute by minute, as of the
    /// request's `now_ms`, of the events that pass its filters.
    async fn realtime(&self, site: &Site, request: &RealtimeRequest) -> Result<Realtime, QueryError>;

    /// Totals and a time series for a period and the one before it.
    async fn overview(&self, site: &Site, request: &OverviewRequest) -> Result<Overview, QueryError>;

    /// The top values of one dimension in a period.
    async fn breakdown(&self, site: &Site, request: &BreakdownRequest) -> Result<Breakdown, QueryError>;

    /// One page of the sessions started in a period, newest first.
    async fn sessions(&self, site: &Site, request: &SessionsRequest) -> Result<SessionPage, QueryError>;

    /// One session and its events in order.
    async fn journey(&self, site: &Site, session_id: &str) -> Result<Journey, QueryError>;

    /// Every stored event and session of the person `selector` names
    /// (see [`crate::query::person`]); empty when the site holds none.
    async fn person(&self, site: &Site, selector: &Selector) -> Result<PersonData, QueryError>;

    /// One page of the site's consent decisions in a period, newest first
    /// (see [`crate::query::consent`]).
    async fn consent_log(&self, site: &Site, request: &ConsentLogRequest) -> Result<ConsentLog, QueryError>;

    /// The site's identity link log as stored (see [`crate::identity`]):
    /// each visitor and user id linked, with the earliest time seen; the
    /// same pair may come more than once. People are resolved from it by
    /// [`crate::identity::resolve`].
    async fn identities(&self, site: &Site) -> Result<Vec<Identity>, QueryError>;

    /// The visits (sessions) started in a range that pass the filters, in
    /// (start, visitor, id) order (ids only when a dimension is asked): what people, cohorts and goals are counted from
    /// (see [`crate::query::matching`]).
    async fn visits(&self, site: &Site, request: &VisitsRequest) -> Result<Vec<Visit>, QueryError>;

    /// The events in a range that pass the filters and match at least one
    /// of the conditions, in (time, id) order, each with which ones it
    /// matched: what funnels, goals and first events are counted from.
    async fn matches(&self, site: &Site, request: &MatchRequest) -> Result<Vec<Match>, QueryError>;
}
