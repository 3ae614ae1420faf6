//! `POST /api/collect`: batches from browsers. Accepts `text/plain` (beacons
//! need no CORS preflight) and `application/json`, optionally gzipped.
//! Answers, per event, accepted, duplicate, filtered (bot) or rejected with
//! a reason, only after the commit: 200, or 400 when every event was
//! rejected (see [`super::error`], where every status is decided).
//!
//! The order of checks is the order of cost: rate per address, type, size,
//! decoding, site key, origin ([`super::origin`]), rate per site; then the
//! site's id cookie ([`crate::ingest::id_cookie`]), each event, and the
//! rest of the pipeline ([`crate::ingest::pipeline`]). The answer sets the
//! id cookie when the policy changes it.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::HeaderMap;
use axum::http::header::{CONTENT_ENCODING, CONTENT_TYPE, SET_COOKIE, USER_AGENT};
use axum::response::AppendHeaders;

use super::AppState;
use super::credentials::cookie;
use super::error::{ApiError, BatchAnswer};
use crate::config::Config;
use crate::ingest::decode::{check_content_type, decode, decompress};
use crate::ingest::enrich::Sender;
use crate::ingest::id_cookie::{self, IdCookie, cookie_name};
use crate::ingest::validate::check_batch;

pub async fn browser_batch(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Result<(AppendHeaders<Option<(axum::http::HeaderName, String)>>, BatchAnswer), ApiError> {
    let ip = client_ip(&state.config, peer, &headers);
    state.rate_limits.check_ip(ip)?;
    check_content_type(header(&headers, CONTENT_TYPE.as_str()))?;
    let raw = read_body(body, state.config.limits.max_body_bytes).await?;
    let bytes = decompress(header(&headers, CONTENT_ENCODING.as_str()), &raw, state.config.limits.max_body_bytes)?;
    let mut batch = decode(&bytes)?;
    let site = state.config.site(&batch.site).ok_or_else(|| ApiError::UnknownSite(batch.site.clone()))?;
    super::origin::check_sender(&state.config, site, &headers)?;
    state.rate_limits.check_site(&site.key)?;

    let sender = Sender { ip: Some(ip), user_agent: Some(header(&headers, USER_AGENT.as_str()).unwrap_or("")) };
    let (restored, set_cookie) = match &site.id_cookie {
        Some(config) => {
            let stored = cookie(&headers, &cookie_name(&site.key)).and_then(IdCookie::parse);
            let (restored, change) = id_cookie::apply(&mut batch.events, stored, site.session_timeout_ms());
            (restored, change.header(&site.key, config))
        }
        None => (None, None),
    };
    let checked = check_batch(batch, state.clock.now_ms());
    let mut answer = state.pipeline.ingest(site, checked.into_iter().map(|c| (c, sender)).collect()).await?;
    answer.ids = restored;
    Ok((AppendHeaders(set_cookie.map(|value| (SET_COOKIE, value))), BatchAnswer(answer)))
}

pub(super) fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The peer address, or behind a proxy the rightmost address in the
/// configured header (the one the proxy itself appended).
pub(super) fn client_ip(config: &Config, peer: SocketAddr, headers: &HeaderMap) -> IpAddr {
    config
        .client_ip_header
        .as_deref()
        .and_then(|name| header(headers, name))
        .and_then(|value| value.rsplit(',').find_map(|part| part.trim().parse().ok()))
        .unwrap_or(peer.ip())
}

/// The whole body, at most `limit` bytes; a body still arriving at the
/// server's body deadline (see `server::serve`) is [`ApiError::BodyTimeout`].
pub(super) async fn read_body(body: Body, limit: usize) -> Result<axum::body::Bytes, ApiError> {
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        let mut causes = std::iter::successors(std::error::Error::source(&e), |cause| cause.source());
        match causes.find(|c| c.is::<http_body_util::LengthLimitError>() || c.is::<tower_http::timeout::TimeoutError>()) {
            Some(c) if c.is::<http_body_util::LengthLimitError>() => ApiError::Decode(crate::ingest::decode::DecodeError::TooLarge { limit }),
            Some(_) => ApiError::BodyTimeout,
            None => ApiError::BodyUnreadable(e.to_string()),
        }
    })
}
