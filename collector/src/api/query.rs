//! `GET /api/query/…`: the numbers, for the dashboard and for scripts.
//! Every route takes `site`, a period (`from`, `to`: local dates, both
//! included; default the last 7 days), filters (`filter.<dimension>=<value>`,
//! repeatable over dimensions) and `format=json|csv`. Documented in
//! `www/openapi.yaml`.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::response::Response;

use super::AppState;
use super::auth::Authenticated;
use super::error::ApiError;
use super::export::{Format, reply};
use crate::query::breakdown::BreakdownRequest;
use crate::query::consent::ConsentLogRequest;
use crate::query::filter::{Dimension, Filter};
use crate::query::overview::OverviewRequest;
use crate::query::period::{Interval, Period};
use crate::query::sessions::SessionsRequest;
use crate::query::Site;

/// Days shown when a request names no period.
const DEFAULT_DAYS: i64 = 7;
/// Hour buckets are offered for periods up to this long.
const MAX_HOURLY_DAYS: i64 = 31;

pub(super) type Pairs = Query<Vec<(String, String)>>;

/// The query string, read once per request (the live stream's too).
pub(super) struct Params {
    pub(super) pairs: Vec<(String, String)>,
}

impl Params {
    fn get(&self, key: &str) -> Option<&str> {
        self.pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    pub(super) fn site(&self, state: &AppState) -> Result<Site, ApiError> {
        let key = self.get("site").ok_or_else(|| ApiError::BadRequest("`site` is required".into()))?;
        Ok(state.dashboard.site(key)?.clone())
    }

    fn format(&self) -> Result<Format, ApiError> {
        Format::parse(self.get("format"))
    }

    fn period(&self, site: &Site, now_ms: i64) -> Result<Period, ApiError> {
        match (self.get("from"), self.get("to")) {
            (Some(from), Some(to)) => Ok(Period::parse(from, to)?),
            (None, None) => Ok(Period::last_days(DEFAULT_DAYS, now_ms, &site.time_zone)),
            _ => Err(ApiError::BadRequest("give both `from` and `to`, or neither".into())),
        }
    }

    fn filters(&self) -> Result<Vec<Filter>, ApiError> {
        self.pairs
            .iter()
            .filter_map(|(k, v)| Some((k.strip_prefix("filter.")?, v)))
            .map(|(dimension, value)| Ok(Filter::new(Dimension::parse(dimension)?, value)))
            .collect()
    }

    fn number(&self, key: &str, default: usize) -> Result<usize, ApiError> {
        self.get(key).map_or(Ok(default), |v| {
            v.parse().map_err(|_| ApiError::BadRequest(format!("`{key}` must be a whole number, got {v:?}")))
        })
    }

    fn interval(&self, period: &Period) -> Result<Interval, ApiError> {
        match self.get("interval") {
            None => Ok(period.default_interval()),
            Some("day") => Ok(Interval::Day),
            Some("hour") if period.days() <= MAX_HOURLY_DAYS => Ok(Interval::Hour),
            Some("hour") => Err(ApiError::BadRequest(format!("hourly buckets cover at most {MAX_HOURLY_DAYS} days"))),
            Some(other) => Err(ApiError::BadRequest(format!("`interval` is hour or day, got {other:?}"))),
        }
    }
}

/// `GET /api/query/realtime`
pub async fn realtime_route(who: Authenticated, State(state): State<Arc<AppState>>, Query(pairs): Pairs) -> Result<Response, ApiError> {
    let params = Params { pairs };
    let site = params.site(&state)?;
    who.require_site(&site.key)?;
    let result = state.dashboard.queries.realtime(&site).await?;
    reply(params.format()?, "realtime", result)
}

/// `GET /api/query/overview`
pub async fn overview_route(who: Authenticated, State(state): State<Arc<AppState>>, Query(pairs): Pairs) -> Result<Response, ApiError> {
    let params = Params { pairs };
    let site = params.site(&state)?;
    who.require_site(&site.key)?;
    let queries = state.dashboard.queries.clone();
    let period = params.period(&site, queries.now_ms())?;
    let request = OverviewRequest { interval: params.interval(&period)?, period, filters: params.filters()? };
    let result = queries.overview(&site, &request).await?;
    reply(params.format()?, "overview", result)
}

/// `GET /api/query/breakdown?dimension=…`
pub async fn breakdown_route(who: Authenticated, State(state): State<Arc<AppState>>, Query(pairs): Pairs) -> Result<Response, ApiError> {
    let params = Params { pairs };
    let site = params.site(&state)?;
    who.require_site(&site.key)?;
    let queries = state.dashboard.queries.clone();
    let dimension = params.get("dimension").ok_or_else(|| ApiError::BadRequest("`dimension` is required".into()))?;
    let request = BreakdownRequest {
        period: params.period(&site, queries.now_ms())?,
        dimension: Dimension::parse(dimension)?,
        filters: params.filters()?,
        limit: params.number("limit", 10)?,
    };
    let name = format!("breakdown-{}", request.dimension.name().replace(':', "-"));
    let result = queries.breakdown(&site, &request).await?;
    reply(params.format()?, &name, result)
}

/// `GET /api/query/sessions`
pub async fn sessions_route(who: Authenticated, State(state): State<Arc<AppState>>, Query(pairs): Pairs) -> Result<Response, ApiError> {
    let params = Params { pairs };
    let site = params.site(&state)?;
    who.require_site(&site.key)?;
    let queries = state.dashboard.queries.clone();
    let request = SessionsRequest {
        period: params.period(&site, queries.now_ms())?,
        filters: params.filters()?,
        page: params.number("page", 0)?,
        per_page: params.number("per_page", 50)?,
    };
    let result = queries.sessions(&site, &request).await?;
    reply(params.format()?, "sessions", result)
}

/// `GET /api/query/sessions/{id}`: one session's journey.
pub async fn journey_route(
    who: Authenticated,
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    Query(pairs): Pairs,
) -> Result<Response, ApiError> {
    let params = Params { pairs };
    let site = params.site(&state)?;
    who.require_site(&site.key)?;
    let name = format!("session-{}", id.chars().filter(char::is_ascii_alphanumeric).take(40).collect::<String>());
    let result = state.dashboard.queries.journey(&site, &id).await?;
    reply(params.format()?, &name, result)
}

/// `GET /api/query/consent?visitor=…`: the site's consent decisions in the
/// period, newest first, of one visitor when `visitor` is given.
pub async fn consent_route(_: Authenticated, State(state): State<Arc<AppState>>, Query(pairs): Pairs) -> Result<Response, ApiError> {
    let params = Params { pairs };
    let site = params.site(&state)?;
    let queries = state.dashboard.queries.clone();
    let request = ConsentLogRequest {
        period: params.period(&site, queries.now_ms())?,
        visitor_id: params.get("visitor").filter(|v| !v.is_empty()).map(str::to_owned),
        page: params.number("page", 0)?,
        per_page: params.number("per_page", 100)?,
    };
    let result = queries.consent_log(&site, &request).await?;
    reply(params.format()?, "consent", result)
}
