//! `POST /api/server/collect`: batches from a site's own backend or offline
//! store, authenticated by the site's secret key
//! (`Authorization: Bearer <secret_key>`). Such a sender may state each
//! event's visitor address and user agent and send events up to
//! `MAX_BACKFILL_AGE_MS` old, so they join the same visitors and sessions as
//! the browser's events. Origin is not checked: this is not a browser. The
//! per-site rate applies; the per-address rate only to failed attempts.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::HeaderMap;
use axum::http::header::{AUTHORIZATION, CONTENT_ENCODING, CONTENT_TYPE};
use waymark_protocol::BatchResponse;

use super::AppState;
use super::collect::{client_ip, count_refusal, header, ingest, read_body};
use super::error::ApiError;
use crate::ingest::decode::{check_content_type, decode_server, decompress};
use crate::ingest::enrich::Sender;
use crate::ingest::validate::check_server_batch;

pub async fn server_batch(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<BatchResponse>, ApiError> {
    let result = server_batch_inner(&state, peer, &headers, body).await;
    count_refusal(&state, &result);
    result.map(Json)
}

async fn server_batch_inner(state: &AppState, peer: SocketAddr, headers: &HeaderMap, body: Body) -> Result<BatchResponse, ApiError> {
    check_content_type(header(headers, CONTENT_TYPE.as_str()))?;
    let raw = read_body(body, state.config.limits.max_body_bytes).await?;
    let bytes = decompress(header(headers, CONTENT_ENCODING.as_str()), &raw, state.config.limits.max_body_bytes)?;
    let batch = decode_server(&bytes)?;
    let site = state.config.site(&batch.site).ok_or_else(|| ApiError::UnknownSite(batch.site.clone()))?;
    let presented = header(headers, AUTHORIZATION.as_str()).and_then(|v| v.strip_prefix("Bearer ")).map(str::trim);
    let authorized = matches!((presented, &site.secret_key), (Some(p), Some(secret)) if constant_time_eq(p.as_bytes(), secret.as_bytes()));
    if !authorized {
        // Only failed attempts count against the address: a backend sends
        // from one address at its site's rate, a guesser gets 429s.
        state.rate_limits.check_ip(client_ip(&state.config, peer, headers)).map_err(ApiError::RateLimited)?;
        return Err(ApiError::BadSecret(site.key.clone()));
    }
    state.rate_limits.check_site(&site.key).map_err(ApiError::RateLimited)?;

    let (checked, stated): (Vec<_>, Vec<_>) = check_server_batch(batch, state.clock.now_ms()).into_iter().unzip();
    let senders = stated.iter().map(|s| Sender { ip: s.ip, user_agent: s.user_agent.as_deref() });
    ingest(state, site, checked.into_iter().zip(senders).collect()).await
}

/// Compares secrets without an early exit, so response timing does not
/// reveal how much of a guess was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
