//! HTTP: the routes, and the one place where errors become status codes.

pub mod collect;
pub mod error;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};

use crate::config::Config;
use crate::live::LiveFeed;
use crate::store::Store;

pub struct AppState {
    pub config: Config,
    pub store: Arc<dyn Store>,
    pub live: LiveFeed,
}

pub fn router(state: Arc<AppState>) -> Router {
    // Browsers on any tracked origin post batches and read the per-event
    // answer (the SDK retries on it); which origins may send is checked
    // per site in `collect`, not here.
    let cors = tower_http::cors::CorsLayer::new()
        .allow_origin(tower_http::cors::AllowOrigin::mirror_request())
        .allow_methods([axum::http::Method::POST])
        .allow_headers([axum::http::header::CONTENT_TYPE, axum::http::header::CONTENT_ENCODING]);
    Router::new()
        .route("/api/collect", post(collect::browser_batch).layer(cors))
        .route("/healthz", get(|| async { "ok" }))
        .with_state(state)
        .merge(crate::www::router())
}
