//! The questions the dashboard and the query API ask, put to whichever
//! backend holds the data (the read seam), with the collector's clock for
//! "now".

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use super::breakdown::{Breakdown, BreakdownRequest};
use super::filter::{Filter, Level};
use super::funnel::{Funnel, FunnelRequest};
use super::goals::{self, Goal};
use super::matching::{Condition, Match, MatchRequest, Visit, VisitsRequest};
use super::people::{PeoplePage, PeopleRequest, PersonJourney};
use super::retention::{Retention, RetentionRequest};
use super::segments::{Segment, SegmentCondition, live_period};
use super::consent::{ConsentLog, ConsentLogRequest};
use super::overview::{Overview, OverviewRequest};
use super::person::PersonData;
use super::realtime::{Realtime, RealtimeRequest};
use super::sessions::{Journey, SessionPage, SessionsRequest};
use super::{QueryError, SharedClock, Site};
use crate::identity::{self, People};
use crate::store::definitions::{Definitions, Kind};
use crate::store::lifecycle::Selector;
use crate::store::read::Reads;

/// The questions the dashboard and the query API ask, put to the read
/// seam; "now" is the collector's clock.
pub struct Queries {
    reads: Arc<dyn Reads>,
    definitions: Arc<dyn Definitions>,
    clock: SharedClock,
}

impl Queries {
    pub fn new(reads: Arc<dyn Reads>, definitions: Arc<dyn Definitions>, clock: SharedClock) -> Queries {
        Queries { reads, definitions, clock }
    }

    /// The saved goals and segments.
    pub fn definitions(&self) -> Arc<dyn Definitions> {
        self.definitions.clone()
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Right now, by the clock; counting only the members of the saved
    /// segment `segment` when one is given, over [`live_period`] as on the
    /// live stream.
    pub async fn realtime(&self, site: &Site, segment: Option<&str>) -> Result<Realtime, QueryError> {
        let now_ms = self.now_ms();
        let mut filters = Vec::new();
        self.apply_segment(site, segment, &live_period(now_ms, &site.time_zone), &mut filters).await?;
        self.reads.realtime(site, &RealtimeRequest { now_ms, filters }).await
    }

    /// The overview, with people beside visitors and the site's goals.
    pub async fn overview(&self, site: &Site, request: &OverviewRequest) -> Result<Overview, QueryError> {
        let people = Arc::new(self.people_of(site).await?);
        let mut overview = self.reads.overview(site, &OverviewRequest { people: Some(people), ..request.clone() }).await?;
        let goals = self.goals(site).await?;
        for (figures, period) in [(&mut overview.current, request.period.clone()), (&mut overview.previous, request.period.previous())] {
            let (lo, hi) = period.bounds(&site.time_zone);
            if !goals.is_empty() {
                let matches = self.goal_matches(site, lo, hi, &request.filters, &goals).await?;
                figures.goals = goals::figures(&goals, &matches, figures.totals.visitors);
            }
        }
        Ok(overview)
    }

    /// A breakdown; by a visit dimension, with the site's goals per row.
    pub async fn breakdown(&self, site: &Site, request: &BreakdownRequest) -> Result<Breakdown, QueryError> {
        let mut breakdown = self.reads.breakdown(site, request).await?;
        let goals = self.goals(site).await?;
        if goals.is_empty() || request.dimension.level() != Level::Session {
            return Ok(breakdown);
        }
        let (lo, hi) = request.period.bounds(&site.time_zone);
        let visits_request = VisitsRequest { lo, hi, filters: request.filters.clone(), dimension: Some(request.dimension.clone()), places: false };
        let visits = self.reads.visits(site, &visits_request).await?;
        let value_of: HashMap<String, Option<String>> = visits.iter().map(|v| (v.session_id.clone(), v.value.clone())).collect();
        let visitors_of: HashMap<Option<String>, i64> = breakdown.rows.iter().map(|r| (r.value.clone(), r.visitors)).collect();
        // Events of the period's visits happen up to a session's length after it.
        let matches = self.goal_matches(site, lo, hi + site.session_max_ms, &request.filters, &goals).await?;
        let mut by_value = goals::by_value(&goals, &matches, &value_of, &visitors_of);
        for row in &mut breakdown.rows {
            row.goals = by_value.remove(&row.value).unwrap_or_default();
        }
        Ok(breakdown)
    }

    /// The site's saved goals, by name.
    pub async fn goals(&self, site: &Site) -> Result<Vec<Goal>, QueryError> {
        let definitions = self.definitions.clone();
        let key = site.key.clone();
        let saved = tokio::task::spawn_blocking(move || definitions.list(&key, Kind::Goal))
            .await
            .map_err(|e| QueryError::Database(Box::new(e)))?
            .map_err(|e| QueryError::Database(Box::new(e)))?;
        Ok(saved
            .into_iter()
            .filter_map(|d| {
                let condition: Condition = serde_json::from_str(&d.body).ok()?;
                Some(Goal { id: d.id, name: d.name, condition })
            })
            .take(goals::MAX_GOALS)
            .collect())
    }

    async fn goal_matches(&self, site: &Site, lo: i64, hi: i64, filters: &[Filter], goals: &[Goal]) -> Result<Vec<Match>, QueryError> {
        let conditions = goals.iter().map(|g| g.condition.clone()).collect();
        self.reads.matches(site, &MatchRequest { lo, hi, filters: filters.to_vec(), conditions }).await
    }

    /// Narrows `filters` to the members of the saved segment `id` over
    /// `period` (see [`super::segments`]); nothing when `id` is `None`.
    pub async fn apply_segment(&self, site: &Site, id: Option<&str>, period: &super::period::Period, filters: &mut Vec<Filter>) -> Result<(), QueryError> {
        let Some(id) = id.filter(|id| !id.is_empty()) else { return Ok(()) };
        let segment = self.saved_segment(site, id).await?;
        filters.push(Filter::visitors(self.segment_members(site, &segment, period).await?));
        Ok(())
    }

    /// The saved segment `id` of `site`.
    pub async fn saved_segment(&self, site: &Site, id: &str) -> Result<Segment, QueryError> {
        let definitions = self.definitions.clone();
        let (key, wanted) = (site.key.clone(), id.to_owned());
        let saved = tokio::task::spawn_blocking(move || definitions.get(&key, Kind::Segment, &wanted))
            .await
            .map_err(|e| QueryError::Database(Box::new(e)))?
            .map_err(|e| QueryError::Database(Box::new(e)))?
            .ok_or_else(|| QueryError::SegmentNotFound(id.to_owned()))?;
        serde_json::from_str(&saved.body).map_err(|e| QueryError::Database(Box::new(e)))
    }

    /// The visitors `segment` holds for over `period`.
    pub async fn segment_members(&self, site: &Site, segment: &Segment, period: &super::period::Period) -> Result<BTreeSet<String>, QueryError> {
        let (lo, hi) = period.bounds(&site.time_zone);
        let visits_of = |filters: Vec<Filter>| VisitsRequest { lo, hi, filters, dimension: None, places: false };
        // Every visit is evidence only for counting visits and for who is
        // identified; a segment of other conditions reads just its own.
        let counts_visits = segment.conditions.iter().any(|c| matches!(c, SegmentCondition::Sessions { .. } | SegmentCondition::Identified { .. }));
        let visits = if counts_visits { self.reads.visits(site, &visits_of(Vec::new())).await? } else { Vec::new() };
        let mut by_dimension = Vec::new();
        for filter in segment.dimension_filters()? {
            let matching = self.reads.visits(site, &visits_of(vec![filter])).await?;
            by_dimension.push(matching.into_iter().map(|v| v.visitor_id).collect());
        }
        let did = segment.did_conditions();
        let matches = if did.is_empty() {
            Vec::new()
        } else {
            self.reads.matches(site, &MatchRequest { lo, hi, filters: Vec::new(), conditions: did }).await?
        };
        let people = if counts_visits { self.people_of(site).await? } else { People::default() };
        let evidence = super::segments::Evidence { visits: &visits, by_dimension, matches: &matches, people: &people };
        Ok(super::segments::members(segment, &evidence))
    }

    /// The identity link log, resolved.
    async fn people_of(&self, site: &Site) -> Result<People, QueryError> {
        Ok(identity::resolve(self.reads.identities(site).await?))
    }

    /// The people active in a period (see [`super::people`]).
    pub async fn people(&self, site: &Site, request: &PeopleRequest) -> Result<PeoplePage, QueryError> {
        let (lo, hi) = request.period.bounds(&site.time_zone);
        let visits = self.reads.visits(site, &VisitsRequest { lo, hi, filters: request.filters.clone(), dimension: None, places: true }).await?;
        Ok(super::people::list(request, &visits, &self.people_of(site).await?))
    }

    /// One person's journey across devices: a user's, or an unidentified visitor's.
    pub async fn person_journey(&self, site: &Site, person: &Selector) -> Result<PersonJourney, QueryError> {
        let user = match person {
            Selector::User(u) => Some(u.clone()),
            Selector::Visitor(v) => {
                // An identified visitor's journey is their person's.
                let people = self.people_of(site).await?;
                people.user_of(v).map(str::to_owned)
            }
            _ => return Err(QueryError::BadRequest("a person is named by `user` or `visitor`".into())),
        };
        let selector = user.clone().map_or_else(|| person.clone(), Selector::User);
        let data = self.reads.person(site, &selector).await?;
        Ok(PersonJourney::of(user, data))
    }

    /// A funnel (see [`super::funnel`]).
    pub async fn funnel(&self, site: &Site, request: &FunnelRequest) -> Result<Funnel, QueryError> {
        request.check()?;
        let (lo, hi) = request.period.bounds(&site.time_zone);
        let reach = request.reach_ms(site.session_max_ms);
        let matches = self
            .reads
            .matches(site, &MatchRequest { lo, hi: hi + reach, filters: request.filters.clone(), conditions: request.conditions() })
            .await?;
        let people = match request.unit {
            super::funnel::Unit::People => self.people_of(site).await?,
            super::funnel::Unit::Visitors => People::default(),
        };
        let value_of = match &request.breakdown {
            None => HashMap::new(),
            Some(dimension) => {
                let starts: BTreeSet<&str> = matches.iter().filter(|m| m.matches(0)).map(|m| m.session_id.as_str()).collect();
                // A first step's session started at most a session's length before it.
                let visits_request = VisitsRequest { lo: lo - site.session_max_ms, hi, filters: Vec::new(), dimension: Some(dimension.clone()), places: false };
                let visits: Vec<Visit> = self.reads.visits(site, &visits_request).await?;
                visits.into_iter().filter(|v| starts.contains(v.session_id.as_str())).map(|v| (v.session_id, v.value)).collect()
            }
        };
        Ok(super::funnel::compute(request, lo, hi, &matches, &people, &value_of))
    }

    /// Retention cohorts (see [`super::retention`]).
    pub async fn retention(&self, site: &Site, request: &RetentionRequest) -> Result<Retention, QueryError> {
        let (lo, hi) = request.period.bounds(&site.time_zone);
        let visits = self.reads.visits(site, &VisitsRequest { lo, hi, filters: request.filters.clone(), dimension: None, places: false }).await?;
        let first_events = match &request.first_event {
            Some(condition) => {
                condition.check()?;
                let conditions = vec![condition.clone()];
                self.reads.matches(site, &MatchRequest { lo, hi, filters: request.filters.clone(), conditions }).await?
            }
            None => Vec::new(),
        };
        let people = match request.unit {
            super::funnel::Unit::People => self.people_of(site).await?,
            super::funnel::Unit::Visitors => People::default(),
        };
        Ok(super::retention::compute(request, &site.time_zone, &visits, &first_events, &people))
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
