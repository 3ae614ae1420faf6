//! `POST /v1/{call}`: the Segment HTTP Tracking API (`batch`, `track`,
//! `page`, `screen`, `identify`, `alias`, `group`, and analytics.js's short
//! forms `b`, `t`, `p`, `s`, `i`, `a`, `g`), so Segment's and RudderStack's
//! clients send to Waymark by changing their host. The mapping onto
//! Waymark's events is the pipeline's ([`crate::ingest::segment`]); this
//! edge decodes, authorizes, calls the pipeline and answers.
//!
//! Who may send: the site whose `write_key` the request presents (the
//! HTTP Basic user name, else the body's `writeKey`; compared in
//! [`super::credentials`]). A request with `Origin` is a browser's: the
//! site's allowed origins apply ([`super::origin`]) and the request's own
//! address and user agent are the visitor's. One without is a server's:
//! the messages' `context.ip` and `context.userAgent` are. As on the other
//! ingest routes: rates per address (a server's only on failed attempts)
//! and per site; the answer is Waymark's per-event results, 200 when
//! anything was kept (see [`super::error`], where every status is decided).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::HeaderMap;
use axum::http::header::{CONTENT_ENCODING, CONTENT_TYPE, ORIGIN, USER_AGENT};

use super::AppState;
use super::collect::{client_ip, header, read_body};
use super::credentials::{basic_user, site_by_write_key};
use super::error::{ApiError, BatchAnswer};
use crate::ingest::decode::{check_content_type, decompress};
use crate::ingest::enrich::Sender;
use crate::ingest::segment::{self, Call};

pub async fn tracking_call(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(path): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<BatchAnswer, ApiError> {
    let call = Call::from_path(&path).ok_or(ApiError::UnknownCall(path))?;
    let ip = client_ip(&state.config, peer, &headers);
    let from_browser = headers.contains_key(ORIGIN);
    if from_browser {
        state.rate_limits.check_ip(ip)?;
    }
    check_content_type(header(&headers, CONTENT_TYPE.as_str()))?;
    let limit = call.max_body_bytes().min(state.config.limits.max_body_bytes);
    let raw = read_body(body, limit).await?;
    let bytes = decompress(header(&headers, CONTENT_ENCODING.as_str()), &raw, limit)?;
    let received = segment::decode(call, &bytes)?;
    let presented = basic_user(&headers).or_else(|| received.write_key.clone());
    let Some(site) = presented.as_deref().and_then(|key| site_by_write_key(&state.config, key)) else {
        // A server's failed attempts count against its address, as on
        // /api/server/collect; a browser's requests all do.
        if !from_browser {
            state.rate_limits.check_ip(ip)?;
        }
        return Err(ApiError::BadWriteKey);
    };
    if from_browser {
        super::origin::check_sender(&state.config, site, &headers)?;
    }
    state.rate_limits.check_site(&site.key)?;

    let (checked, stated): (Vec<_>, Vec<_>) = segment::check(&site.key, received, state.clock.now_ms(), from_browser).into_iter().unzip();
    let browser = Sender { ip: Some(ip), user_agent: Some(header(&headers, USER_AGENT.as_str()).unwrap_or("")) };
    let senders = stated.iter().map(|s| if from_browser { browser } else { Sender { ip: s.ip, user_agent: s.user_agent.as_deref() } });
    let checked = checked.into_iter().zip(senders).collect();
    Ok(BatchAnswer(state.pipeline.ingest(site, checked).await?))
}
