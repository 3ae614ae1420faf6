//! `POST /api/server/collect`: batches from a site's own backend or offline
//! store, authenticated by the site's secret key
//! (`Authorization: Bearer <secret_key>`). Such a sender may state each
//! event's visitor address and user agent and send events up to
//! `MAX_BACKFILL_AGE_MS` old, so they join the same visitors and sessions as
//! the browser's events. Origin is not checked: this is not a browser. The
//! per-site rate applies; the per-address rate only to failed attempts.
//! The secret is read and compared by [`super::credentials`], as the
//! dashboard's tokens are; the statuses are decided in [`super::error`].

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::HeaderMap;
use axum::http::header::{CONTENT_ENCODING, CONTENT_TYPE};

use super::AppState;
use super::collect::{client_ip, header, read_body};
use super::credentials::{bearer, same_secret};
use super::error::{ApiError, BatchAnswer};
use crate::ingest::decode::{check_content_type, decode_server, decompress};
use crate::ingest::enrich::Sender;
use crate::ingest::validate::check_server_batch;

pub async fn server_batch(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Result<BatchAnswer, ApiError> {
    check_content_type(header(&headers, CONTENT_TYPE.as_str()))?;
    let raw = read_body(body, state.config.limits.max_body_bytes).await?;
    let bytes = decompress(header(&headers, CONTENT_ENCODING.as_str()), &raw, state.config.limits.max_body_bytes)?;
    let batch = decode_server(&bytes)?;
    let site = state.config.site(&batch.site).ok_or_else(|| ApiError::UnknownSite(batch.site.clone()))?;
    let authorized = matches!((bearer(&headers), &site.secret_key), (Some(presented), Some(secret)) if same_secret(presented, secret));
    if !authorized {
        // Only failed attempts count against the address: a backend sends
        // from one address at its site's rate, a guesser gets 429s.
        state.rate_limits.check_ip(client_ip(&state.config, peer, &headers))?;
        return Err(ApiError::BadSecret(site.key.clone()));
    }
    state.rate_limits.check_site(&site.key)?;

    let (checked, stated): (Vec<_>, Vec<_>) = check_server_batch(batch, state.clock.now_ms()).into_iter().unzip();
    let senders = stated.iter().map(|s| Sender { ip: s.ip, user_agent: s.user_agent.as_deref() });
    Ok(BatchAnswer(state.pipeline.ingest(site, checked.into_iter().zip(senders).collect()).await?))
}
