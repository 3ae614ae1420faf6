//! The dashboard's side of the API: what it needs at hand (sign-in, the
//! read-side queries, the end of live streams at shutdown), the sites it may
//! show, and every refusal it makes, with its status code decided here only.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::json;
use tokio::sync::watch;

use super::AppState;
use super::auth::{Auth, Authenticated, AuthError};
use crate::config::Config;
use crate::query::{SharedClock, Queries, QueryError, Site};
use crate::store::read::Reads;

pub struct Dashboard {
    pub auth: Auth,
    pub queries: Arc<Queries>,
    sites: Vec<Site>,
    /// Flips to true at shutdown, which ends every live stream.
    stopping: watch::Sender<bool>,
}

impl Dashboard {
    /// Checks each site's time zone and sets up sign-in (see
    /// [`Auth::from_config`]); the queries go to `reads`.
    pub fn open(config: &Config, reads: Arc<dyn Reads>, clock: SharedClock) -> Result<Dashboard, DashboardError> {
        let sites = config.sites.iter().map(|s| Site::new(&s.key, &s.time_zone)).collect::<Result<Vec<_>, _>>()?;
        Ok(Dashboard {
            auth: Auth::from_config(&config.dashboard, clock.clone())?,
            queries: Arc::new(Queries::new(reads, clock)),
            sites,
            stopping: watch::channel(false).0,
        })
    }

    pub fn site(&self, key: &str) -> Result<&Site, DashboardError> {
        self.sites.iter().find(|s| s.key == key).ok_or_else(|| DashboardError::UnknownSite(key.to_owned()))
    }

    /// Ends the live streams, so a graceful shutdown does not wait on them.
    pub fn end_streams(&self) {
        self.stopping.send_replace(true);
    }

    pub fn stopping(&self) -> watch::Receiver<bool> {
        self.stopping.subscribe()
    }
}

#[derive(Debug, Serialize)]
pub struct SiteInfo {
    pub key: String,
    pub name: String,
    pub time_zone: String,
}

/// `GET /api/sites`: the sites the dashboard can show.
pub async fn sites(_: Authenticated, State(state): State<Arc<AppState>>) -> Json<Vec<SiteInfo>> {
    Json(
        state
            .config
            .sites
            .iter()
            .map(|s| SiteInfo { key: s.key.clone(), name: s.name.clone().unwrap_or_else(|| s.key.clone()), time_zone: s.time_zone.clone() })
            .collect(),
    )
}

#[derive(Debug, thiserror::Error)]
pub enum DashboardError {
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Query(#[from] QueryError),
    #[error("unknown site {0:?}")]
    UnknownSite(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("the export could not be written: {0}")]
    Export(String),
}

impl DashboardError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            DashboardError::Auth(AuthError::NotSignedIn) => (StatusCode::UNAUTHORIZED, "not_signed_in"),
            DashboardError::Auth(AuthError::WrongPassword) => (StatusCode::UNAUTHORIZED, "wrong_password"),
            DashboardError::Auth(AuthError::CrossSite) => (StatusCode::FORBIDDEN, "cross_site"),
            DashboardError::Auth(AuthError::Hash(_)) => (StatusCode::INTERNAL_SERVER_ERROR, "password_hash"),
            DashboardError::Query(QueryError::BadRequest(_)) | DashboardError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            DashboardError::Query(QueryError::TimeZone(_)) => (StatusCode::INTERNAL_SERVER_ERROR, "time_zone"),
            DashboardError::Query(QueryError::SessionNotFound(_)) => (StatusCode::NOT_FOUND, "session_not_found"),
            DashboardError::Query(QueryError::Database(_) | QueryError::Interrupted) => (StatusCode::SERVICE_UNAVAILABLE, "store_unavailable"),
            DashboardError::UnknownSite(_) => (StatusCode::NOT_FOUND, "unknown_site"),
            DashboardError::Export(_) => (StatusCode::INTERNAL_SERVER_ERROR, "export"),
        }
    }
}

impl IntoResponse for DashboardError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        if status.is_server_error() {
            tracing::error!(error = %self, "dashboard request failed");
        }
        (status, Json(json!({ "error": code, "message": self.to_string() }))).into_response()
    }
}
