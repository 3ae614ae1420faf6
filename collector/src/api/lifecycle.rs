//! `/api/lifecycle/…`: a person's erasure and export, a site's retention
//! policy and what its next run would delete, and the audit log. Signed-in
//! users and API tokens only ([`Authenticated`]), each for the sites given
//! to them; erasure is for admins ([`require_eraser`]). Documented in `www/openapi.yaml`.
//!
//! The handlers only read the request, check who asks and call
//! `crate::lifecycle` or the read seam; every refusal is an [`ApiError`].

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::auth::Authenticated;
use super::error::ApiError;
use super::export::{Format, reply};
use crate::lifecycle::erasure;
use crate::lifecycle::retention::{Preview, SiteRun};
use crate::query::person::{PersonEvents, PersonSessions};
use crate::store::lifecycle::{AuditRecord, Erased};

/// Who may erase: an admin whose sites include the site.
fn require_eraser(who: &Authenticated, site: &str) -> Result<(), ApiError> {
    who.require_admin("erase a person's data")?;
    who.require_site(site)
}

/// The requester as the audit log names them: the dashboard user's name or
/// the token's label (never its secret), and never the person's id.
fn requested_by(who: &Authenticated) -> String {
    who.principal().name.clone()
}

/// `{site, visitor | user | session | all}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EraseRequest {
    site: String,
    visitor: Option<String>,
    user: Option<String>,
    session: Option<String>,
    #[serde(default)]
    all: bool,
}

#[derive(Debug, Serialize)]
pub struct EraseAnswer {
    site: String,
    kind: &'static str,
    #[serde(flatten)]
    erased: Erased,
    rows_removed: u64,
}

/// `POST /api/lifecycle/erase`
pub async fn erase_route(
    who: Authenticated,
    State(state): State<Arc<AppState>>,
    body: Result<Json<EraseRequest>, JsonRejection>,
) -> Result<Json<EraseAnswer>, ApiError> {
    let Json(request) = body.map_err(|e| {
        ApiError::BadRequest(format!("send `{{\"site\": …, \"visitor\" | \"user\" | \"session\": …}}` or `\"all\": true` as JSON: {}", e.body_text()))
    })?;
    state.dashboard.site(&request.site)?;
    require_eraser(&who, &request.site)?;
    let selector = erasure::selector(request.visitor.as_deref(), request.user.as_deref(), request.session.as_deref(), request.all)
        .map_err(ApiError::BadSelector)?;
    let erased = erasure::erase(state.store.as_ref(), &request.site, &selector, &requested_by(&who), state.clock.now_ms()).await?;
    Ok(Json(EraseAnswer { site: request.site, kind: selector.kind().as_str(), erased, rows_removed: erased.rows() }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    site: String,
    visitor: Option<String>,
    user: Option<String>,
    session: Option<String>,
    format: Option<String>,
    /// For CSV: `events` (the default) or `sessions`.
    table: Option<String>,
}

/// `GET /api/lifecycle/export?site=&visitor=|user=|session=&format=json|csv[&table=events|sessions]`
pub async fn export_route(who: Authenticated, State(state): State<Arc<AppState>>, query: Result<Query<ExportQuery>, axum::extract::rejection::QueryRejection>) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let site = state.dashboard.site(&query.site)?.clone();
    who.require_site(&site.key)?;
    let selector = erasure::selector(query.visitor.as_deref(), query.user.as_deref(), query.session.as_deref(), false)
        .map_err(ApiError::BadSelector)?;
    let format = Format::parse(query.format.as_deref())?;
    let data = state.dashboard.queries.person(&site, &selector).await?;
    let name = format!("{}-{}", site.key, selector.kind().as_str());
    match (format, query.table.as_deref()) {
        (Format::Json, None) => Ok(Json(data).into_response()),
        (Format::Csv, None | Some("events")) => reply(Format::Csv, &format!("{name}-events"), PersonEvents(data)),
        (Format::Csv, Some("sessions")) => reply(Format::Csv, &format!("{name}-sessions"), PersonSessions(data)),
        (Format::Json, Some(_)) => Err(ApiError::BadRequest("`table` is for `format=csv`; JSON holds both".into())),
        (Format::Csv, Some(other)) => Err(ApiError::BadRequest(format!("`table` is events or sessions, got {other:?}"))),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteQuery {
    site: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct RetentionAnswer {
    #[serde(flatten)]
    would_delete: Preview,
    /// Events and sessions a run now would delete.
    rows: u64,
    /// This site's part of the last run since the collector started.
    last_run: Option<LastRun>,
}

#[derive(Debug, Serialize)]
pub struct LastRun {
    at_ms: i64,
    #[serde(flatten)]
    site: SiteRun,
}

/// `GET /api/lifecycle/retention?site=`: the site's period and what a run now would delete, per day.
pub async fn retention_route(who: Authenticated, State(state): State<Arc<AppState>>, Query(query): Query<SiteQuery>) -> Result<Json<RetentionAnswer>, ApiError> {
    let key = query.site.ok_or_else(|| ApiError::BadRequest("`site` is required".into()))?;
    state.dashboard.site(&key)?;
    who.require_site(&key)?;
    let preview = state.retention.preview(&key).await?.ok_or_else(|| ApiError::UnknownSite(key.clone()))?;
    let last_run = state.retention.last_run().and_then(|run| {
        let at_ms = run.at_ms;
        run.sites.into_iter().find(|s| s.site == key).map(|site| LastRun { at_ms, site })
    });
    Ok(Json(RetentionAnswer { rows: preview.rows(), would_delete: preview, last_run }))
}

/// `GET /api/lifecycle/audit[?site=]`: the audit log, oldest first.
pub async fn audit_route(who: Authenticated, State(state): State<Arc<AppState>>, Query(query): Query<SiteQuery>) -> Result<Json<Vec<AuditRecord>>, ApiError> {
    // Every site's log is for admins; one site's, for whoever may see it.
    match &query.site {
        Some(site) => {
            state.dashboard.site(site)?;
            who.require_site(site)?;
        }
        None => who.require_admin("read every site's audit log")?,
    }
    Ok(Json(state.store.audit(query.site.as_deref()).await?))
}
