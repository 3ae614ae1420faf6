//! `POST /api/collect`: batches from browsers. Accepts `text/plain` (beacons
//! need no CORS preflight) and `application/json`, optionally gzipped.
//! Answers, per event, accepted, duplicate, filtered (bot) or rejected with
//! a reason, only after the commit.
//!
//! The order of checks is the order of cost: rate per address, type, size,
//! decoding, site key, origin, rate per site; then each event. The shared
//! tail — enrich, give visitors, store, report — is [`ingest`], used by the
//! server-to-server endpoint too.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::HeaderMap;
use axum::http::header::{CONTENT_ENCODING, CONTENT_TYPE, ORIGIN, USER_AGENT};
use waymark_protocol::{BatchResponse, EventResult, Outcome};

use super::AppState;
use super::error::ApiError;
use super::rate_limit::RateLimits;
use crate::clock::{day_label, day_of};
use crate::config::{Config, SiteConfig};
use crate::ingest::decode::{check_content_type, decode, decompress};
use crate::ingest::enrich::{Enricher, Sender};
use crate::ingest::validate::{Checked, check_batch};
use crate::ingest::visitor::cookieless_keys;
use crate::live::LiveMessage;
use crate::store::{Appended, BotHit, DaySalts, StoreError, StoredEvent};

/// The ingest path's own state.
pub struct Ingest {
    pub enricher: Enricher,
    pub rate_limits: RateLimits,
    salts: Mutex<Option<DaySalts>>,
}

impl Ingest {
    pub fn new(config: &Config) -> anyhow::Result<Ingest> {
        Ok(Ingest {
            enricher: Enricher::new(config.geoip_db.as_deref(), config.headless_browsers_are_bots)?,
            rate_limits: RateLimits::new(&config.limits),
            salts: Mutex::new(None),
        })
    }
}

pub async fn browser_batch(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<BatchResponse>, ApiError> {
    let result = browser_batch_inner(&state, peer, &headers, body).await;
    count_refusal(&state, &result);
    result.map(Json)
}

async fn browser_batch_inner(state: &AppState, peer: SocketAddr, headers: &HeaderMap, body: Body) -> Result<BatchResponse, ApiError> {
    let ip = client_ip(&state.config, peer, headers);
    state.ingest.rate_limits.check_ip(ip).map_err(ApiError::RateLimited)?;
    check_content_type(header(headers, CONTENT_TYPE.as_str()))?;
    let raw = read_body(body, state.config.limits.max_body_bytes).await?;
    let bytes = decompress(header(headers, CONTENT_ENCODING.as_str()), &raw, state.config.limits.max_body_bytes)?;
    let batch = decode(&bytes)?;
    let site = state.config.site(&batch.site).ok_or_else(|| ApiError::UnknownSite(batch.site.clone()))?;
    let origin = header(headers, ORIGIN.as_str());
    if !site.allows_origin(origin) {
        return Err(ApiError::OriginNotAllowed { site: site.key.clone(), origin: origin.unwrap_or("(none)").to_owned() });
    }
    state.ingest.rate_limits.check_site(&site.key).map_err(ApiError::RateLimited)?;

    let sender = Sender { ip: Some(ip), user_agent: Some(header(headers, USER_AGENT.as_str()).unwrap_or("")) };
    let checked = check_batch(batch, state.clock.now_ms());
    ingest(state, site, checked.into_iter().map(|c| (c, sender)).collect()).await
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

pub(super) async fn read_body(body: Body, limit: usize) -> Result<axum::body::Bytes, ApiError> {
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        let too_large = std::error::Error::source(&e).is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
        if too_large { ApiError::Decode(crate::ingest::decode::DecodeError::TooLarge { limit }) } else { ApiError::BodyUnreadable(e.to_string()) }
    })
}

pub(super) fn count_refusal<T>(state: &AppState, result: &Result<T, ApiError>) {
    if let Err(e) = result {
        state.metrics.requests_refused.with_label_values(&[e.status_and_code().1]).inc();
    }
}

/// Enriches the valid events, counts bots, gives cookieless events their
/// visitor key, stores the rest and reports on each event.
pub(super) async fn ingest(state: &AppState, site: &SiteConfig, checked: Vec<(Checked, Sender<'_>)>) -> Result<BatchResponse, ApiError> {
    let now = state.clock.now_ms();
    let mut results: Vec<EventResult> = Vec::with_capacity(checked.len());
    let mut rows: Vec<(usize, StoredEvent)> = Vec::new();
    let mut bots: Vec<BotHit> = Vec::new();
    let mut salts: Option<DaySalts> = None;
    // A browser's events share one user agent: classify it once.
    let mut last_agent: Option<(&str, std::sync::Arc<crate::ingest::agent::Client>)> = None;
    let mut attributions = crate::ingest::referrer::Attributions::default();
    for (index, (c, sender)) in checked.into_iter().enumerate() {
        let mut row = match c {
            Checked::Valid(row) => row,
            Checked::Invalid(result) => {
                let reason = result.reason.clone().unwrap_or_default();
                state.metrics.rejected.with_label_values(&[reason.as_str()]).inc();
                state.live.publish(LiveMessage::Rejected {
                    site: site.key.clone(),
                    index,
                    id: result.id.clone(),
                    reason,
                    message: result.message.clone().unwrap_or_default(),
                });
                results.push(result);
                continue;
            }
        };
        let result = |outcome, id: &str| EventResult { index, id: id.to_owned(), outcome, reason: None, message: None };
        let client = sender.user_agent.map(|ua| match &last_agent {
            Some((seen, client)) if *seen == ua => client.clone(),
            _ => {
                let client = state.ingest.enricher.classify(ua);
                last_agent = Some((ua, client.clone()));
                client
            }
        });
        if let Err(bot) = state.ingest.enricher.enrich(&mut row, &sender, client.as_deref(), &mut attributions) {
            results.push(result(Outcome::Filtered, &row.id));
            let day = day_label(day_of(now));
            match bots.iter_mut().find(|h| h.bot == bot && h.day == day) {
                Some(hit) => hit.hits += 1,
                None => bots.push(BotHit { site: site.key.clone(), day, bot, hits: 1 }),
            }
            continue;
        }
        if row.visitor_id.is_empty()
            && let (Some(ip), Some(user_agent)) = (sender.ip, sender.user_agent)
        {
            if salts.is_none() {
                salts = Some(state.ingest.salts(state, now).await?);
            }
            let salts = salts.as_ref().expect("fetched above");
            let (today, yesterday) = cookieless_keys(salts, &site.key, ip, user_agent, row.ts, site.session_timeout_ms());
            row.visitor_id = today;
            row.visitor_id_yesterday = yesterday;
        }
        results.push(result(Outcome::Accepted, &row.id));
        rows.push((index, row));
    }

    if !bots.is_empty() {
        state.metrics.bot_hits.inc_by(bots.iter().map(|h| h.hits as u64).sum());
        state.store.count_bots(bots).await?;
    }
    if !rows.is_empty() {
        let (positions, events): (Vec<usize>, Vec<StoredEvent>) = rows.into_iter().unzip();
        // The rows go to the writer; copies are kept only for live listeners.
        let published = if state.live.has_listeners() { events.clone() } else { Vec::new() };
        let appended = state.store.append(events).await?;
        let mut published = published.into_iter();
        for (index, appended) in positions.into_iter().zip(appended) {
            let event = published.next();
            // Every event of the batch pushed exactly one result, in order.
            let result = &mut results[index];
            match (appended, event) {
                (Appended::Duplicate, event) => {
                    result.outcome = Outcome::Duplicate;
                    state.metrics.duplicates.inc();
                    if let Some(event) = event {
                        state.live.publish(LiveMessage::Duplicate { site: event.site, id: event.id });
                    }
                }
                (Appended::Stored { .. }, None) => state.metrics.accepted.inc(),
                (Appended::Stored { session_id, visitor_id, session_started }, Some(mut event)) => {
                    state.metrics.accepted.inc();
                    event.session_id = session_id;
                    event.visitor_id = visitor_id;
                    event.visitor_id_yesterday = None;
                    if session_started {
                        state.live.publish(LiveMessage::SessionStarted {
                            site: event.site.clone(),
                            session_id: event.session_id.clone(),
                            visitor_id: event.visitor_id.clone(),
                            ts: event.ts,
                        });
                    }
                    state.live.publish(LiveMessage::Stored { event });
                }
            }
        }
    }
    let count = |o: Outcome| results.iter().filter(|r| r.outcome == o).count();
    Ok(BatchResponse {
        accepted: count(Outcome::Accepted),
        duplicates: count(Outcome::Duplicate),
        rejected: count(Outcome::Rejected),
        filtered: count(Outcome::Filtered),
        results,
        session: None,
    })
}

impl Ingest {
    /// Today's salts, from memory unless the day changed.
    async fn salts(&self, state: &AppState, now_ms: i64) -> Result<DaySalts, StoreError> {
        let day = day_of(now_ms);
        if let Some(cached) = self.salts.lock().expect("salt cache").as_ref().filter(|s| s.day == day) {
            return Ok(cached.clone());
        }
        let fresh = state.store.salts(day).await?;
        *self.salts.lock().expect("salt cache") = Some(fresh.clone());
        Ok(fresh)
    }
}
