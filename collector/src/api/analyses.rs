//! `GET /api/query/people`, `/api/query/people/journey`, `/api/query/funnel`,
//! `/api/query/retention`: the analyses, with the same `site`, period,
//! filters and `format` as every query route (see [`super::query`]).
//! Documented in `www/openapi.yaml`.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::response::Response;

use super::AppState;
use super::auth::Authenticated;
use super::error::ApiError;
use super::export::reply;
use super::query::{Pairs, Params};
use crate::query::Site;
use crate::query::filter::Dimension;
use crate::query::funnel::{FunnelRequest, Order, Unit, Window};
use crate::query::matching::Condition;
use crate::query::people::PeopleRequest;
use crate::query::retention::{Grain, RetentionRequest};
use crate::store::lifecycle::Selector;

impl Params {
    /// `count=visitors|people` (default visitors).
    fn unit(&self) -> Result<Unit, ApiError> {
        match self.get("count") {
            None | Some("visitors") => Ok(Unit::Visitors),
            Some("people") => Ok(Unit::People),
            Some(other) => Err(ApiError::BadRequest(format!("`count` is visitors or people, got {other:?}"))),
        }
    }

    /// One page of the people list.
    pub fn people(&self, site: &Site, now_ms: i64) -> Result<PeopleRequest, ApiError> {
        Ok(PeopleRequest {
            period: self.period(site, now_ms)?,
            filters: self.filters()?,
            search: self.get("search").map(str::to_owned),
            page: self.number("page", 0)?,
            per_page: self.number("per_page", 50)?,
        })
    }

    /// A funnel: `step` repeated in order, `within=session|<days>`, `order=loose|strict`.
    pub fn funnel(&self, site: &Site, now_ms: i64) -> Result<FunnelRequest, ApiError> {
        let steps = self.pairs.iter().filter(|(k, _)| k == "step").map(|(_, v)| Condition::parse(v)).collect::<Result<Vec<_>, _>>()?;
        let window = match self.get("within") {
            None | Some("session") => Window::Session,
            Some(days) => Window::Days(days.strip_suffix('d').unwrap_or(days).parse().map_err(|_| {
                ApiError::BadRequest(format!("`within` is `session` or a number of days (like 7), got {days:?}"))
            })?),
        };
        let order = match self.get("order") {
            None | Some("loose") => Order::Loose,
            Some("strict") => Order::Strict,
            Some(other) => return Err(ApiError::BadRequest(format!("`order` is loose or strict, got {other:?}"))),
        };
        let request = FunnelRequest {
            period: self.period(site, now_ms)?,
            steps,
            window,
            order,
            unit: self.unit()?,
            filters: self.filters()?,
            breakdown: self.get("breakdown").map(Dimension::parse).transpose()?,
        };
        request.check()?;
        Ok(request)
    }

    /// Cohorts `by=day|week|month` (default week), of `first_event` when given.
    pub fn retention(&self, site: &Site, now_ms: i64) -> Result<RetentionRequest, ApiError> {
        Ok(RetentionRequest {
            period: self.period(site, now_ms)?,
            grain: Grain::parse(self.get("by").unwrap_or("week"))?,
            unit: self.unit()?,
            first_event: self.get("first_event").map(Condition::parse).transpose()?,
            filters: self.filters()?,
        })
    }
}

/// `GET /api/query/people?search=…`: the people active in the period.
pub async fn people_route(who: Authenticated, State(state): State<Arc<AppState>>, Query(pairs): Pairs) -> Result<Response, ApiError> {
    let params = Params { pairs };
    let site = params.site(&state)?;
    who.require_site(&site.key)?;
    let queries = state.dashboard.queries.clone();
    let mut request = params.people(&site, queries.now_ms())?;
    queries.apply_segment(&site, params.get("segment"), &request.period, &mut request.filters).await?;
    reply(params.format()?, "people", queries.people(&site, &request).await?)
}

/// `GET /api/query/people/journey?user=…` (or `visitor=…`): one person's
/// visits across their devices, in time order.
pub async fn journey_route(who: Authenticated, State(state): State<Arc<AppState>>, Query(pairs): Pairs) -> Result<Response, ApiError> {
    let params = Params { pairs };
    let site = params.site(&state)?;
    who.require_site(&site.key)?;
    let selector = match (params.get("user"), params.get("visitor")) {
        (Some(user), None) if !user.is_empty() => Selector::User(user.to_owned()),
        (None, Some(visitor)) if !visitor.is_empty() => Selector::Visitor(visitor.to_owned()),
        _ => return Err(ApiError::BadRequest("name the person by `user` (a user id) or `visitor` (a visitor id), one of them".into())),
    };
    let journey = state.dashboard.queries.person_journey(&site, &selector).await?;
    reply(params.format()?, "journey", journey)
}

/// `GET /api/query/funnel?step=…&step=…`
pub async fn funnel_route(who: Authenticated, State(state): State<Arc<AppState>>, Query(pairs): Pairs) -> Result<Response, ApiError> {
    let params = Params { pairs };
    let site = params.site(&state)?;
    who.require_site(&site.key)?;
    let queries = state.dashboard.queries.clone();
    let mut request = params.funnel(&site, queries.now_ms())?;
    queries.apply_segment(&site, params.get("segment"), &request.period, &mut request.filters).await?;
    reply(params.format()?, "funnel", queries.funnel(&site, &request).await?)
}

/// `GET /api/query/retention?by=week`
pub async fn retention_route(who: Authenticated, State(state): State<Arc<AppState>>, Query(pairs): Pairs) -> Result<Response, ApiError> {
    let params = Params { pairs };
    let site = params.site(&state)?;
    who.require_site(&site.key)?;
    let queries = state.dashboard.queries.clone();
    let mut request = params.retention(&site, queries.now_ms())?;
    queries.apply_segment(&site, params.get("segment"), &request.period, &mut request.filters).await?;
    reply(params.format()?, "retention", queries.retention(&site, &request).await?)
}
