//! HTTP: the routes and the state they share. Every status code is
//! decided in [`error`], and every refusal counted by its one layer.

pub mod admission;
pub mod analyses;
pub mod auth;
pub mod collect;
pub mod credentials;
pub mod dashboard;
pub mod definitions;
pub mod error;
pub mod ops;
pub mod origin;
pub mod rate_limit;
pub mod segment;
pub mod server_collect;
pub mod users;
pub mod export;
pub mod lifecycle;
pub mod live;
pub mod query;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, patch, post, put};

use crate::clock::Clock;
use crate::config::Config;
use crate::live::LiveFeed;
use crate::metrics::Metrics;
use crate::store::Store;

pub struct AppState {
    pub config: Config,
    pub store: Arc<dyn Store>,
    pub live: LiveFeed,
    /// The collector's time: event windows, salts, bot days.
    pub clock: Arc<dyn Clock>,
    pub metrics: Arc<Metrics>,
    /// Everything between a checked request and the store.
    pub pipeline: crate::ingest::pipeline::Pipeline,
    /// Per-address and per-site request rates, on [`AppState::clock`].
    pub rate_limits: rate_limit::RateLimits,
    /// Sign-in, the read-side queries and the live streams' end.
    pub dashboard: Arc<dashboard::Dashboard>,
    /// The retention job: each site's period, its dry run, its last run.
    pub retention: Arc<crate::lifecycle::retention::Retention>,
}

pub fn router(state: Arc<AppState>) -> Router {
    // Browsers on any tracked origin post batches and read the per-event
    // answer (the SDK retries on it); which origins may send is checked
    // per site in `collect`, not here.
    let cors = tower_http::cors::CorsLayer::new()
        .allow_origin(tower_http::cors::AllowOrigin::mirror_request())
        .allow_methods([axum::http::Method::POST])
        .allow_headers([axum::http::header::CONTENT_TYPE, axum::http::header::CONTENT_ENCODING])
        // The SDK sends cookies: a site's collector on its own subdomain
        // keeps the ids in a cookie of its own (`ingest::id_cookie`).
        .allow_credentials(true)
        // Pages on other origins must read `Retry-After` to back off as told.
        .expose_headers([axum::http::header::RETRY_AFTER]);
    // analytics.js sends its write key as `Authorization: Basic`, which
    // asks for a preflight; its retries say so in `X-Retry-Count`.
    let segment_cors = cors.clone().allow_headers([
        axum::http::header::CONTENT_TYPE,
        axum::http::header::CONTENT_ENCODING,
        axum::http::header::AUTHORIZATION,
        axum::http::HeaderName::from_static("x-retry-count"),
    ]);
    // At most `[limits] ingest_in_flight` ingest requests at once, the
    // others refused at once (inside CORS: a page reads the 503's `Retry-After`).
    let admission = admission::Admission::new(state.config.limits.ingest_in_flight, state.metrics.ingest_in_flight.clone());
    let admit = axum::middleware::from_fn(move |request: axum::extract::Request, next: axum::middleware::Next| admission.clone().admit(request, next));
    // The ingest handlers take the raw body and enforce the size limit
    // themselves, after decompression, with their own error.
    Router::new()
        .route("/api/collect", post(collect::browser_batch).layer::<_, std::convert::Infallible>(admit.clone()).layer(cors))
        .route("/api/server/collect", post(server_collect::server_batch).layer(admit.clone()))
        .route("/v1/{call}", post(segment::tracking_call).layer::<_, std::convert::Infallible>(admit).layer(segment_cors))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/api/auth/sign-in", post(auth::sign_in))
        .route("/api/auth/sign-out", post(auth::sign_out))
        .route("/api/auth/session", get(auth::session))
        .route("/api/users", get(users::list).post(users::add))
        .route("/api/users/{name}", patch(users::change).delete(users::remove))
        .route("/api/sites", get(dashboard::sites))
        .route("/api/query/realtime", get(query::realtime_route))
        .route("/api/query/overview", get(query::overview_route))
        .route("/api/query/breakdown", get(query::breakdown_route))
        .route("/api/query/sessions", get(query::sessions_route))
        .route("/api/query/sessions/{id}", get(query::journey_route))
        .route("/api/query/consent", get(query::consent_route))
        .route("/api/query/people", get(analyses::people_route))
        .route("/api/query/people/journey", get(analyses::journey_route))
        .route("/api/query/funnel", get(analyses::funnel_route))
        .route("/api/query/retention", get(analyses::retention_route))
        .route("/api/goals", get(definitions::list_goals).post(definitions::add_goal))
        .route("/api/goals/{id}", put(definitions::put_goal).delete(definitions::delete_goal))
        .route("/api/segments", get(definitions::list_segments).post(definitions::add_segment))
        .route("/api/segments/{id}", put(definitions::put_segment).delete(definitions::delete_segment))
        .route("/api/live", get(live::live_route))
        .route("/api/lifecycle/erase", post(lifecycle::erase_route))
        .route("/api/lifecycle/export", get(lifecycle::export_route))
        .route("/api/lifecycle/retention", get(lifecycle::retention_route))
        .route("/api/lifecycle/audit", get(lifecycle::audit_route))
        // Every route's refusals, counted once under their code.
        .layer(axum::middleware::map_response_with_state(state.clone(), error::count_refusals))
        .with_state(state)
        .merge(crate::www::router())
}
