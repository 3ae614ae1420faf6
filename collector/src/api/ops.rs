//! Endpoints for whoever runs the collector: `/healthz` (the process
//! answers), `/readyz` (it can take writes: the writer's queue is not
//! full) and `/metrics` (Prometheus text format).

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;

use super::AppState;

pub async fn healthz() -> &'static str {
    "ok"
}

pub async fn readyz(State(state): State<Arc<AppState>>) -> (StatusCode, String) {
    let depth = state.store.queue_depth();
    let capacity = state.config.limits.write_queue;
    if depth * 10 >= capacity * 9 {
        (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {depth} of {capacity} write slots taken\n"))
    } else {
        (StatusCode::OK, format!("ready: {depth} of {capacity} write slots taken\n"))
    }
}

pub async fn metrics(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    state.metrics.queue_depth.set(state.store.queue_depth() as i64);
    ([(CONTENT_TYPE, "text/plain; version=0.0.4")], state.metrics.render())
}
