//! `GET /api/query/…`: the numbers, for the dashboard and for scripts.
//! Every route takes `site`, a period (`from`, `to`: local dates, both
//! included; default the last 7 days), filters (`filter.<dimension>=<value>`,
//! repeatable over dimensions), a saved segment (`segment=<id>`, see
//! `crate::query::segments`) and `format=json|csv`. Realtime takes only
//! `site`, `segment` (its members today) and `format`. Documented in
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

/// The query string, read once per request (the live stream's too), and
/// each route's question read from it: what a stranger's query string can
/// reach before a backend sees it (fuzzed in `collector/fuzz`).
pub struct Params {
    pub pairs: Vec<(String, String)>,
}

impl Params {
    /// The overview's question: the period, its interval, the filters.
    pub fn overview(&self, site: &Site, now_ms: i64) -> Result<OverviewRequest, ApiError> {
        let period = self.period(site, now_ms)?;
        Ok(OverviewRequest { interval: self.interval(&period)?, period, filters: self.filters()?, people: None })
    }

    /// A breakdown by `dimension`, at most `limit` rows.
    pub fn breakdown(&self, site: &Site, now_ms: i64) -> Result<BreakdownRequest, ApiError> {
        let dimension = self.get("dimension").ok_or_else(|| ApiError::BadRequest("`dimension` is required".into()))?;
        Ok(BreakdownRequest {
            period: self.period(site, now_ms)?,
            dimension: Dimension::parse(dimension)?,
            filters: self.filters()?,
            limit: self.number("limit", 10)?,
        })
    }

    /// One page of the session explorer.
    pub fn sessions(&self, site: &Site, now_ms: i64) -> Result<SessionsRequest, ApiError> {
        Ok(SessionsRequest {
            period: self.period(site, now_ms)?,
            filters: self.filters()?,
            page: self.number("page", 0)?,
            per_page: self.number("per_page", 50)?,
        })
    }

    /// One page of the consent log, of one visitor when `visitor` is given.
    pub fn consent_log(&self, site: &Site, now_ms: i64) -> Result<ConsentLogRequest, ApiError> {
        Ok(ConsentLogRequest {
            period: self.period(site, now_ms)?,
            visitor_id: self.get("visitor").filter(|v| !v.is_empty()).map(str::to_owned),
            page: self.number("page", 0)?,
            per_page: self.number("per_page", 100)?,
        })
    }

    pub(super) fn get(&self, key: &str) -> Option<&str> {
        self.pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    pub(super) fn site(&self, state: &AppState) -> Result<Site, ApiError> {
        let key = self.get("site").ok_or_else(|| ApiError::BadRequest("`site` is required".into()))?;
        Ok(state.dashboard.site(key)?.clone())
    }

    pub fn format(&self) -> Result<Format, ApiError> {
        Format::parse(self.get("format"))
    }

    pub(super) fn period(&self, site: &Site, now_ms: i64) -> Result<Period, ApiError> {
        match (self.get("from"), self.get("to")) {
            (Some(from), Some(to)) => Ok(Period::parse(from, to)?),
            (None, None) => Ok(Period::last_days(DEFAULT_DAYS, now_ms, &site.time_zone)),
            _ => Err(ApiError::BadRequest("give both `from` and `to`, or neither".into())),
        }
    }

    pub(super) fn filters(&self) -> Result<Vec<Filter>, ApiError> {
        self.pairs
            .iter()
            .filter_map(|(k, v)| Some((k.strip_prefix("filter.")?, v)))
            .map(|(dimension, value)| Ok(Filter::new(Dimension::parse(dimension)?, value)))
            .collect()
    }

    pub(super) fn number(&self, key: &str, default: usize) -> Result<usize, ApiError> {
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
    let result = state.dashboard.queries.realtime(&site, params.get("segment")).await?;
    reply(params.format()?, "realtime", result)
}

/// `GET /api/query/overview`
pub async fn overview_route(who: Authenticated, State(state): State<Arc<AppState>>, Query(pairs): Pairs) -> Result<Response, ApiError> {
    let params = Params { pairs };
    let site = params.site(&state)?;
    who.require_site(&site.key)?;
    let queries = state.dashboard.queries.clone();
    let mut request = params.overview(&site, queries.now_ms())?;
    queries.apply_segment(&site, params.get("segment"), &request.period, &mut request.filters).await?;
    let result = queries.overview(&site, &request).await?;
    reply(params.format()?, "overview", result)
}

/// `GET /api/query/breakdown?dimension=…`
pub async fn breakdown_route(who: Authenticated, State(state): State<Arc<AppState>>, Query(pairs): Pairs) -> Result<Response, ApiError> {
    let params = Params { pairs };
    let site = params.site(&state)?;
    who.require_site(&site.key)?;
    let queries = state.dashboard.queries.clone();
    let mut request = params.breakdown(&site, queries.now_ms())?;
    queries.apply_segment(&site, params.get("segment"), &request.period, &mut request.filters).await?;
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
    let mut request = params.sessions(&site, queries.now_ms())?;
    queries.apply_segment(&site, params.get("segment"), &request.period, &mut request.filters).await?;
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
    let request = params.consent_log(&site, queries.now_ms())?;
    let result = queries.consent_log(&site, &request).await?;
    reply(params.format()?, "consent", result)
}
