//! HTTP: the routes, and the one place where errors become status codes.

pub mod collect;
pub mod error;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};

use crate::config::Config;
use crate::store::Store;

pub struct AppState {
    pub config: Config,
    pub store: Arc<dyn Store>,
}

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/api/collect", post(collect::browser_batch))
        .route("/healthz", get(|| async { "ok" }))
        .with_state(state)
        .merge(crate::www::router())
}
