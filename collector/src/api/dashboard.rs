//! The dashboard's side of the API: what it needs at hand (sign-in, the
//! read-side queries, the end of live streams at shutdown) and the sites it
//! may show. Its refusals are [`ApiError`]s, decided in [`super::error`]
//! with every other route's.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use tokio::sync::watch;

use super::AppState;
use super::auth::{Auth, Authenticated};
use super::error::ApiError;
use crate::config::Config;
use crate::live::members::LiveSegments;
use crate::query::queries::Queries;
use crate::query::{SharedClock, Site};
use crate::store::read::Reads;
use crate::store::accounts::Accounts;
use crate::store::definitions::Definitions;

pub struct Dashboard {
    pub auth: Auth,
    pub queries: Arc<Queries>,
    /// The segments live streams follow, and their members.
    pub live_segments: LiveSegments,
    sites: Vec<Site>,
    /// Flips to true at shutdown, which ends every live stream.
    stopping: watch::Sender<bool>,
}

impl Dashboard {
    /// Checks each site's time zone and sets up sign-in (see
    /// [`Auth::from_config`]); the queries go to `reads`.
    pub fn open(
        config: &Config,
        reads: Arc<dyn Reads>,
        accounts: Arc<dyn Accounts>,
        definitions: Arc<dyn Definitions>,
        clock: SharedClock,
    ) -> Result<Dashboard, ApiError> {
        let sites = config
            .sites
            .iter()
            .map(|s| Ok(Site::new(&s.key, &s.time_zone)?.with_session_max(s.session_rule().max_ms)))
            .collect::<Result<Vec<_>, ApiError>>()?;
        let queries = Arc::new(Queries::new(reads, definitions, clock.clone()));
        let refresh = std::time::Duration::from_secs(config.dashboard.live_segment_refresh_seconds.into());
        Ok(Dashboard {
            auth: Auth::from_config(config, accounts, clock)?,
            live_segments: LiveSegments::new(queries.clone(), refresh),
            queries,
            sites,
            stopping: watch::channel(false).0,
        })
    }

    pub fn site(&self, key: &str) -> Result<&Site, ApiError> {
        self.sites.iter().find(|s| s.key == key).ok_or_else(|| ApiError::UnknownSite(key.to_owned()))
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
    /// Days its data is kept; `null`: forever.
    pub retention_days: Option<u32>,
}

/// `GET /api/sites`: the sites the dashboard can show this user.
pub async fn sites(who: Authenticated, State(state): State<Arc<AppState>>) -> Json<Vec<SiteInfo>> {
    Json(
        state
            .config
            .sites
            .iter()
            .filter(|s| who.principal().may_see(&s.key))
            .map(|s| SiteInfo {
                key: s.key.clone(),
                name: s.name.clone().unwrap_or_else(|| s.key.clone()),
                time_zone: s.time_zone.clone(),
                retention_days: state.config.retention_days(&s.key),
            })
            .collect(),
    )
}
